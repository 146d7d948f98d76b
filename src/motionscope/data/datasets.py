"""Dataset builders by name: ``build_dataset(cfg.data, split)``.

A plain dict of builders (DESIGN: explicit over magic). Each builder takes the split name,
the data config and returns a torch Dataset of dict samples with ``label`` ints and, where the
dataset knows them, ``classes`` names.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from pathlib import Path

from torch.utils.data import Dataset

from ..errors import ConfigError, DataError
from .synthetic import SyntheticClipDataset, SyntheticSkeletonDataset


def _synthetic(cls):
    def build(split: str, data_cfg) -> Dataset:
        kwargs = dict(data_cfg.args)
        kwargs.setdefault("num_classes", data_cfg.num_classes)
        if split == "train":
            pass
        else:  # smaller held-out splits by default
            kwargs["num_samples"] = max(int(kwargs.get("num_samples", 256)) // 4, data_cfg.num_classes)
        check_kwargs(cls, kwargs, f"data.args for {data_cfg.name!r}", skip=("split",))
        return cls(split=split, **kwargs)

    return build


DATASETS: dict[str, Callable] = {
    "synthetic_skeleton": _synthetic(SyntheticSkeletonDataset),
    "synthetic_clip": _synthetic(SyntheticClipDataset),
}


def register_dataset(name: str, builder: Callable) -> None:
    DATASETS[name] = builder


def check_kwargs(fn, kwargs: dict, where: str, skip: tuple[str, ...] = ()) -> None:
    """Fail early, naming the key and the closest valid one, on an argument ``fn`` does not take."""
    params = inspect.signature(fn).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n in params if n not in skip and n != "self"]
    for key in kwargs:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where}: unknown argument {key!r}{hint} (valid: {', '.join(valid)})")


def build_dataset(data_cfg, split: str) -> Dataset:
    """The dataset of ``split`` for ``data_cfg``; fails early on a missing root or empty split."""
    if data_cfg.name not in DATASETS:
        close = difflib.get_close_matches(data_cfg.name, list(DATASETS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown dataset data.name={data_cfg.name!r}{hint} "
                          f"(known: {', '.join(sorted(DATASETS))})")
    if data_cfg.root is not None and not Path(data_cfg.root).exists():
        raise DataError(data_cfg.root, "data.root does not exist")
    ds = DATASETS[data_cfg.name](split, data_cfg)
    if len(ds) == 0:
        raise DataError(data_cfg.root, f"split {split!r} of dataset {data_cfg.name!r} is empty")
    return ds


# ---------------------------------------------------------------- single inputs (predict)
def read_input(data_cfg, path: str) -> dict:
    """One input file/folder as a batch of one, transformed as the dataset's eval split does.

    Arrays (``.npy``; ``.npz`` with one array) are taken as one sample in the model's layout.
    Dataset families add their own readers to ``INPUT_READERS`` (videos, frame folders,
    skeleton files).
    """
    import numpy as np
    import torch

    p = Path(path)
    if not p.exists():
        raise DataError(p, "input not found")
    reader = INPUT_READERS.get(data_cfg.name)
    if reader is not None:
        return reader(data_cfg, p)
    if p.suffix in (".npy", ".npz"):
        try:
            arr = np.load(p)
            if isinstance(arr, np.lib.npyio.NpzFile):
                if len(arr.files) != 1:
                    raise DataError(p, f"expected one array in the .npz, found {arr.files}")
                arr = arr[arr.files[0]]
        except (OSError, ValueError) as e:
            raise DataError(p, f"cannot read array: {e}") from e
        key = "video" if "clip" in data_cfg.name else "skeleton"
        return {key: torch.from_numpy(np.asarray(arr, dtype=np.float32))[None]}
    raise DataError(p, f"dataset {data_cfg.name!r} reads .npy/.npz inputs only")


INPUT_READERS: dict[str, Callable] = {}
from . import mp_cache as _mp_cache  # noqa: E402,F401  (registers mp_clips)
from . import skeleton as _skeleton  # noqa: E402,F401  (registers ntu_skeleton, skeleton_dataset)
from . import video as _video  # noqa: E402,F401  (registers rawframes, videos, world_clips)
