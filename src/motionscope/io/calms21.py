"""CalMS21 task-1 JSON (``calms21_task1_{train,test}.json``): per sequence its per-frame
behaviour annotations, keypoints and vocabulary, read without pandas or pickles.

Layout: ``{"annotator-id_0": {"<sequence id>": {"keypoints": (T, 2, 2, 7), "scores": (T, 2, 7),
"annotations": (T,), "metadata": {"vocab": {"attack": 0, ...}}}}}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["read_calms21"]


def read_calms21(path: str | os.PathLike, annotator: str = "annotator-id_0") -> dict:
    """``{"vocab": {name: id}, "sequences": {id: {"annotations": (T,), "keypoints": ...}}}``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "CalMS21 file not found") from None
    except (OSError, ValueError) as e:
        raise DataError(path, f"not a CalMS21 JSON file ({e})") from None
    if not isinstance(data, dict) or annotator not in data:
        have = list(data) if isinstance(data, dict) else type(data).__name__
        raise DataError(path, f"no {annotator!r} group (has {have})")
    seqs, vocab = {}, None
    for sid, s in data[annotator].items():
        if "annotations" not in s:
            raise DataError(path, f"sequence {sid!r} has no 'annotations'")
        ann = np.asarray(s["annotations"], np.int64)
        kp = np.asarray(s.get("keypoints", []), np.float32)
        if kp.size and len(kp) != len(ann):
            raise DataError(path, f"sequence {sid!r}: {len(kp)} keypoint frames but {len(ann)} "
                                  "annotations")
        seqs[sid] = {"annotations": ann, "keypoints": kp}
        vocab = vocab or (s.get("metadata") or {}).get("vocab")
    if vocab is None:
        n = max((int(v["annotations"].max()) for v in seqs.values() if len(v["annotations"])),
                default=-1) + 1
        vocab = {str(i): i for i in range(n)}
    return {"vocab": {str(k): int(v) for k, v in vocab.items()}, "sequences": seqs}
