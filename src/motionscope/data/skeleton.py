"""The official MAMP skeleton feeder, over prepared NTU/PKU arrays or any skeleton dataset.

Sampling and augmentation are those of ``feeder/feeder_ntu.py`` + ``feeder/tools.py``
(``specs/mamp.md`` section 8):

- the valid frames are the first ``count(frames whose sum over C, V, M != 0)`` frames;
- training: ``p ~ U(0.5, 1)``, ``L = min(max(floor(valid * p), 64), valid)``, a random start
  (numpy RNG), crop ``[start, start + L)``; evaluation: the centre crop keeping 95 % of the
  valid frames (``bias = int(0.05 * valid / 2)``), deterministic;
- linear resize to ``window`` (120) frames with ``F.interpolate(bilinear, align_corners=False)``;
- training only: one random rotation ``Rz @ Ry @ Rx`` with angles ``U(-0.3, 0.3)`` (torch RNG)
  for every frame and person; no normalisation.

A sample is ``{"skeleton": (C, window, V, M) float32, "label": int, "index": int}``.

Registered datasets (``data.name``):

- ``ntu_skeleton``: the arrays of ``motionscope prepare ntu|pku`` or of the official scripts
  (``NTU60_XSub.npz`` ...; ``data.root`` is the folder or the file, ``data.args.benchmark``
  picks the file), memory-mapped;
- ``skeleton_dataset``: the generic skeleton dataset file (``io.skeleton_dataset``, or a pyskl
  pickle), so any skeleton dataset plugs in.

Both read single inputs for ``motionscope predict`` (an NTU ``.skeleton`` file or a ``.npy``).
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..argcheck import check_kwargs
from ..errors import ConfigError, DataError

__all__ = [
    "SkeletonFeeder", "valid_frame_count", "valid_crop_resize", "random_rot", "rotation_matrix",
    "load_npz_array", "NTU_BENCHMARKS", "build_ntu_skeleton", "build_skeleton_dataset",
    "select_fraction", "center_sequence",
]

#: benchmark name -> file written by ``motionscope prepare`` (and by the official scripts)
NTU_BENCHMARKS = {
    "ntu60_xsub": "NTU60_XSub.npz", "ntu60_xview": "NTU60_XView.npz",
    "ntu120_xsub": "NTU120_XSub.npz", "ntu120_xset": "NTU120_XSet.npz",
    "pkuv1_xsub": "PKUv1_XSub.npz", "pkuv1_xview": "PKUv1_XView.npz",
    "pkuv2_xsub": "PKUv2_XSub.npz", "pkuv2_xview": "PKUv2_XView.npz",
}


# ----------------------------------------------------------------------------- transforms
def valid_frame_count(x: np.ndarray) -> int:
    """Frames whose values sum (over C, V, M) to non-zero, as the official feeder counts."""
    return int(np.sum(x.sum(0).sum(-1).sum(-1) != 0))


def valid_crop_resize(x: np.ndarray, valid: int, p_interval: Sequence[float], window: int,
                      min_crop: int = 64) -> np.ndarray:
    """Crop the first ``valid`` frames of ``x (C, T, V, M)`` and resize to ``window`` frames.

    ``p_interval`` of length 1: the deterministic centre crop keeping ``p`` of the frames;
    of length 2: a random crop of ``min(max(floor(valid * p), min_crop), valid)`` frames with
    ``p ~ U(*p_interval)`` at a random start (numpy's global RNG, as the official code).
    """
    C, _, V, M = x.shape
    if len(p_interval) == 1:
        p = p_interval[0]
        bias = int((1 - p) * valid / 2)
        data = x[:, bias:valid - bias]
    else:
        p = float(np.random.rand(1)[0] * (p_interval[1] - p_interval[0]) + p_interval[0])
        length = min(max(int(np.floor(valid * p)), min_crop), valid)
        bias = np.random.randint(0, valid - length + 1)
        data = x[:, bias:bias + length]
    length = data.shape[1]
    t = torch.as_tensor(np.ascontiguousarray(data), dtype=torch.float)
    t = t.permute(0, 2, 3, 1).reshape(1, 1, C * V * M, length)
    t = F.interpolate(t, size=(C * V * M, window), mode="bilinear", align_corners=False)
    return t.reshape(C, V, M, window).permute(0, 3, 1, 2).contiguous().numpy()


def rotation_matrix(angles: torch.Tensor) -> torch.Tensor:
    """``Rz @ Ry @ Rx`` for angles ``(..., 3)`` = ``(ax, ay, az)``, as ``(..., 3, 3)``.

    The official ``tools._rot`` convention: ``Rx = [[1,0,0],[0,c,s],[0,-s,c]]``,
    ``Ry = [[c,0,-s],[0,1,0],[s,0,c]]``, ``Rz = [[c,s,0],[-s,c,0],[0,0,1]]``.
    """
    c, s = angles.cos(), angles.sin()
    one, zero = torch.ones_like(c[..., 0]), torch.zeros_like(c[..., 0])

    def mat(rows):
        return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)

    rx = mat([(one, zero, zero), (zero, c[..., 0], s[..., 0]), (zero, -s[..., 0], c[..., 0])])
    ry = mat([(c[..., 1], zero, -s[..., 1]), (zero, one, zero), (s[..., 1], zero, c[..., 1])])
    rz = mat([(c[..., 2], s[..., 2], zero), (-s[..., 2], c[..., 2], zero), (zero, zero, one)])
    return rz.matmul(ry).matmul(rx)


def random_rot(x: np.ndarray | torch.Tensor, theta: float = 0.3) -> torch.Tensor:
    """Rotate ``(3, T, V, M)`` by one random rotation, angles ``U(-theta, theta)`` (torch RNG).

    The matrix is built per frame and applied by a batched matmul, as the official code does,
    so the result is bit-identical to it for the same torch seed.
    """
    t = torch.as_tensor(x, dtype=torch.float)
    C, T, V, M = t.shape
    angles = torch.zeros(3).uniform_(-theta, theta)
    rot = rotation_matrix(angles.expand(T, 3))
    out = torch.matmul(rot, t.permute(1, 0, 2, 3).reshape(T, C, V * M))
    return out.reshape(T, C, V, M).permute(1, 0, 2, 3).contiguous()


def center_sequence(x: np.ndarray, joint: int) -> np.ndarray:
    """NTU-style translation of ``(C, T, V, M)``: subtract joint ``joint`` of person 0 in its
    first non-zero frame; frames where a person is absent (all zero) stay zero."""
    if not 0 <= joint < x.shape[2]:
        raise ConfigError(f"center_joint {joint} is outside the {x.shape[2]} joints")
    present = np.any(x != 0, axis=(0, 2))  # (T, M)
    frames = np.flatnonzero(present[:, 0])
    if len(frames) == 0:
        return x
    origin = x[:, frames[0], joint, 0].copy()
    return np.where(present[None, :, None, :], x - origin[:, None, None, None], 0).astype(
        np.float32)


# ----------------------------------------------------------------------------- the feeder
class SkeletonFeeder(Dataset):
    """Skeleton sequences ``(C, T_i, V, M)`` -> cropped, resized (and in training rotated).

    ``sequences`` is any indexable of ``(C, T, V, M)`` arrays (a memory-mapped array works);
    ``labels`` are 0-based ints (-1: unlabelled); ``train`` selects the random crop + rotation,
    otherwise the
    deterministic centre crop. ``center_joint``: subtract that joint of person 0 in its first
    non-zero frame from every frame (NTU's preprocessing, for data that are not centred yet).
    ``classes`` (names) and ``names`` (sample names) are kept for
    reports; ``labels`` is a numpy array, or ``None`` with ``unlabelled=True`` (a pre-training
    set whose samples carry no class: the run's label checks then do not apply).
    """

    def __init__(self, sequences, labels: Sequence[int], *, names: Sequence[str] | None = None,
                 classes: Sequence[str] | None = None, train: bool = False, window: int = 120,
                 p_interval: Sequence[float] = (0.5, 1.0),
                 test_p_interval: Sequence[float] = (0.95,), min_crop: int = 64,
                 random_rot: bool = True, rot_theta: float = 0.3,
                 center_joint: int | None = None, unlabelled: bool = False,
                 source: str | None = None):
        if len(sequences) != len(labels):
            raise DataError(source, f"{len(sequences)} sequences but {len(labels)} labels")
        if window < 1 or min_crop < 1:
            raise ConfigError(f"feeder: window ({window}) and min_crop ({min_crop}) must be >= 1")
        for name, p in (("p_interval", p_interval), ("test_p_interval", test_p_interval)):
            if len(p) not in (1, 2) or not all(0 < float(v) <= 1 for v in p):
                raise ConfigError(f"feeder: {name} must be [p] or [low, high] within (0, 1], "
                                  f"got {list(p)}")
        self.sequences = sequences
        self._labels = np.asarray(labels, np.int64)
        self.unlabelled = bool(unlabelled)
        if not self.unlabelled and (self._labels < 0).any():
            bad = int(np.flatnonzero(self._labels < 0)[0])
            raise DataError(source, f"sample {bad} has no label ({int(self._labels[bad])}); for "
                                    "pre-training on unlabelled data set data.args.unlabelled=true")
        self.names = list(names) if names is not None else [f"sample_{i}" for i in
                                                            range(len(labels))]
        self.classes = list(classes) if classes is not None else None
        self.train = bool(train)
        self.window, self.min_crop = int(window), int(min_crop)
        self.p_interval = [float(v) for v in (p_interval if train else test_p_interval)]
        self.random_rot = bool(random_rot) and self.train
        self.rot_theta = float(rot_theta)
        self.center_joint = None if center_joint is None else int(center_joint)
        self.source = source

    @property
    def labels(self) -> np.ndarray | None:
        return None if self.unlabelled else self._labels

    def __len__(self) -> int:
        return len(self._labels)

    def transform(self, x: np.ndarray, index: int | None = None) -> torch.Tensor:
        """One ``(C, T, V, M)`` sequence -> ``(C, window, V, M)`` float32 tensor."""
        x = np.asarray(x, np.float32)
        if x.ndim != 4:
            raise DataError(self.source, f"sample {index}: expected (C, T, V, M), got {x.shape}")
        if not np.isfinite(x).all():
            raise DataError(self.source, f"sample {index} ({self._name(index)}): non-finite "
                                         "coordinates (NaN/inf)")
        if self.center_joint is not None:
            x = center_sequence(x, self.center_joint)
        valid = valid_frame_count(x)
        if valid == 0:
            raise DataError(self.source, f"sample {index} ({self._name(index)}): every frame is "
                                         "all-zero; nothing to crop")
        if self.random_rot and x.shape[0] != 3:
            raise ConfigError(f"feeder: random_rot needs 3-D coordinates, the data have "
                              f"{x.shape[0]} channels (set data.args.random_rot=false)")
        out = valid_crop_resize(x, valid, self.p_interval, self.window, self.min_crop)
        if self.random_rot:
            return random_rot(out, self.rot_theta)
        return torch.from_numpy(out)

    def _name(self, index: int | None) -> str:
        return self.names[index] if index is not None and 0 <= index < len(self.names) else "?"

    def __getitem__(self, index: int) -> dict:
        x = self.sequences[index]
        return {"skeleton": self.transform(x, index), "label": int(self._labels[index]),
                "index": int(index)}


# ----------------------------------------------------------------------------- npz arrays
def load_npz_array(path: str | Path, key: str, mmap: bool = True) -> np.ndarray:
    """Array ``key`` of an ``.npz``; memory-mapped when stored uncompressed (``np.savez``).

    ``np.load(..., mmap_mode="r")`` ignores ``mmap_mode`` for ``.npz`` members (it reads the
    whole array); an uncompressed member is a plain ``.npy`` inside the zip, so it can be mapped
    at its offset instead. Falls back to reading when compressed.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            member = f"{key}.npy"
            if member not in zf.namelist():
                keys = [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
                raise DataError(path, f"no array {key!r} in this file (has {keys})")
            info = zf.getinfo(member)
            if not mmap or info.compress_type != zipfile.ZIP_STORED:
                with zf.open(member) as f:
                    return np.lib.format.read_array(f, allow_pickle=False)
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)
            if local[:4] != b"PK\x03\x04":
                raise DataError(path, f"corrupt zip entry for {key!r}")
            name_len = int.from_bytes(local[26:28], "little")
            extra_len = int.from_bytes(local[28:30], "little")
            f.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            offset = f.tell()
        if dtype.hasobject:
            raise DataError(path, f"array {key!r} holds Python objects; refusing to load it")
        if int(np.prod(shape)) == 0:
            return np.zeros(shape, dtype)
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                         order="F" if fortran else "C")
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as e:
        raise DataError(path, f"cannot read array {key!r} ({type(e).__name__}: {e})") from None


def _npz_keys(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            return [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
    except (OSError, zipfile.BadZipFile) as e:
        raise DataError(path, f"not a readable .npz file ({e})") from None


class _FlatSequences:
    """``x (N, T, M*V*C)`` rows (the official layout) viewed as ``(C, T, V, M)`` sequences."""

    def __init__(self, x: np.ndarray, persons: int, joints: int, index: np.ndarray,
                 keep: int | None = None):
        self.x, self.m, self.v, self.index = x, persons, joints, index
        self.c = x.shape[2] // (persons * joints)
        self.keep = persons if keep is None else keep

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> np.ndarray:
        row = np.asarray(self.x[int(self.index[i])], np.float32)
        x = row.reshape(row.shape[0], self.m, self.v, self.c).transpose(3, 0, 2, 1)
        return x[..., :self.keep]


def select_fraction(n: int, fraction: float, seed: int) -> np.ndarray:
    """Indices of the semi-supervised subset: the official ``random_select_data`` draw.

    ``np.random.seed(seed); np.random.shuffle(arange(n))`` then the first ``int(n * fraction)``
    (the official code seeds ``seed + rank``, i.e. ``seed`` on rank 0; here every process
    uses ``seed`` so all ranks see the same subset).
    """
    if not 0 < fraction <= 1:
        raise ConfigError(f"label_fraction must be in (0, 1], got {fraction}")
    idx = np.arange(n)
    np.random.RandomState(seed).shuffle(idx)
    return idx[:int(n * fraction)]


def _resolve_npz(root: str | None, benchmark: str | None) -> Path:
    if root is None:
        raise ConfigError("data.root is not set: point it at the folder written by "
                          "`motionscope prepare ntu|pku` (or at one of its .npz files)")
    p = Path(root)
    if p.is_file():
        return p
    if benchmark is None:
        found = sorted(q.name for q in p.glob("*.npz"))
        raise ConfigError(f"data.args.benchmark is not set; choose one of "
                          f"{sorted(NTU_BENCHMARKS)} (files in {p}: {found})")
    key = benchmark.lower()
    fname = NTU_BENCHMARKS.get(key, benchmark if benchmark.endswith(".npz") else None)
    if fname is None:
        raise ConfigError(f"unknown benchmark {benchmark!r}; choose one of "
                          f"{sorted(NTU_BENCHMARKS)} or give the .npz file name")
    if not (p / fname).is_file():
        raise DataError(p / fname, f"not found: prepare the data first (`motionscope prepare "
                                   f"{'pku' if key.startswith('pku') else 'ntu'} --raw RAW "
                                   f"--out {p}`)")
    return p / fname


_FEEDER_KEYS = ("window", "p_interval", "test_p_interval", "min_crop", "random_rot", "rot_theta",
                "center_joint")


def build_ntu_skeleton(data_cfg, split: str, *, training: bool, benchmark: str | None = None,
                       window: int = 120, p_interval: Sequence[float] = (0.5, 1.0),
                       test_p_interval: Sequence[float] = (0.95,), min_crop: int = 64,
                       random_rot: bool = True, rot_theta: float = 0.3,
                       actions: Sequence[int] | None = None, label_fraction: float = 1.0,
                       subset_seed: int = 0, num_joints: int = 25, num_persons: int = 2,
                       center_joint: int | None = None, unlabelled: bool = False,
                       keep_persons: int | None = None, mmap: bool = True) -> SkeletonFeeder:
    """Feeder over a prepared ``.npz`` (``x_<split>``/``y_<split>``, official layout).

    ``actions``: keep only these NTU action ids (1-based, as in the file names), relabelled
    0..K-1 in the given order (e.g. the embedded world's 10 classes). ``label_fraction``: the
    semi-supervised subset of the training split (official ``feeder_ntu_semi``).
    ``keep_persons``: feed only the first k persons (e.g. 1 for single-person data prepared
    with NTU-120's duplicated second person: half the compute, the same information).
    """
    path = _resolve_npz(data_cfg.root, benchmark)
    if split not in ("train", "test"):
        raise ConfigError(f"{path.name} has the splits 'train' and 'test', not {split!r} "
                          "(set data.val_split=null or data.val_split=test)")
    keys = _npz_keys(path)
    x = load_npz_array(path, f"x_{split}", mmap=mmap)
    y = load_npz_array(path, f"y_{split}", mmap=False)
    if x.ndim != 3 or x.shape[2] % (num_joints * num_persons):
        raise DataError(path, f"x_{split} has shape {x.shape}; expected (N, T, M*V*C) with "
                              f"M={num_persons}, V={num_joints}")
    if len(y) != len(x):
        raise DataError(path, f"x_{split} has {len(x)} rows but y_{split} {len(y)}")
    labels = np.argmax(y, axis=1).astype(np.int64) if y.ndim == 2 else y.astype(np.int64)
    names = [str(n) for n in load_npz_array(path, f"names_{split}", mmap=False)] \
        if f"names_{split}" in keys else [f"{split}_{i}" for i in range(len(x))]
    num = y.shape[1] if y.ndim == 2 else int(labels.max(initial=-1)) + 1
    classes = [str(c) for c in load_npz_array(path, "classes", mmap=False)] \
        if "classes" in keys else [f"A{k:03d}" for k in range(1, num + 1)]
    index = np.arange(len(x))
    if actions is not None:
        wanted = [int(a) - 1 for a in actions]
        if len(set(wanted)) != len(wanted) or any(not 0 <= a < len(classes) for a in wanted):
            raise ConfigError(f"data.args.actions must be distinct action ids in 1..{len(classes)}"
                              f", got {list(actions)}")
        remap = {a: i for i, a in enumerate(wanted)}
        index = np.array([i for i in index if int(labels[i]) in remap], np.int64)
        labels = np.array([remap[int(labels[i])] for i in index], np.int64)
        classes = [classes[a] for a in wanted]
    else:
        labels = labels[index]
    if label_fraction != 1.0 and training:
        keep = np.sort(select_fraction(len(index), float(label_fraction), int(subset_seed)))
        index, labels = index[keep], labels[keep]
    if keep_persons is not None and not 1 <= int(keep_persons) <= num_persons:
        raise ConfigError(f"data.args.keep_persons must be in 1..{num_persons}, got {keep_persons}")
    seqs = _FlatSequences(x, num_persons, num_joints, index, keep_persons)
    return SkeletonFeeder(seqs, labels, names=[names[i] for i in index], classes=classes,
                          source=str(path), window=window, p_interval=p_interval,
                          test_p_interval=test_p_interval, min_crop=min_crop,
                          random_rot=random_rot, rot_theta=rot_theta,
                          center_joint=center_joint, unlabelled=unlabelled,
                          train=training)


class _DatasetSequences:
    """Samples of an ``io.skeleton_dataset.SkeletonDataset`` as ``(C, T, V, M)``, M padded."""

    def __init__(self, ds, persons: int, index: np.ndarray):
        self.ds, self.m, self.index = ds, persons, index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> np.ndarray:
        kp = self.ds[int(self.index[i])]["keypoint"]  # (M_i, T, V, C)
        m = min(kp.shape[0], self.m)
        out = np.zeros((self.m,) + kp.shape[1:], np.float32)
        out[:m] = kp[:m]
        return out.transpose(3, 1, 2, 0)


def build_skeleton_dataset(data_cfg, split: str, *, training: bool, window: int = 120,
                           p_interval: Sequence[float] = (0.5, 1.0),
                           test_p_interval: Sequence[float] = (0.95,), min_crop: int = 64,
                           random_rot: bool = True, rot_theta: float = 0.3,
                           num_persons: int | None = None, label_fraction: float = 1.0,
                           subset_seed: int = 0, center_joint: int | None = None,
                           unlabelled: bool = False,
                           trust_pickle: bool = False) -> SkeletonFeeder:
    """Feeder over a generic skeleton dataset file (``.npz``) or a pyskl ``.pkl``.

    ``data.root`` is the file; the split names are the file's (``split.<name>``).
    ``num_persons``: persons per sample fed to the model (default: the most in the file;
    padding persons are zeros, extra persons are dropped). ``unlabelled``: the samples carry
    no class (label -1), e.g. windows of continuous recordings for pre-training.
    """
    from ..io.skeleton_dataset import read_skeleton_dataset

    if data_cfg.root is None:
        raise ConfigError("data.root is not set: point it at a skeleton dataset .npz file "
                          "(io.skeleton_dataset) or a pyskl .pkl")
    ds = read_skeleton_dataset(data_cfg.root, trust_pickle=trust_pickle)
    if split not in ds.splits:
        raise DataError(data_cfg.root, f"no split {split!r} in this dataset (has "
                                       f"{ds.split_names})")
    sub = ds.split(split)
    index = np.asarray(sub._idx, np.int64)
    labels = np.asarray(sub.labels, np.int64)
    if label_fraction != 1.0 and training:
        keep = np.sort(select_fraction(len(index), float(label_fraction), int(subset_seed)))
        index, labels = index[keep], labels[keep]
    m = int(num_persons) if num_persons else int(ds._kp.shape[1])
    seqs = _DatasetSequences(ds, m, index)
    return SkeletonFeeder(seqs, labels, names=[ds.names_all[i] for i in index],
                          classes=ds.classes, source=str(data_cfg.root), window=window,
                          p_interval=p_interval, test_p_interval=test_p_interval,
                          min_crop=min_crop, random_rot=random_rot, rot_theta=rot_theta,
                          center_joint=center_joint, unlabelled=unlabelled,
                          train=training)


def _builder(fn):
    """The dataset contract's ``build(data_cfg, split, *, training)`` over ``fn``, whose other
    keyword arguments are ``data.args`` (checked against its signature)."""
    def build(data_cfg, split: str, *, training: bool) -> Dataset:
        args = dict(data_cfg.args)
        check_kwargs(fn, args, f"data.args for {data_cfg.name!r}",
                     skip=("split", "data_cfg", "training"))
        return fn(data_cfg, split, training=training, **args)

    build.__doc__ = fn.__doc__
    return build


ntu_skeleton = _builder(build_ntu_skeleton)
skeleton_dataset = _builder(build_skeleton_dataset)


# ----------------------------------------------------------------------------- predict
def _eval_feeder(data_cfg, fn) -> dict:
    """The evaluation transform's arguments from ``data.args`` (builder defaults otherwise)."""
    import inspect

    args = dict(data_cfg.args)
    params = inspect.signature(fn).parameters
    kw = {k: args.get(k, params[k].default) for k in _FEEDER_KEYS}
    kw["train"] = False
    return kw


def _read_input(data_cfg, path: Path, persons: int | None) -> np.ndarray:
    """``(C, T, V, M)`` from a ``.skeleton`` (official preprocessing) or a ``.npy``."""
    if path.suffix == ".skeleton":
        from ..io.ntu import read_skeleton
        from ..prepare.ntu import SkippedSample, denoise_skeleton

        bench = str(dict(data_cfg.args).get("benchmark") or "").lower()
        padding = "duplicate" if bench.startswith("ntu120") else "zeros"
        try:
            j = denoise_skeleton(read_skeleton(path), padding, path)
        except SkippedSample as e:
            raise DataError(path, e.detail) from None
        x = j.reshape(len(j), 2, 25, 3).transpose(3, 0, 2, 1)
        if persons is not None and persons != 2:
            x = _fit_persons(x, persons)
        return x
    if path.suffix in (".npy", ".npz"):
        from .inputs import load_single_array

        arr = load_single_array(path)
        arr = np.asarray(arr, np.float32)
        if arr.ndim == 2 and arr.shape[1] % 75 == 0:  # (T, M*75): one official row
            m = arr.shape[1] // 75
            arr = arr.reshape(len(arr), m, 25, 3).transpose(3, 0, 2, 1)
        elif arr.ndim != 4:
            raise DataError(path, f"expected a (C, T, V, M) array or (T, M*75) rows, got "
                                  f"{arr.shape}")
        return _fit_persons(arr, persons) if persons is not None else arr
    raise DataError(path, "expected an NTU .skeleton file or a .npy array")


def _fit_persons(x: np.ndarray, persons: int) -> np.ndarray:
    out = np.zeros(x.shape[:3] + (persons,), np.float32)
    m = min(persons, x.shape[3])
    out[..., :m] = x[..., :m]
    return out


_BUILDERS = {"ntu_skeleton": (build_ntu_skeleton, 2), "skeleton_dataset": (build_skeleton_dataset, None)}


def read_skeleton_input(data_cfg, path: Path, name: str) -> dict:
    """One ``.skeleton`` file or array as a batch of one, transformed as dataset ``name``'s
    evaluation split is."""
    fn, default_persons = _BUILDERS[name]
    args = dict(data_cfg.args)
    persons = args.get("keep_persons") or args.get("num_persons", default_persons)
    x = _read_input(data_cfg, Path(path), persons)
    feeder = SkeletonFeeder([x], [0], source=str(path), **_eval_feeder(data_cfg, fn))
    return {"skeleton": feeder.transform(x, 0)[None]}
