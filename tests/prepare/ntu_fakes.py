"""Generated NTU RGB+D ``.skeleton`` files for the ingestion tests (written by io.ntu)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motionscope.io.ntu import write_skeleton

# a standing NTU-25 skeleton (metres, y up): x spread 0.6 m, y spread 1.6 m
TEMPLATE = np.array([
    [0, 0, 0], [0, .3, 0], [0, .55, 0], [0, .7, 0],
    [-.18, .5, 0], [-.25, .25, 0], [-.28, .02, 0], [-.29, -.05, 0],
    [.18, .5, 0], [.25, .25, 0], [.28, .02, 0], [.29, -.05, 0],
    [-.1, -.02, 0], [-.1, -.45, 0], [-.1, -.85, 0], [-.1, -.9, .1],
    [.1, -.02, 0], [.1, -.45, 0], [.1, -.85, 0], [.1, -.9, .1],
    [0, .5, 0], [-.3, -.12, 0], [-.27, -.08, .03], [.3, -.12, 0], [.27, -.08, .03],
], np.float64)


def body(frames: int, x: float = 0.0, z: float = 3.0, drift: float = 0.0, wave: float = 0.05,
         seed: int = 0, lying: np.ndarray | None = None) -> np.ndarray:
    """``(frames, 25, 3)`` joints: the template at (x, ., z), drifting ``drift`` m along x over
    the clip, arms waving; frames where ``lying`` is True are rotated 90 degrees (wide)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None]
    j = np.broadcast_to(TEMPLATE, (frames, 25, 3)).copy()
    j[:, 4:12, 1] += wave * np.sin(t[:, :, 0] / 3.0 + rng.uniform(0, 6))
    j += rng.normal(0, 0.003, j.shape)
    if lying is not None:
        lay = j[lying].copy()
        j[lying] = np.stack([lay[..., 1], lay[..., 0] * 0.3, lay[..., 2]], -1)  # x <- height
    j[..., 0] += x + drift * t[..., 0] / max(frames - 1, 1)
    j[..., 2] += z
    return j


def write(path: str | Path, bodies: list[tuple[np.ndarray, np.ndarray]], frames: int,
          empty: np.ndarray | None = None, ids: list[str] | None = None) -> Path:
    """Write bodies ``(joints (frames, 25, 3), present (frames,) bool)``; NaN = absent."""
    M = len(bodies)
    j = np.full((M, frames, 25, 3), np.nan)
    for m, (jj, present) in enumerate(bodies):
        j[m, present] = jj[present]
    if empty is not None:
        j[:, empty] = np.nan
    z = np.zeros((M, frames, 25, 2))
    write_skeleton(path, j, z, z, body_ids=ids)
    return Path(path)


def present(frames: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    p = np.zeros(frames, bool)
    p[start:frames if stop is None else stop] = True
    return p


def make_dataset(root: Path, names: list[str], frames: int = 40, two: tuple[str, ...] = ()) -> None:
    """One file per name (one body; two bodies for names in ``two``), distinct per name."""
    root.mkdir(parents=True, exist_ok=True)
    for k, n in enumerate(names):
        bs = [(body(frames, seed=k, drift=0.3), present(frames))]
        if n in two:
            bs.append((body(frames, x=1.0, seed=k + 1000), present(frames)))
        write(root / f"{n}.skeleton", bs, frames)
