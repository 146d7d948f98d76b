"""PKU-MMD (phase 1 and 2) ingestion, as the official MAMP ``data/pku_v*/pku_gendata.py``.

Layout read under ``raw`` (both the official script's names and the download's are found)::

    skeleton/  (or PKU_Skeleton_Renew/)    <video>.txt: one frame a line, 150 numbers
                                            (2 bodies x 25 joints x xyz, camera metres)
    label/     (or Train_Label_PKU_final/)  <video>.txt: "label,start,end,confidence" lines
    cross-subject.txt, cross-view.txt       (phase 1; also cross_subject.txt, cross_view.txt)
    cross_subject_v2.txt, cross_view_v2.txt (phase 2)
    (split files may also sit in a Split/ subfolder)

Each label line is one sample ``seq[start:end]`` (end exclusive) with class ``label - 1``
(0..50). As in the official script, nothing is centred or translated (PKU keeps raw Kinect
camera coordinates), all-zero instances are skipped, and sequences are cut or zero-padded to
300 frames. The second line of a split file lists the training videos (``", "``-separated).

Output: ``PKUv{1,2}_{XSub,XView}.npz`` with ``x_train (N, 300, 150)`` float32 and one-hot
``y_train (N, 51)`` float64 (same for ``test``), plus ``names_*``/``classes`` keys,
``splits/*.txt`` and ``summary.json``. Videos are processed in sorted order (the official
script uses the unsorted ``os.listdir`` order).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..fsutil import atomic_write_text
from .common import (
    ArraySpec,
    SequenceStore,
    Summary,
    check_raw_dir,
    default_workers,
    one_hot,
    padded_blocks,
    run_pool,
    write_npz_streaming,
)

__all__ = ["prepare_pku", "read_pku_skeleton", "read_pku_labels", "read_pku_split",
           "PKU_NUM_CLASSES", "PKU_MAX_FRAMES", "PKU_BENCHMARK_FILES"]

PKU_NUM_CLASSES = 51
PKU_MAX_FRAMES = 300
MIN_FRAMES = 4
PKU_BENCHMARK_FILES = {
    1: {"xsub": "PKUv1_XSub.npz", "xview": "PKUv1_XView.npz"},
    2: {"xsub": "PKUv2_XSub.npz", "xview": "PKUv2_XView.npz"},
}
_SPLIT_FILES = {
    1: {"xsub": ("cross-subject.txt", "cross_subject.txt", "cross-subject_v1.txt",
                 "cross_subject_v1.txt"),
        "xview": ("cross-view.txt", "cross_view.txt", "cross-view_v1.txt", "cross_view_v1.txt")},
    2: {"xsub": ("cross_subject_v2.txt", "cross-subject_v2.txt", "cross-subject.txt",
                 "cross_subject.txt"),
        "xview": ("cross_view_v2.txt", "cross-view_v2.txt", "cross-view.txt", "cross_view.txt")},
}
_SKELETON_DIRS = ("skeleton", "Skeleton", "PKU_Skeleton_Renew", "skeletons")
_LABEL_DIRS = ("label", "Label", "Train_Label_PKU_final", "labels")


def _first_existing(base: Path, names, what: str, kind: str = "dir") -> Path:
    for sub in ("", "Split", "split"):
        for n in names:
            p = base / sub / n if sub else base / n
            if (p.is_dir() if kind == "dir" else p.is_file()):
                return p
    raise DataError(base, f"no {what} found (looked for {', '.join(names)})")


def read_pku_skeleton(path: str | os.PathLike) -> np.ndarray:
    """A PKU-MMD skeleton file as ``(frames, 150)`` float32; a clear error when malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read skeleton file ({e})") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DataError(path, "file ends early: no frame in the skeleton file")
    try:
        data = np.loadtxt(lines, dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        for n, ln in enumerate(lines, 1):
            toks = ln.split()
            if len(toks) != 150:
                raise DataError(path, f"frame {n}: {len(toks)} numbers, expected 150 "
                                      "(2 bodies x 25 joints x xyz)") from None
            for tok in toks:
                try:
                    float(tok)
                except ValueError:
                    raise DataError(path, f"frame {n}: non-numeric field {tok!r}") from None
        raise DataError(path, "malformed numbers") from None  # pragma: no cover
    if data.shape[1] != 150:
        raise DataError(path, f"frame 1: {data.shape[1]} numbers, expected 150 "
                              "(2 bodies x 25 joints x xyz)")
    if not np.isfinite(data).all():
        row = int(np.argwhere(~np.isfinite(data))[0][0])
        raise DataError(path, f"non-finite joint coordinate (NaN/inf) in frame {row + 1}")
    return data.astype(np.float32)


def read_pku_labels(path: str | os.PathLike) -> np.ndarray:
    """``(n, 4)`` int rows ``label, start, end, confidence`` of a PKU-MMD label file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read label file ({e})") from None
    rows = []
    for n, ln in enumerate(text.splitlines(), 1):
        if not ln.strip():
            continue
        toks = [t.strip() for t in ln.split(",")]
        if len(toks) < 3:
            raise DataError(path, f"line {n}: expected 'label,start,end,confidence', "
                                  f"got {ln.strip()!r}")
        try:
            vals = [int(float(t)) for t in toks[:4]]
        except ValueError:
            raise DataError(path, f"line {n}: non-numeric field in {ln.strip()!r}") from None
        label = vals[0]
        if not 1 <= label <= PKU_NUM_CLASSES:
            raise DataError(path, f"line {n}: label {label} outside 1..{PKU_NUM_CLASSES}")
        rows.append(vals + [0] * (4 - len(vals)))
    return np.array(rows, np.int64).reshape(-1, 4)


def read_pku_split(path: str | os.PathLike) -> set[str]:
    """Training video names: the second line of an official split file, comma-separated."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read split file ({e})") from None
    if len(lines) < 2:
        raise DataError(path, "split file has no second line (the training video list)")
    names = {t.strip() for t in lines[1].split(",") if t.strip()}
    if not names:
        raise DataError(path, "the second line lists no training video")
    return names


def _process_video(job: tuple[str, str, str]) -> dict:
    """Worker: every labelled instance of one video; never raises for bad input."""
    video, skel_path, label_path = job
    res: dict = {"video": video, "path": skel_path, "instances": [], "skipped": [],
                 "stats": {}}
    try:
        seq = read_pku_skeleton(skel_path)
        labels = read_pku_labels(label_path)
    except DataError as e:
        res["error"] = str(e)
        return res
    except Exception as e:  # noqa: BLE001
        res["error"] = f"{skel_path}: {type(e).__name__}: {e}"
        return res
    for idx, (label, start, end, _conf) in enumerate(labels):
        name = f"{video}_{idx}"
        data = seq[start:end]
        if len(data) == 0:
            res["skipped"].append((name, "empty_interval",
                                   f"frames {start}..{end} lie outside the {len(seq)} frames"))
            continue
        if data.sum() == 0:  # official rule (sum, not all-zero), kept as is
            res["skipped"].append((name, "all_zero", "every joint coordinate is 0"))
            continue
        if len(data) < MIN_FRAMES:
            res["skipped"].append((name, "too_short", f"{len(data)} frames, fewer than one "
                                                      f"{MIN_FRAMES}-frame segment"))
            continue
        if len(data) > PKU_MAX_FRAMES:
            res["stats"]["instances_cut_to_300"] = res["stats"].get("instances_cut_to_300", 0) + 1
        res["instances"].append((name, int(label) - 1, data[:PKU_MAX_FRAMES]))
    return res


def prepare_pku(raw: str | os.PathLike, out: str | os.PathLike, *, version: int = 1,
                workers: int | None = None, progress: bool = True) -> dict:
    """Ingest PKU-MMD phase ``version`` (1 or 2) from ``raw`` into ``out``; the summary."""
    if version not in (1, 2):
        raise DataError(None, f"PKU-MMD version must be 1 or 2, got {version!r}")
    raw = check_raw_dir(raw)
    out = Path(out)
    workers = default_workers() if workers is None else max(1, int(workers))
    dataset = f"pkuv{version}"
    skel_dir = _first_existing(raw, _SKELETON_DIRS, "skeleton folder")
    label_dir = _first_existing(raw, _LABEL_DIRS, "label folder")
    train_sets = {b: read_pku_split(_first_existing(raw, names, f"{b} split file", "file"))
                  for b, names in _SPLIT_FILES[version].items()}
    summary = Summary(dataset, raw, out)
    files = sorted(skel_dir.glob("*.txt"))
    summary.data["files_found"] = len(files)
    jobs = []
    for p in files:
        lab = label_dir / p.name
        if not lab.is_file():
            summary.fail(str(p), f"{lab}: cannot read label file (no label file for this video)")
            continue
        jobs.append((p.stem, str(p), str(lab)))
    summary.data["files_processed"] = len(jobs)
    if not jobs:
        raise DataError(skel_dir, "no PKU-MMD skeleton file with a label file to process")

    out.mkdir(parents=True, exist_ok=True)
    labels: dict[str, int] = {}
    video_of: dict[str, str] = {}
    with SequenceStore(out / f".{dataset}-sequences.tmp") as store:
        for res in run_pool(_process_video, jobs, workers, f"prepare {dataset}", progress):
            summary.stats.update(res["stats"])
            if "error" in res:
                summary.fail(res["path"], res["error"])
                continue
            for name, reason, detail in res["skipped"]:
                summary.drop(name, reason, detail)
            for name, label, data in res["instances"]:
                store.add(name, data)
                labels[name] = label
                video_of[name] = res["video"]
        names = sorted(labels, key=lambda n: (video_of[n], int(n.rsplit("_", 1)[1])))
        summary.data["samples_kept"] = len(names)
        if not names:
            raise DataError(raw, "no PKU-MMD instance could be read; see the errors: "
                                 + "; ".join(f["error"] for f in summary.failures[:3]))
        classes = np.array([f"A{k:02d}" for k in range(1, PKU_NUM_CLASSES + 1)])
        written = {}
        for bench, fname in PKU_BENCHMARK_FILES[version].items():
            training = train_sets[bench]
            train = [n for n in names if video_of[n] in training]
            test = [n for n in names if video_of[n] not in training]
            arrays: dict = {}
            for split, ns in (("train", train), ("test", test)):
                arrays[f"x_{split}"] = ArraySpec((len(ns), PKU_MAX_FRAMES, 150), np.float32,
                                                 padded_blocks(store, ns, PKU_MAX_FRAMES, 150))
                arrays[f"y_{split}"] = one_hot(np.array([labels[n] for n in ns]),
                                               PKU_NUM_CLASSES)
            arrays["names_train"] = np.array(train, dtype=str)
            arrays["names_test"] = np.array(test, dtype=str)
            arrays["classes"] = classes
            write_npz_streaming(out / fname, arrays)
            key = f"{dataset}_{bench}"
            for split, ns in (("train", train), ("test", test)):
                atomic_write_text(out / "splits" / f"{key}_{split}.txt",
                                  "".join(n + "\n" for n in ns))
            written[key] = {"file": fname, "train": len(train), "test": len(test)}
    result = summary.finish(benchmarks=written, max_frames=PKU_MAX_FRAMES,
                            num_classes=PKU_NUM_CLASSES, workers=workers)
    atomic_write_text(out / "summary.json", json.dumps(result, indent=1) + "\n")
    return result
