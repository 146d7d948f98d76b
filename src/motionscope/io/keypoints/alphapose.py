"""AlphaPose results JSON (``alphapose-results.json``, the default ``coco`` output format)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ...errors import DataError
from ...fsutil import atomic_write_text
from .core import (
    KeypointSet,
    _assemble,
    _bbox,
    _flat_triplets,
    _frame_axis,
    _frame_name,
    _layout_for,
    _load_json,
    _xys,
)


def read_alphapose_json(path: str | os.PathLike, layout: str | None = None,
                        first_number: int | None = None,
                        num_frames: int | None = None) -> KeypointSet:
    """AlphaPose results: a list of ``{image_id, category_id, keypoints [x, y, s]*V, score,
    box, idx}``; a joint written as ``0, 0, 0`` is missing.

    With ``idx`` (pose tracking) each track id is a person slot; without it the detections of
    a frame fill slots by descending ``score``. Numbered image ids index frames by number
    (``"12.jpg"`` from AlphaPose's video mode is frame 12, 0-based; ``img_00012.jpg`` is frame
    11 unless ``first_number`` says otherwise), so frames without detections stay empty.
    """
    path = Path(path)
    data = _load_json(path)
    if isinstance(data, dict) and "annotations" not in data and all(
            isinstance(v, dict) for v in data.values()):
        raise DataError(path, "this is AlphaPose's 'cmu' format; export with the default "
                              "(coco) format")
    if not isinstance(data, list):
        raise DataError(path, "AlphaPose JSON must be a list of detections")
    V = None
    raw = []
    tracked = bool(data) and all(isinstance(d, dict) and "idx" in d for d in data)
    for n, d in enumerate(data):
        where = f"detection {n}"
        if not isinstance(d, dict) or "image_id" not in d or "keypoints" not in d:
            raise DataError(path, f"{where}: needs 'image_id' and 'keypoints'")
        xy, s = _xys(path, d["keypoints"], V, where)
        V = len(s)
        xy[(xy == 0).all(-1) & (s == 0)] = np.nan  # (0, 0, 0) is how a missing joint is written
        key = None
        if tracked:
            idx = d["idx"]
            while isinstance(idx, list) and idx:
                idx = idx[0]
            key = idx if not isinstance(idx, float) else int(idx)
        raw.append((str(d["image_id"]), key, float(d.get("score", s.mean())), xy, s))
    frame_of, frame_names = _frame_axis([r[0] for r in raw], first_number, num_frames)
    T = len(frame_names)
    entries = [(frame_of[r[0]], r[1], r[2], r[3], r[4]) for r in raw]
    kp, sc, slots = _assemble(entries, T, V or 0, tracked)
    return KeypointSet(kp, sc, _layout_for(V or 0, layout), None, frame_names, None,
                       [str(s) for s in slots] if tracked else None)


def write_alphapose_json(path: str | os.PathLike, kps: KeypointSet, tracked: bool = True) -> None:
    """Write AlphaPose-style results (one entry per present person per frame; missing joints
    are written as ``0, 0, 0``). ``tracked`` writes each slot's index as ``idx``."""
    out = []
    present = kps.present()
    for t in range(kps.num_frames):
        name = _frame_name(kps, t)
        for m in np.flatnonzero(present[:, t]):
            xy, s = kps.keypoints[m, t], kps.scores[m, t]
            d = {"image_id": name, "category_id": 1, "keypoints": _flat_triplets(xy, s),
                 "score": round(float(s.mean()), 4), "box": _bbox(xy)}
            if tracked:
                d["idx"] = int(m)
            out.append(d)
    atomic_write_text(path, json.dumps(out))

