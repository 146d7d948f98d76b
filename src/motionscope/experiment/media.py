"""Videos in a form browsers play: probe a clip, copy it when it plays as is, else transcode.

Browsers play H.264 in mp4 when it is 8-bit 4:2:0 in the Baseline, Main or High profile (what
``motionscope stimuli`` writes, except with ``qp=0``, which is lossless High 4:4:4 Predictive),
and VP8/VP9 in WebM everywhere (Chromium builds without proprietary codecs play no H.264 at
all). ``create`` keeps the stimuli's H.264 files byte for byte when they qualify and the
requested format is mp4, and transcodes everything else (GIFs, other codecs, lossless H.264,
or all clips with ``video_format="webm"``) with PyAV: libx264 (yuv420p, High profile, moov
first) or libvpx-vp9.
"""

from __future__ import annotations

import os
import shutil
from fractions import Fraction
from pathlib import Path

from ..errors import DataError
from ..fsutil import atomic_path

__all__ = ["probe", "browser_playable", "make_playable"]

_H264_PROFILES = {"baseline", "constrained baseline", "main", "high"}


def probe(path: str | os.PathLike) -> dict:
    """``{"container", "codec", "profile", "pix_fmt", "width", "height", "fps", "frames"}`` of
    the first video stream (DataError when the file cannot be read)."""
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise DataError(path, "no video stream")
            s = c.streams.video[0]
            cc = s.codec_context
            fps = s.average_rate or s.guessed_rate or Fraction(25)
            return {"container": c.format.name, "codec": cc.name, "profile": cc.profile,
                    "pix_fmt": cc.pix_fmt, "width": cc.width, "height": cc.height,
                    "fps": float(fps), "frames": s.frames}
    except av.error.FFmpegError as e:
        raise DataError(path, f"cannot read the video ({e})") from None


def browser_playable(info: dict, fmt: str = "mp4") -> bool:
    """Whether a clip of this :func:`probe` result plays in browsers as written."""
    if fmt == "webm":
        return "webm" in (info["container"] or "") and info["codec"] in ("vp8", "vp9")
    return ("mp4" in (info["container"] or "") and info["codec"] == "h264"
            and (info["profile"] or "").lower() in _H264_PROFILES and info["pix_fmt"] == "yuv420p")


def _transcode(src: Path, dst: Path, fmt: str) -> None:
    import av

    with av.open(str(src)) as inp:
        s = inp.streams.video[0]
        rate = Fraction(s.average_rate or s.guessed_rate or 25).limit_denominator(10000)
        frames = [f.to_ndarray(format="rgb24") for f in inp.decode(s)]
    if not frames:
        raise DataError(src, "no frame could be decoded")
    h, w = frames[0].shape[:2]
    h2, w2 = h // 2 * 2, w // 2 * 2  # 4:2:0 needs even sizes
    with atomic_path(dst) as tmp:
        opts = {"movflags": "+faststart"} if fmt == "mp4" else {}
        with av.open(str(tmp), "w", format="mp4" if fmt == "mp4" else "webm", options=opts) as out:
            if fmt == "mp4":
                st = out.add_stream("libx264", rate=rate)
                st.options = {"crf": "18", "preset": "medium", "profile": "high"}
            else:
                st = out.add_stream("libvpx-vp9", rate=rate)
                st.options = {"crf": "30", "b": "0", "deadline": "good", "row-mt": "1"}
            st.width, st.height, st.pix_fmt = w2, h2, "yuv420p"
            for i, arr in enumerate(frames):
                f = av.VideoFrame.from_ndarray(arr[:h2, :w2].copy(), format="rgb24")
                f.pts = i
                for pkt in st.encode(f):
                    out.mux(pkt)
            for pkt in st.encode():
                out.mux(pkt)


def make_playable(src: str | os.PathLike, dst_stem: str | os.PathLike, fmt: str = "mp4") -> tuple[Path, bool]:
    """Copy ``src`` to ``dst_stem`` + ``.mp4``/``.webm`` when browsers play it as written, else
    transcode it; returns ``(written path, transcoded)``."""
    src = Path(src)
    dst = Path(str(dst_stem) + (".mp4" if fmt == "mp4" else ".webm"))
    dst.parent.mkdir(parents=True, exist_ok=True)
    info = probe(src)
    if browser_playable(info, fmt):
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
        return dst, False
    _transcode(src, dst, fmt)
    return dst, True
