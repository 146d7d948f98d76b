"""UTKinect-Action3D skeletons: the worked example of plugging a dataset in.

The release has one ``joints_sSS_eEE.txt`` per subject/episode (a continuous recording, each
line ``frame_id`` then 20 Kinect v1 joints x y z in metres) and one ``actionLabel.txt`` that
cuts each recording into 10 labelled segments by *frame id*::

    s01_e01
    walk: 252 390
    sitDown: 572 686
    ...

One label entry of the original is ``NaN NaN`` (no segment): it is skipped with a warning, which
leaves 199 segments. Frame ids repeat in a few places (two captures with one id); the first
occurrence is kept so frame ids increase strictly.

:func:`utkinect_to_skeleton_dataset` writes the generic skeleton dataset file with a
leave-subjects-out split (default: odd subjects 1, 3, 5, 7, 9 train, even subjects 2, 4, 6, 8,
10 test).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .paths import read_text, resolve_under
from .skeleton_dataset import write_skeleton_dataset

__all__ = ["UTK_CLASSES", "UTKSegment", "read_utkinect", "read_utkinect_joints",
           "utkinect_to_skeleton_dataset", "UTK_TEST_SUBJECTS"]

UTK_CLASSES = ("walk", "sitDown", "standUp", "pickUp", "carry", "throw", "push", "pull",
               "waveHands", "clapHands")
UTK_TEST_SUBJECTS = (2, 4, 6, 8, 10)
NUM_JOINTS = 20
_SEQ_RE = re.compile(r"^s(\d+)_e(\d+)$")


@dataclass
class UTKSegment:
    sequence: str  # "s01_e01"
    subject: int
    episode: int
    label: int  # index into UTK_CLASSES
    start: int  # first frame id (inclusive)
    end: int  # last frame id (inclusive)
    frame_ids: np.ndarray  # (T,) int64
    joints: np.ndarray  # (T, 20, 3) float32 metres

    @property
    def action(self) -> str:
        return UTK_CLASSES[self.label]

    @property
    def name(self) -> str:
        return f"{self.sequence}_{self.action}"


def read_utkinect_joints(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(frame_ids (T,), joints (T, 20, 3))`` of one recording; repeated ids keep the first."""
    path = Path(path)
    text = read_text(path, "joints file", encoding="ascii", missing="joints file not found")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    try:
        a = np.loadtxt(lines, dtype=np.float64, ndmin=2)
    except ValueError:
        for n, ln in enumerate(text.splitlines(), 1):
            toks = ln.split()
            if toks and len(toks) != 1 + 3 * NUM_JOINTS:
                raise DataError(path, f"line {n}: {len(toks)} numbers, expected "
                                      f"{1 + 3 * NUM_JOINTS} (frame id + 20 joints x 3)") from None
            for t in toks:
                try:
                    float(t)
                except ValueError:
                    raise DataError(path, f"line {n}: non-numeric value {t!r}") from None
        raise DataError(path, "malformed joints file") from None
    if a.shape[1] != 1 + 3 * NUM_JOINTS:
        raise DataError(path, f"line 1: {a.shape[1]} numbers, expected {1 + 3 * NUM_JOINTS} "
                              "(frame id + 20 joints x 3)")
    ids = a[:, 0].astype(np.int64)
    keep = np.ones(len(ids), bool)
    keep[1:] = ids[1:] > np.maximum.accumulate(ids)[:-1]  # drop repeated / backward ids
    return ids[keep], a[keep, 1:].reshape(-1, NUM_JOINTS, 3).astype(np.float32)


def _read_labels(path: Path) -> tuple[list[tuple[str, str, float, float, int]], int]:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise DataError(path, "label file not found") from None
    entries, seq, skipped = [], None, 0
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if _SEQ_RE.match(s):
            seq = s
            continue
        if ":" not in s or seq is None:
            raise DataError(path, f"line {n}: expected 'sXX_eYY' or 'action: start end', "
                                  f"got {s!r}")
        action, rng = s.split(":", 1)
        action = action.strip()
        if action not in UTK_CLASSES:
            raise DataError(path, f"line {n}: unknown action {action!r}")
        parts = rng.split()
        if len(parts) != 2:
            raise DataError(path, f"line {n}: expected two frame ids, got {rng.strip()!r}")
        try:
            start, end = float(parts[0]), float(parts[1])
        except ValueError:
            raise DataError(path, f"line {n}: frame ids must be numbers, got {parts}") from None
        if np.isnan(start) or np.isnan(end):
            skipped += 1
            continue
        entries.append((seq, action, start, end, n))
    return entries, skipped


def read_utkinect(root: str | os.PathLike, labels: str = "actionLabel.txt") -> list[UTKSegment]:
    """All labelled segments of the dataset folder (``labels`` may name the corrected
    ``actionLabel_modified.txt``). NaN label entries are skipped with one warning."""
    root = Path(root)
    entries, skipped = _read_labels(root / labels)
    if skipped:
        warnings.warn(f"{root / labels}: skipped {skipped} label "
                      f"{'entry' if skipped == 1 else 'entries'} with NaN frame ids", stacklevel=2)
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    out = []
    for seq, action, start, end, n in entries:
        if seq not in cache:
            # seq matched ``sXX_eYY``; the helper keeps the one rule for paths from files
            cache[seq] = read_utkinect_joints(resolve_under(root, f"joints_{seq}.txt",
                                                            source=root / labels, line=n))
        ids, joints = cache[seq]
        sel = (ids >= start) & (ids <= end)
        if not sel.any():
            raise DataError(root / labels, f"line {n}: no frames of {seq} between ids "
                                           f"{int(start)} and {int(end)}")
        m = _SEQ_RE.match(seq)
        out.append(UTKSegment(seq, int(m.group(1)), int(m.group(2)), UTK_CLASSES.index(action),
                              int(start), int(end), ids[sel], joints[sel]))
    return out


def utkinect_to_skeleton_dataset(root: str | os.PathLike, out: str | os.PathLike,
                                 test_subjects: Sequence[int] = UTK_TEST_SUBJECTS,
                                 labels: str = "actionLabel.txt") -> int:
    """Convert UTKinect-Action3D to a skeleton dataset ``.npz`` with ``train``/``test`` splits
    by subject; returns the number of segments written."""
    segs = read_utkinect(root, labels)
    test = {int(s) for s in test_subjects}
    samples = [{"keypoint": s.joints[None], "label": s.label, "name": s.name,
                "split": "test" if s.subject in test else "train"} for s in segs]
    write_skeleton_dataset(out, samples, UTK_CLASSES, "kinect20",
                           meta={"source": "UTKinect-Action3D", "labels": labels,
                                 "test_subjects": sorted(test), "units": "metres"})
    return len(samples)
