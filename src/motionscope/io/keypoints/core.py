"""The keypoint container, :class:`KeypointSet`, and what the format modules share: opening
JSON and HDF5 files (a bad file is a :class:`~motionscope.errors.DataError`), the image-id ->
frame axis, dense slots from tracked or untracked detections, flat ``[x, y, score]*V`` lists.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ...errors import DataError

_LAYOUT_BY_V = {17: "coco17", 26: "halpe26"}


@dataclass
class KeypointSet:
    """2D keypoints of M persons over T frames (see module docstring for conventions).

    ``image_size`` is ``(height, width)`` when known; ``frame_names`` (length T) the image
    names/ids of the source when it has them; ``joint_names`` (length V) and ``track_names``
    (length M) when the source names them.
    """

    keypoints: np.ndarray  # (M, T, V, 2) float32, NaN = missing
    scores: np.ndarray  # (M, T, V) float32, 0 = missing
    layout: str | None = None
    image_size: tuple[int, int] | None = None
    frame_names: list[str] | None = None
    joint_names: list[str] | None = None
    track_names: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.keypoints = np.asarray(self.keypoints, np.float32)
        self.scores = np.asarray(self.scores, np.float32)
        if self.keypoints.ndim != 4 or self.keypoints.shape[-1] != 2:
            raise ValueError(f"keypoints must be (M, T, V, 2), got {self.keypoints.shape}")
        if self.scores.shape != self.keypoints.shape[:3]:
            raise ValueError(f"scores must be {self.keypoints.shape[:3]}, got {self.scores.shape}")
        M, T, V = self.scores.shape
        for name, n in (("frame_names", T), ("joint_names", V), ("track_names", M)):
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, [str(x) for x in v])
                if len(v) != n:
                    raise ValueError(f"{name} has {len(v)} entries, expected {n}")
        # the convention: missing <=> NaN coordinates <=> score 0
        missing = ~np.isfinite(self.keypoints).all(-1)
        self.keypoints[missing] = np.nan
        self.scores[missing] = 0.0
        self.scores[~np.isfinite(self.scores)] = 0.0

    @property
    def num_persons(self) -> int:
        return self.keypoints.shape[0]

    @property
    def num_frames(self) -> int:
        return self.keypoints.shape[1]

    @property
    def num_joints(self) -> int:
        return self.keypoints.shape[2]

    def present(self) -> np.ndarray:
        """``(M, T)`` bool: the person has at least one keypoint in the frame."""
        return np.isfinite(self.keypoints[..., 0]).any(-1)


# ----------------------------------------------------------------------------- helpers
def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError(path, "keypoint file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(path, f"not valid JSON ({e})") from None


def _open_h5(path: Path, what: str = "an HDF5") -> h5py.File:
    """``h5py.File(path, "r")``; a missing or non-HDF5 file is a DataError."""
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise DataError(path, "keypoint file not found") from None
    except OSError as e:
        raise DataError(path, f"not {what} file ({e})") from None


def _h5_str(x) -> str:
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


_NUM_RE = re.compile(r"^(.*?)(\d+)(\.[A-Za-z0-9]+)?$")


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _frame_axis(names: list[str], first_number: int | None, num_frames: int | None
                ) -> tuple[dict[str, int], list[str]]:
    """Map image ids to frame indices. Numbered names (``12.jpg``, ``img_00012.png``) index by
    their number so frames without detections become empty frames; others by natural order."""
    uniq = list(dict.fromkeys(names))
    parsed = [_NUM_RE.match(n) for n in uniq]
    if uniq and all(parsed) and len({(m.group(1), m.group(3)) for m in parsed}) == 1:
        nums = [int(m.group(2)) for m in parsed]
        if len(set(nums)) == len(nums):
            bare = parsed[0].group(1) == ""
            start = first_number if first_number is not None else (
                0 if bare or min(nums) == 0 else 1)
            if min(nums) >= start:
                T = max(nums) - start + 1
                if num_frames is not None:
                    T = max(T, num_frames)
                m0 = parsed[0]
                width = len(m0.group(2)) if all(len(m.group(2)) == len(m0.group(2))
                                                for m in parsed) else 0
                fmt = f"{m0.group(1)}{{:0{width}d}}{m0.group(3) or ''}"
                frame_names = [fmt.format(start + t) for t in range(T)]
                for n, k in zip(uniq, nums):
                    frame_names[k - start] = n
                return {n: k - start for n, k in zip(uniq, nums)}, frame_names
    order = sorted(uniq, key=_natural_key)
    if num_frames is not None and num_frames > len(order):
        order = order + [""] * (num_frames - len(order))
    return {n: i for i, n in enumerate(order) if n}, order


def _assemble(entries: list[tuple[int, Any, float, np.ndarray, np.ndarray]], T: int, V: int,
              tracked: bool) -> tuple[np.ndarray, np.ndarray, list]:
    """entries: (frame, track_key or None, sort_score, xy (V,2), score (V,)) -> dense arrays."""
    if tracked:
        slots = list(dict.fromkeys(e[1] for e in entries))
        slot_of = {k: i for i, k in enumerate(slots)}
        M = len(slots)
    else:
        per_frame: dict[int, list] = {}
        for e in entries:
            per_frame.setdefault(e[0], []).append(e)
        M = max((len(v) for v in per_frame.values()), default=0)
        slots = list(range(M))
    kp = np.full((M, T, V, 2), np.nan, np.float32)
    sc = np.zeros((M, T, V), np.float32)
    if tracked:
        for t, key, _, xy, s in entries:
            kp[slot_of[key], t], sc[slot_of[key], t] = xy, s
    else:
        for t, group in per_frame.items():
            group = sorted(group, key=lambda e: -e[2])  # stable: ties keep file order
            for m, (_, _, _, xy, s) in enumerate(group):
                kp[m, t], sc[m, t] = xy, s
    return kp, sc, slots


def _xys(path: Path, flat, V: int | None, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        a = np.asarray(flat, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(path, f"{where}: keypoints must be a flat list of numbers") from None
    if a.size % 3 or (V is not None and a.size != 3 * V):
        raise DataError(path, f"{where}: {a.size} keypoint numbers, expected "
                              f"{'3*V' if V is None else 3 * V} ([x, y, score] per joint)")
    a = a.reshape(-1, 3)
    return a[:, :2], a[:, 2]


def _layout_for(V: int, layout: str | None) -> str | None:
    return layout if layout is not None else _LAYOUT_BY_V.get(V)


def _flat_triplets(xy: np.ndarray, s: np.ndarray) -> list[float]:
    out = np.concatenate([np.nan_to_num(xy, nan=0.0), s[:, None]], axis=1)
    return [round(float(v), 4) for v in out.reshape(-1)]


def _bbox(xy: np.ndarray) -> list[float] | None:
    ok = np.isfinite(xy).all(-1)
    if not ok.any():
        return None
    lo, hi = xy[ok].min(0), xy[ok].max(0)
    return [round(float(lo[0]), 2), round(float(lo[1]), 2), round(float(hi[0] - lo[0]), 2),
            round(float(hi[1] - lo[1]), 2)]


def _frame_name(kps: KeypointSet, t: int) -> str:
    return kps.frame_names[t] if kps.frame_names else f"{t}.jpg"


