"""Presentation times of a video's frames, for frame gaps given in seconds.

A constant-frame-rate video has frame ``i`` at ``i / fps``; a variable-frame-rate one (phone
recordings, screen captures, webcams that drop frames) does not, so "the frame 0.2 s later" is
found from the packet timestamps instead of from a nominal rate. One demux pass, no decoding.
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from ..errors import DataError

__all__ = ["frame_times", "is_variable_rate", "partner_after"]


def frame_times(path: str | os.PathLike) -> np.ndarray:
    """Seconds of every frame in presentation order (``(N,)`` float64, first frame at 0)."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "video file not found")
    try:
        with av.open(str(path), "r") as c:
            if not c.streams.video:
                raise DataError(path, "file has no video stream")
            s = c.streams.video[0]
            tb = float(s.time_base) if s.time_base else 0.0
            pts = [p.pts for p in c.demux(s) if p.size and p.pts is not None]
            rate = s.average_rate or s.guessed_rate or s.base_rate
    except (av.FFmpegError, OSError) as e:
        raise DataError(path, f"not a readable video ({e})") from None
    if not pts or tb <= 0 or len(set(pts)) != len(pts):  # no usable timestamps: nominal rate
        n = len(pts)
        fps = float(rate) if rate else 0.0
        if fps <= 0:
            raise DataError(path, "the video has neither timestamps nor a frame rate")
        return np.arange(n, dtype=np.float64) / fps
    t = np.sort(np.asarray(pts, np.float64)) * tb
    return t - t[0]


def is_variable_rate(times: np.ndarray, tolerance: float = 0.1) -> bool:
    """True when frame intervals differ from their median by more than ``tolerance`` (10 %)."""
    d = np.diff(np.asarray(times, np.float64))
    if d.size < 2:
        return False
    med = float(np.median(d))
    return bool(med > 0 and np.any(np.abs(d - med) > tolerance * med))


def partner_after(times: np.ndarray, seconds: float) -> np.ndarray:
    """For each frame, the index of the first frame at least ``seconds`` later (-1: none)."""
    t = np.asarray(times, np.float64)
    j = np.searchsorted(t, t + float(seconds) - 1e-9, side="left")
    return np.where(j < len(t), j, -1).astype(np.int64)
