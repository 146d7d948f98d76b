"""Fast, deterministic clip writers for stimuli: H.264 mp4 from grey or RGB frames, GIFs.

Stimulus clips are tiny and mostly black, so the cost is in the encoder set-up and the colour
conversion rather than in the compression. Frames are handed to the encoder already in
``yuv420p``: grey frames through a lookup table (BT.601 limited range, what decoders assume
for H.264 and what :func:`motionscope.io.video.read_video` converts back), RGB frames through
OpenCV's I420 conversion, both far cheaper than a per-frame swscale call. Options match
:func:`motionscope.io.video.write_video` (single thread, bit-exact flags, atomic rename), so the
same frames give the same bytes.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..fsutil import atomic_path

__all__ = ["gray_to_i420", "rgb_to_i420", "write_i420", "write_gray_mp4", "write_rgb_mp4",
           "write_gif", "Y_LUT"]

#: grey level -> BT.601 limited-range luma
Y_LUT = np.round(16 + 219 * np.arange(256) / 255.0).astype(np.uint8)


def gray_to_i420(gray: np.ndarray) -> np.ndarray:
    """``(T, H, W)`` uint8 grey -> ``(T, H*3/2, W)`` planar I420 (neutral chroma)."""
    T, H, W = gray.shape
    out = np.empty((T, H * 3 // 2, W), np.uint8)
    np.take(Y_LUT, gray, out=out[:, :H])
    out[:, H:] = 128
    return out


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 RGB -> ``(T, H*3/2, W)`` planar I420 (BT.601 limited range)."""
    import cv2

    return np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2YUV_I420)
                     for f in rgb])


def write_i420(path: str | os.PathLike, yuv: np.ndarray, fps: float, crf: int = 18,
               preset: str = "ultrafast") -> None:
    """Encode ``(T, H*3/2, W)`` I420 frames as H.264 in ``path`` (mp4/mkv by suffix)."""
    T, h3, W = yuv.shape
    H = h3 * 2 // 3
    if T < 1:
        raise ValueError("a clip needs at least one frame")
    if H % 2 or W % 2:
        raise ValueError(f"H.264 4:2:0 needs an even frame size, got {H}x{W}")
    rate = Fraction(float(fps)).limit_denominator(100000)
    with atomic_path(path) as tmp, av.open(str(tmp), "w",
                                           options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height = W, H
        stream.pix_fmt = "yuv420p"
        stream.thread_count = 1
        stream.codec_context.flags |= av.codec.context.Flags.bitexact
        stream.options = {"crf": str(int(crf)), "preset": preset, "threads": "1",
                          "x264-params": "sliced-threads=0:lookahead-threads=1"}
        for t in range(T):
            frame = av.VideoFrame.from_ndarray(yuv[t], format="yuv420p")
            frame.pts = t
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_gray_mp4(path, gray: np.ndarray, fps: float, **kw) -> None:
    """Grey ``(T, H, W)`` frames -> H.264 mp4."""
    write_i420(path, gray_to_i420(gray), fps, **kw)


def write_rgb_mp4(path, rgb: np.ndarray, fps: float, **kw) -> None:
    """RGB ``(T, H, W, 3)`` frames -> H.264 mp4."""
    write_i420(path, rgb_to_i420(rgb), fps, **kw)


def write_gif(path: str | os.PathLike, frames: np.ndarray, fps: float = 10.0) -> None:
    """``(T, H, W)`` grey or ``(T, H, W, 3)`` RGB frames -> looping GIF (previews)."""
    from PIL import Image

    frames = np.asarray(frames)
    if frames.ndim == 3:
        ims = [Image.fromarray(f, "L") for f in frames]
    else:
        ims = [Image.fromarray(f, "RGB").quantize(64, dither=Image.Dither.NONE) for f in frames]
    duration = max(20, int(round(1000.0 / max(fps, 1e-3))))
    path = Path(path)
    with atomic_path(path) as tmp:
        ims[0].save(tmp, format="GIF", save_all=True, append_images=ims[1:], loop=0,
                    duration=duration, optimize=False)
