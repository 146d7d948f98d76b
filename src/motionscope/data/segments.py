"""TSN segment sampling: which frames of a clip a training or evaluation sample reads.

The clip is cut into ``num_segments`` equal segments and ``length`` consecutive frames are read
from each. Training draws a random start inside each segment (:func:`train_segment_starts`),
evaluation takes the segment centres (:func:`eval_segment_starts`). Frame ids are 1-based as in
the official lists and the counter stops at the last frame (:func:`segment_frame_indices`).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["SHORT_VIDEO_FALLBACKS", "train_segment_starts", "eval_segment_starts",
           "segment_frame_indices"]

SHORT_VIDEO_FALLBACKS = ("pan", "mie")


def train_segment_starts(num_frames: int, num_segments: int, length: int = 4, rng=None,
                         fallback: str = "pan") -> np.ndarray:
    """1-based start frame of each segment's group, TSN random sampling (training).

    ``avg = (F - L + 1) // T``; segment k starts at ``k * avg + randint(avg) + 1``. When
    ``avg == 0`` but ``F > T`` the starts are T sorted draws of ``randint(F - L + 1)``
    (``fallback="pan"``) or ``randint(F - L + 4)`` clamped to F (``"mie"``, the released
    code); when ``F <= T`` every segment starts at frame 1. ``rng`` needs ``randint(n, size=)``
    (``np.random`` or a ``RandomState``; default the global numpy generator, which the engine
    seeds per worker).
    """
    if fallback not in SHORT_VIDEO_FALLBACKS:
        raise ConfigError(f"unknown short_video_fallback {fallback!r} "
                          f"(choose one of {', '.join(SHORT_VIDEO_FALLBACKS)})")
    rng = np.random if rng is None else rng
    f, t = int(num_frames), int(num_segments)
    avg = (f - length + 1) // t
    if avg > 0:
        offsets = np.arange(t) * avg + rng.randint(avg, size=t)
    elif f > t:
        high = f - length + (4 if fallback == "mie" else 1)
        offsets = np.sort(rng.randint(max(high, 1), size=t))
        offsets = np.minimum(offsets, f - 1)
    else:
        offsets = np.zeros(t, dtype=np.int64)
    return offsets.astype(np.int64) + 1


def eval_segment_starts(num_frames: int, num_segments: int, length: int = 4, clip: int = 0,
                        num_clips: int = 1) -> np.ndarray:
    """1-based start of each segment's group for evaluation: the segment centres.

    ``tick = (F - L + 1) / T``; segment k starts at ``int(tick * frac + tick * k) + 1`` with
    ``frac = 0.5`` for clip 0 (the official centre sampling, same float operations). Clip c of
    ``num_clips`` uses ``frac = (0.5 + c / num_clips) % 1``, i.e. clips evenly spaced inside the
    segments; 2 clips are the official ``--twice_sample`` (centres, then segment starts). When
    ``F <= T + L - 1`` every segment starts at frame 1 (official validation guard).
    """
    f, t = int(num_frames), int(num_segments)
    if f <= t + length - 1:
        return np.ones(t, dtype=np.int64)
    tick = (f - length + 1) / float(t)
    frac = (0.5 + clip / num_clips) % 1.0
    return np.array([int(tick * frac + tick * k) for k in range(t)], dtype=np.int64) + 1


def segment_frame_indices(starts: np.ndarray, length: int, num_frames: int) -> np.ndarray:
    """0-based frame indices ``(T * L,)``: ``length`` consecutive frames from each 1-based
    start, the counter stopping at the last frame (so a group past the end repeats it)."""
    s = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(length)[None, :]
    return (np.minimum(s, int(num_frames)) - 1).reshape(-1)
