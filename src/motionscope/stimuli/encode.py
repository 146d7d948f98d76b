"""Fast, deterministic clip writers for stimuli: H.264 mp4 from grey or RGB frames, GIFs.

Stimulus clips are tiny and mostly black, so opening an x264 encoder (~5 ms) costs as much as
compressing the whole clip. :class:`ClipEncoder` therefore keeps one encoder per process and
frame size and cuts its output into files: every clip starts with a forced IDR frame (a closed
GOP: nothing refers across clips) that repeats the stream headers, and the clip's packets are
muxed into their own mp4 by :mod:`motionscope.io.mp4` (which builds the ``avcC`` box from those
in-band headers; a libavformat muxer costs ~1.5 ms per file to open and close). A
constant quantiser (``qp``, no rate-control history), a discarded warm-up frame (x264 writes
its version SEI only once) and a fixed ``idr_pic_id`` parity make a clip's bytes depend on its
frames alone, not on what the process encoded before, so the output is the same for any number
of workers.

Frames are handed to the encoder in ``yuv420p``: grey frames through a lookup table (BT.601
limited range, what decoders assume for H.264 and what :func:`motionscope.io.video.read_video`
converts back), RGB frames through OpenCV's I420 conversion, both far cheaper than a per-frame
swscale call. Files are written atomically (temporary name, then rename).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..fsutil import atomic_path, atomic_write_bytes
from ..io.mp4 import h264_mp4_bytes

__all__ = ["gray_to_i420", "rgb_to_i420", "write_i420", "write_gray_mp4", "write_rgb_mp4",
           "write_gif", "ClipEncoder", "Y_LUT", "DEFAULT_QP"]

#: grey level -> BT.601 limited-range luma
Y_LUT = np.round(16 + 219 * np.arange(256) / 255.0).astype(np.uint8)
#: constant quantiser of the stimulus clips (about what crf 18 gives; 0 = lossless)
DEFAULT_QP = 18


def gray_to_i420(gray: np.ndarray) -> np.ndarray:
    """``(T, H, W)`` uint8 grey -> ``(T, H*3/2, W)`` planar I420 (neutral chroma)."""
    import cv2

    T, H, W = gray.shape
    out = np.empty((T, H * 3 // 2, W), np.uint8)
    for t in range(T):
        cv2.LUT(np.ascontiguousarray(gray[t]), Y_LUT, dst=out[t, :H])
    out[:, H:] = 128
    return out


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 RGB -> ``(T, H*3/2, W)`` planar I420 (BT.601 limited range)."""
    import cv2

    return np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2YUV_I420)
                     for f in rgb])


class ClipEncoder:
    """One libx264 encoder that writes many short clips of one frame size (see module doc)."""

    def __init__(self, width: int, height: int, qp: int = DEFAULT_QP,
                 preset: str = "ultrafast"):
        if width % 2 or height % 2:
            raise ValueError(f"H.264 4:2:0 needs an even frame size, got {height}x{width}")
        self.width, self.height = int(width), int(height)
        enc = av.CodecContext.create("libx264", "w")
        enc.width, enc.height, enc.pix_fmt = self.width, self.height, "yuv420p"
        enc.time_base, enc.framerate = Fraction(1, 30), Fraction(30)
        enc.thread_count = 1
        enc.flags |= av.codec.context.Flags.bitexact
        enc.options = {"qp": str(int(qp)), "preset": preset, "tune": "zerolatency",
                       "threads": "1",
                       "x264-params": "forced-idr=1:keyint=infinite:scenecut=0:repeat-headers=1"
                                      ":sliced-threads=0:lookahead-threads=1"}
        enc.open()
        self._enc = enc
        self._frame = av.VideoFrame(self.width, self.height, "yuv420p")
        # writable views of the frame's planes (rows may be padded to an aligned line size)
        self._planes = [np.frombuffer(memoryview(p), np.uint8).reshape(-1, p.line_size)
                        for p in self._frame.planes]
        self._luma = self._planes[0].reshape(-1)  # flat, rows of ``line_size`` bytes
        self._pts = 0
        self._idr = 0
        # offsets in ``_luma`` of the grey pixels now set; None: the planes hold something
        # else than a grey frame (an RGB frame, or nothing yet) and must be reset in full
        self._lit: np.ndarray | None = None
        self._fill_gray(np.zeros(0, np.int64), np.zeros(0, np.uint8))
        self._encode(key=True)  # the version SEI goes out with this discarded frame

    def _fill_i420(self, yuv: np.ndarray) -> None:
        H, W = self.height, self.width
        flat = yuv.reshape(-1)  # I420: Y (H*W), then U and V (H*W/4 each)
        n, c = H * W, H * W // 4
        self._planes[0][:H, :W] = flat[:n].reshape(H, W)
        self._planes[1][:H // 2, :W // 2] = flat[n:n + c].reshape(H // 2, W // 2)
        self._planes[2][:H // 2, :W // 2] = flat[n + c:].reshape(H // 2, W // 2)
        self._lit = None

    def _fill_gray(self, offset: np.ndarray, luma: np.ndarray) -> None:
        """A black frame with luma values ``luma`` at offsets ``offset`` of the luma plane.

        Only the pixels lit in the previous grey frame are blackened again: a point-light
        frame has a few dozen of them, the plane tens of thousands."""
        if self._lit is None:
            self._planes[0][:] = 16
            self._planes[1][:] = 128
            self._planes[2][:] = 128
        else:
            self._luma[self._lit] = 16
        self._luma[offset] = luma
        self._lit = offset

    def _encode(self, key: bool) -> list:
        f = self._frame
        f.pts = self._pts
        self._pts += 1
        f.pict_type = av.video.frame.PictureType.I if key else av.video.frame.PictureType.NONE
        self._idr += bool(key)
        return self._enc.encode(f)

    def _clip(self, fill, T: int) -> list:
        if T < 1:
            raise ValueError("a clip needs at least one frame")
        if self._idr % 2:  # x264 alternates idr_pic_id: start every clip on the same parity
            fill(0)
            self._encode(key=True)
        packets = []
        for t in range(T):
            fill(t)
            packets += [bytes(p) for p in self._encode(key=t == 0)]
        if len(packets) != T:
            raise RuntimeError(f"x264 returned {len(packets)} packets for {T} frames")
        return packets

    def _check(self, h: int, w: int) -> None:
        if (h, w) != (self.height, self.width):
            raise ValueError(f"this encoder writes {self.height}x{self.width} frames, got "
                             f"{h}x{w}")

    def write(self, path: str | os.PathLike, yuv: np.ndarray, fps: float) -> None:
        """Encode ``(T, H*3/2, W)`` I420 frames into the mp4 ``path`` at ``fps``."""
        T, h3, W = yuv.shape
        self._check(h3 * 2 // 3, W)
        self._mux(path, self._clip(lambda t: self._fill_i420(yuv[t]), T), fps)

    def write_sparse(self, path: str | os.PathLike, clip, fps: float) -> None:
        """Encode a grey :class:`~motionscope.stimuli.render.SparseClip` (lit pixels only)."""
        T, H, W = clip.shape
        self._check(H, W)
        row, col = np.divmod(clip.index % (H * W), W)
        offset = row * self._planes[0].shape[1] + col
        luma = Y_LUT[clip.value]
        b = clip.frame_bounds()
        self._mux(path, self._clip(lambda k: self._fill_gray(offset[b[k]:b[k + 1]],
                                                             luma[b[k]:b[k + 1]]), T), fps)

    def _mux(self, path, packets: list[bytes], fps: float) -> None:
        rate = Fraction(float(fps)).limit_denominator(100000)
        atomic_write_bytes(path, h264_mp4_bytes(packets, self.width, self.height, rate))


_ENCODERS: dict[tuple, ClipEncoder] = {}


def _encoder(width: int, height: int, qp: int, preset: str) -> ClipEncoder:
    key = (int(width), int(height), int(qp), preset)
    enc = _ENCODERS.get(key)
    if enc is None:
        if len(_ENCODERS) >= 8:
            _ENCODERS.clear()
        enc = _ENCODERS[key] = ClipEncoder(width, height, qp, preset)
    return enc


def write_i420(path: str | os.PathLike, yuv: np.ndarray, fps: float, qp: int = DEFAULT_QP,
               preset: str = "ultrafast") -> None:
    """Encode ``(T, H*3/2, W)`` I420 frames as H.264 mp4 (one cached encoder per size)."""
    T, h3, W = yuv.shape
    _encoder(W, h3 * 2 // 3, qp, preset).write(path, yuv, fps)


def write_gray_mp4(path, gray, fps: float, qp: int = DEFAULT_QP,
                   preset: str = "ultrafast") -> None:
    """Grey ``(T, H, W)`` frames, or a :class:`~motionscope.stimuli.render.SparseClip`, as
    H.264 mp4."""
    if isinstance(gray, np.ndarray):
        write_i420(path, gray_to_i420(gray), fps, qp, preset)
        return
    T, H, W = gray.shape
    _encoder(W, H, qp, preset).write_sparse(path, gray, fps)


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
