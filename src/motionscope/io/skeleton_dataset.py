"""A generic skeleton dataset file: plug any skeleton dataset in without writing code.

One ``.npz`` (numpy's zip of arrays, loaded with ``allow_pickle=False``) holds every sample's
sequence concatenated along time plus offsets, with labels, names, class names, a joint layout
and named splits. It plays the role of pyskl's annotation pickle without executing code on load.

Keys (N samples, K classes, V joints, C channels, M = most persons in any sample)::

    format        "motionscope-skeleton-dataset"     version  1
    keypoint      (sum T_i, M, V, C) float32  samples stacked along time, persons padded (zeros)
    score         (sum T_i, M, V) float32    optional per-joint confidence
    offsets       (N + 1,) int64   sample i is rows offsets[i]:offsets[i+1]
    num_persons   (N,) int64       persons of sample i (the rest of M is padding)
    label         (N,) int64       0-based class index (-1: unlabelled)
    name          (N,) str         sample names (unique)
    classes       (K,) str         class names
    layout        ()  str          joint layout name ("ntu25", "coco17", "kinect20", ...)
    split.<name>  (n,) int64       indices of the samples in split <name> (e.g. split.train)
    meta          ()  str          JSON object, free-form dataset metadata

pyskl pickles (``{"split": {...}, "annotations": [{"frame_dir", "label", "keypoint",
"keypoint_score", ...}]}``) are read too. Unpickling can run arbitrary code, so they are loaded
with an unpickler that only admits numpy arrays and plain Python containers; a pickle needing
anything else is refused unless ``trust_pickle=True`` is passed for a file you trust.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..fsutil import atomic_path

__all__ = ["SkeletonDataset", "write_skeleton_dataset", "read_skeleton_dataset",
           "read_pyskl_pickle"]

FORMAT = "motionscope-skeleton-dataset"
VERSION = 1
_SPLIT_RE = re.compile(r"^[A-Za-z0-9_\-]+$")


class SkeletonDataset:
    """Samples of a skeleton dataset; ``ds[i]`` -> ``{"keypoint" (M, T, V, C), "score"
    (M, T, V) or None, "label", "name"}``; ``ds.split("train")`` -> the subset."""

    def __init__(self, keypoint: np.ndarray, offsets: np.ndarray, num_persons: np.ndarray,
                 labels: np.ndarray, names: Sequence[str], classes: Sequence[str],
                 layout: str | None, splits: dict[str, np.ndarray],
                 score: np.ndarray | None = None, meta: dict | None = None,
                 indices: np.ndarray | None = None, path: str | None = None):
        self._kp = keypoint
        self._score = score
        self._off = offsets
        self._np = num_persons
        self.labels_all = labels
        self.names_all = list(names)
        self.classes = list(classes)
        self.layout = layout
        self.splits = splits
        self.meta = meta or {}
        self.path = path
        self._idx = np.arange(len(labels)) if indices is None else np.asarray(indices)

    # -- views
    @property
    def split_names(self) -> list[str]:
        return sorted(self.splits)

    def split(self, name: str) -> SkeletonDataset:
        if name not in self.splits:
            raise KeyError(f"no split {name!r}; this dataset has {self.split_names}")
        keep = np.intersect1d(self._idx, self.splits[name])
        return SkeletonDataset(self._kp, self._off, self._np, self.labels_all, self.names_all,
                               self.classes, self.layout, self.splits, self._score, self.meta,
                               keep, self.path)

    @property
    def labels(self) -> np.ndarray:
        return self.labels_all[self._idx]

    @property
    def names(self) -> list[str]:
        return [self.names_all[i] for i in self._idx]

    @property
    def num_frames(self) -> np.ndarray:
        return (self._off[1:] - self._off[:-1])[self._idx]

    def __len__(self) -> int:
        return len(self._idx)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} out of range ({len(self)} samples)")
        k = int(self._idx[i])
        a, b, m = int(self._off[k]), int(self._off[k + 1]), int(self._np[k])
        kp = np.ascontiguousarray(self._kp[a:b, :m].transpose(1, 0, 2, 3))
        sc = None if self._score is None else \
            np.ascontiguousarray(self._score[a:b, :m].transpose(1, 0, 2))
        return {"keypoint": kp, "score": sc, "label": int(self.labels_all[k]),
                "name": self.names_all[k]}

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return (f"SkeletonDataset({len(self)} samples, {len(self.classes)} classes, "
                f"layout={self.layout!r}, splits={self.split_names})")


def _pack(samples: list[dict[str, Any]], classes: Sequence[str], layout: str | None,
          splits: dict[str, Sequence[int | str]] | None, meta: dict | None) -> dict:
    """The file's arrays from samples (shared by the writer and the pyskl reader)."""
    if not samples:
        raise ValueError("no samples to write")
    names, labels, kps, scores = [], [], [], []
    V = C = None
    own_splits: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        kp = np.asarray(s["keypoint"], np.float32)
        if kp.ndim == 3:  # (T, V, C): one person
            kp = kp[None]
        if kp.ndim != 4:
            raise ValueError(f"sample {i}: keypoint must be (M, T, V, C), got {kp.shape}")
        if V is None:
            V, C = kp.shape[2:]
        if kp.shape[2:] != (V, C):
            raise ValueError(f"sample {i}: joints/channels {kp.shape[2:]} differ from {(V, C)}")
        sc = s.get("score")
        if sc is not None:
            sc = np.asarray(sc, np.float32).reshape(kp.shape[:3])
        if i and (sc is None) != (scores[0] is None):
            raise ValueError(f"sample {i}: either every sample has a score or none does")
        kps.append(kp)
        scores.append(sc)
        names.append(str(s.get("name", f"sample_{i:06d}")))
        lab = s.get("label")
        labels.append(-1 if lab is None else int(lab))
        if s.get("split") is not None:
            own_splits.setdefault(str(s["split"]), []).append(i)
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"sample names must be unique; {dup!r} repeats")
    bad = [lab for lab in labels if lab >= len(classes) or lab < -1]
    if bad:
        raise ValueError(f"label {bad[0]} is outside the {len(classes)} classes")
    M = max(k.shape[0] for k in kps)
    offsets = np.concatenate([[0], np.cumsum([k.shape[1] for k in kps])]).astype(np.int64)
    kp_all = np.zeros((int(offsets[-1]), M, V, C), np.float32)
    sc_all = None if scores[0] is None else np.zeros((int(offsets[-1]), M, V), np.float32)
    for i, k in enumerate(kps):
        kp_all[offsets[i]:offsets[i + 1], :k.shape[0]] = k.transpose(1, 0, 2, 3)
        if sc_all is not None:
            sc_all[offsets[i]:offsets[i + 1], :k.shape[0]] = scores[i].transpose(1, 0, 2)
    index_of = {n: i for i, n in enumerate(names)}
    arrays = {
        "format": np.array(FORMAT), "version": np.array(VERSION, np.int64),
        "keypoint": kp_all, "offsets": offsets,
        "num_persons": np.array([k.shape[0] for k in kps], np.int64),
        "label": np.array(labels, np.int64), "name": np.array(names, dtype=str),
        "classes": np.array([str(c) for c in classes], dtype=str),
        "layout": np.array("" if layout is None else str(layout)),
        "meta": np.array(json.dumps(meta or {})),
    }
    for name, members in {**own_splits, **(splits or {})}.items():
        if not _SPLIT_RE.match(name):
            raise ValueError(f"split name {name!r} must match {_SPLIT_RE.pattern}")
        idx = []
        for x in members:
            if isinstance(x, str):
                if x not in index_of:
                    raise ValueError(f"split {name!r}: unknown sample name {x!r}")
                idx.append(index_of[x])
            else:
                if not 0 <= int(x) < len(names):
                    raise ValueError(f"split {name!r}: sample index {x} out of range")
                idx.append(int(x))
        arrays[f"split.{name}"] = np.array(sorted(set(idx)), np.int64)
    if sc_all is not None:
        arrays["score"] = sc_all
    return arrays


def _unpack(arrays: dict[str, np.ndarray], path: Path | None) -> SkeletonDataset:
    try:
        kp, off, npers = arrays["keypoint"], arrays["offsets"], arrays["num_persons"]
        labels = arrays["label"]
        names = [str(n) for n in arrays["name"]]
        classes = [str(c) for c in arrays["classes"]]
        score = arrays.get("score")
        splits = {k[len("split."):]: v for k, v in arrays.items() if k.startswith("split.")}
        layout = str(arrays["layout"]) or None
        meta = json.loads(str(arrays["meta"]))
    except (KeyError, ValueError) as e:
        raise DataError(path, f"incomplete skeleton dataset ({e})") from None
    n = len(labels)
    if off.shape != (n + 1,) or len(names) != n or npers.shape != (n,) or off[-1] != len(kp):
        raise DataError(path, "inconsistent array sizes (offsets/labels/names/keypoint)")
    return SkeletonDataset(kp, off, npers, labels, names, classes, layout, splits, score, meta,
                           path=None if path is None else str(path))


def write_skeleton_dataset(path: str | os.PathLike, samples: Iterable[dict[str, Any]],
                           classes: Sequence[str], layout: str | None,
                           splits: dict[str, Sequence[int | str]] | None = None,
                           meta: dict | None = None, compress: bool = False) -> None:
    """Write samples ``{"keypoint" (M, T, V, C), "score" optional (M, T, V), "label", "name",
    "split" optional}`` to one ``.npz`` (atomically).

    ``splits`` maps a split name to sample indices or names; samples may instead carry their
    own ``"split"``. ``compress`` trades write/read time for size.
    """
    if not str(path).endswith(".npz"):
        raise ValueError(f"skeleton datasets are .npz files, got {path}")
    arrays = _pack(list(samples), classes, layout, splits, meta)
    with atomic_path(path) as tmp:
        (np.savez_compressed if compress else np.savez)(tmp, **arrays)


def read_skeleton_dataset(path: str | os.PathLike, trust_pickle: bool = False) -> SkeletonDataset:
    """Read a skeleton dataset ``.npz`` (or a pyskl ``.pkl``, see :func:`read_pyskl_pickle`)."""
    path = Path(path)
    if path.suffix.lower() in (".pkl", ".pickle"):
        return read_pyskl_pickle(path, trust_pickle=trust_pickle)
    try:
        z = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(path, "skeleton dataset not found") from None
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(path, f"not a readable .npz file ({e})") from None
    with z:
        if "format" not in z.files or str(z["format"]) != FORMAT:
            raise DataError(path, f"not a {FORMAT} file")
        if int(z["version"]) > VERSION:
            raise DataError(path, f"written by a newer motionscope (version {int(z['version'])})")
        try:
            arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise DataError(path, f"corrupt .npz member ({e})") from None
    return _unpack(arrays, path)


# ----------------------------------------------------------------------------- pyskl
_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"), ("collections", "OrderedDict"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"the pickle needs {module}.{name}, which is not a numpy array or plain container")


def read_pyskl_pickle(path: str | os.PathLike, trust_pickle: bool = False,
                      classes: Sequence[str] | None = None,
                      layout: str | None = None) -> SkeletonDataset:
    """Read a pyskl-style annotation pickle into a :class:`SkeletonDataset`.

    Only numpy arrays and plain containers are unpickled unless ``trust_pickle`` (which runs
    the file's code: use it only for files you trust). Class names default to ``"0".."K-1"``;
    pyskl's split names are kept (characters other than letters, digits, ``_`` and ``-``
    become ``_``); samples missing a ``keypoint_score`` get score 1 if others have one.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "pickle not found") from None
    try:
        data = pickle.loads(raw) if trust_pickle else _ArrayUnpickler(io.BytesIO(raw)).load()
    except pickle.UnpicklingError as e:
        raise DataError(path, f"refused to unpickle: {e}; pass trust_pickle=True only if you "
                              "trust this file") from None
    except (EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError) as e:
        raise DataError(path, f"not a readable pickle ({e})") from None
    if isinstance(data, list):
        data = {"annotations": data, "split": {}}
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise DataError(path, "not a pyskl annotation file (needs an 'annotations' list)")
    samples = []
    for i, a in enumerate(data["annotations"]):
        if not isinstance(a, dict) or "keypoint" not in a:
            raise DataError(path, f"annotation {i} has no 'keypoint'")
        kp = np.asarray(a["keypoint"], np.float32)
        if kp.ndim != 4:
            raise DataError(path, f"annotation {i}: keypoint must be (M, T, V, C), got "
                                  f"{kp.shape}")
        samples.append({"keypoint": kp, "score": a.get("keypoint_score"),
                        "label": a.get("label"), "name": str(a.get("frame_dir", i))})
    if any(s["score"] is not None for s in samples):
        for s in samples:
            if s["score"] is None:
                s["score"] = np.ones(s["keypoint"].shape[:3], np.float32)
    labels = [int(s["label"]) for s in samples if s["label"] is not None]
    K = (max(labels) + 1) if labels else 0
    classes = list(classes) if classes is not None else [str(k) for k in range(K)]
    names = {s["name"] for s in samples}
    splits = {re.sub(r"[^A-Za-z0-9_\-]", "_", str(k)): [str(n) for n in v if str(n) in names]
              for k, v in (data.get("split") or {}).items()}
    try:
        arrays = _pack(samples, classes, layout, splits, {"source": "pyskl"})
    except ValueError as e:
        raise DataError(path, str(e)) from None
    return _unpack(arrays, path)
