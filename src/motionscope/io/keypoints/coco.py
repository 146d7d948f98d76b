"""COCO keypoint JSON (``images``, ``annotations``, ``categories``; PoseTrack's ``track_id``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ...errors import DataError
from ...fsutil import atomic_write_text
from .core import KeypointSet, _assemble, _bbox, _frame_name, _layout_for, _load_json, _xys


def read_coco_json(path: str | os.PathLike, layout: str | None = None) -> KeypointSet:
    """COCO keypoint JSON (``images``, ``annotations``, ``categories``): frames in ``images``
    order; visibility ``v`` becomes the score (2 visible: 1.0, 1 occluded: 0.5, 0: missing)
    unless the annotation carries ``keypoint_scores``; ``track_id`` makes tracked slots."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list) \
            or not isinstance(data.get("images"), list):
        raise DataError(path, "COCO JSON needs 'images' and 'annotations' lists")
    try:
        image_ids = [im["id"] for im in data["images"]]
        names = [str(im.get("file_name", im["id"])) for im in data["images"]]
    except (KeyError, TypeError):
        raise DataError(path, "every COCO image needs an 'id'") from None
    frame_of = {i: t for t, i in enumerate(image_ids)}
    sizes = {(im.get("height"), im.get("width")) for im in data["images"]}
    size = sizes.pop() if len(sizes) == 1 else None
    size = size if size and None not in size else None
    cats = data.get("categories") or []
    joint_names = cats[0].get("keypoints") if cats and isinstance(cats[0], dict) else None
    V = len(joint_names) if joint_names else None
    anns = [a for a in data["annotations"] if isinstance(a, dict) and "keypoints" in a]
    tracked = bool(anns) and all("track_id" in a for a in anns)
    entries = []
    for n, a in enumerate(anns):
        where = f"annotation {n} (id {a.get('id', '?')})"
        if a.get("image_id") not in frame_of:
            raise DataError(path, f"{where}: image_id {a.get('image_id')!r} is not in 'images'")
        xy, v = _xys(path, a["keypoints"], V, where)
        V = len(v)
        xy = xy.copy()
        xy[v <= 0] = np.nan
        if "keypoint_scores" in a:
            s = np.asarray(a["keypoint_scores"], np.float64).reshape(-1)
            if s.shape != (V,):
                raise DataError(path, f"{where}: keypoint_scores has {s.size} values, "
                                      f"expected {V}")
        else:
            s = np.where(v >= 2, 1.0, np.where(v > 0, 0.5, 0.0))
        entries.append((frame_of[a["image_id"]], a.get("track_id"),
                        float(a.get("score", 0.0)), xy, s))
    if joint_names is not None and V is not None and len(joint_names) != V:
        joint_names = None
    kp, sc, slots = _assemble(entries, len(image_ids), V or 0, tracked)
    return KeypointSet(kp, sc, _layout_for(V or 0, layout), size, names, joint_names,
                       [str(s) for s in slots] if tracked else None)


def write_coco_json(path: str | os.PathLike, kps: KeypointSet, category: str = "person",
                    skeleton: list[tuple[int, int]] | None = None) -> None:
    """Write COCO keypoint JSON: one image per frame, one annotation per present person.

    ``v`` is 2 where the score is > 0.75, 1 where > 0, else 0 (and x = y = 0); the exact scores
    are kept in the (non-standard, ignored by COCO tools) ``keypoint_scores`` field, and
    ``track_id`` holds the person slot. ``skeleton`` is 0-based joint pairs.
    """
    H, W = kps.image_size or (None, None)
    images = [{"id": t, "file_name": _frame_name(kps, t), "height": H, "width": W}
              for t in range(kps.num_frames)]
    anns = []
    present = kps.present()
    for t in range(kps.num_frames):
        for m in np.flatnonzero(present[:, t]):
            xy, s = kps.keypoints[m, t], kps.scores[m, t]
            v = np.where(~np.isfinite(xy).all(-1) | (s <= 0), 0, np.where(s > 0.75, 2, 1))
            flat = np.concatenate([np.nan_to_num(xy, nan=0.0), v[:, None]], 1)
            box = _bbox(xy)
            anns.append({
                "id": len(anns) + 1, "image_id": t, "category_id": 1, "iscrowd": 0,
                "keypoints": [round(float(a), 4) if k % 3 < 2 else int(a)
                              for k, a in enumerate(flat.reshape(-1))],
                "num_keypoints": int((v > 0).sum()), "bbox": box,
                "area": round(box[2] * box[3], 2) if box else 0.0,
                "score": round(float(s.mean()), 4),
                "keypoint_scores": [round(float(a), 4) for a in s], "track_id": int(m)})
    names = kps.joint_names or [f"joint_{j}" for j in range(kps.num_joints)]
    cat = {"id": 1, "name": category, "supercategory": category, "keypoints": names,
           "skeleton": [[int(a) + 1, int(b) + 1] for a, b in (skeleton or [])]}
    atomic_write_text(path, json.dumps({"images": images, "annotations": anns,
                                        "categories": [cat]}))

