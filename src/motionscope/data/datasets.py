"""The dataset contract, and every dataset by name in one plain dict.

A dataset builder is ``build(data_cfg, split, *, training, **needs) -> Dataset``:

* ``data_cfg`` is the run's ``data`` node (``name``, ``root``, ``args``, ``num_classes``);
  ``data.args`` are the dataset's own options, checked against what the builder accepts;
* ``split`` names the list/partition to read (``train``, ``test``, ``NTURGBD60_test_JOINTS``);
* ``training`` says whether the split is read as training data (random sampling and
  augmentation, label subsets) or as evaluation data (deterministic views). It is explicit:
  a dataset never compares split names with the run config to find out;
* ``needs`` are what a dataset needs from the run beyond its data config, passed by the task
  layer (today: the frozen feature model of MP's on-disk cache, ``feature_model`` and
  ``feature_key``). A dataset never reads the model's config.

The dataset returns dict samples (``{"video" | "skeleton" | ...: tensor, "label": int,
"index": int}``) and, where it knows them, ``labels`` (ints), ``names`` (per sample) and
``classes`` (names). ``data/`` imports neither ``models/`` nor ``engine/``.

Adding a dataset: write its builder, add it to :data:`DATASETS` below, nothing else.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from pathlib import Path

from torch.utils.data import Dataset

from ..argcheck import check_kwargs
from ..errors import ConfigError, DataError
from . import mp_cache, pairs, rgbd, skeleton, video
from .synthetic import SyntheticClipDataset, SyntheticSkeletonDataset


def _synthetic(cls):
    def build(data_cfg, split: str, *, training: bool) -> Dataset:
        kwargs = dict(data_cfg.args)
        kwargs.setdefault("num_classes", data_cfg.num_classes)
        if not training:  # smaller held-out splits by default
            kwargs["num_samples"] = max(int(kwargs.get("num_samples", 256)) // 4, data_cfg.num_classes)
        check_kwargs(cls, kwargs, f"data.args for {data_cfg.name!r}", skip=("split",))
        return cls(split=split, **kwargs)

    build.__doc__ = cls.__doc__
    return build


DATASETS: dict[str, Callable[..., Dataset]] = {
    "synthetic_skeleton": _synthetic(SyntheticSkeletonDataset),
    "synthetic_clip": _synthetic(SyntheticClipDataset),
    "ntu_skeleton": skeleton.ntu_skeleton,
    "skeleton_dataset": skeleton.skeleton_dataset,
    "rawframes": video.build_rawframes,
    "videos": video.build_videos,
    "world_clips": video.build_world_clips,
    "mp_clips": mp_cache.build_mp_clips,
    "rgbd_official": rgbd.build_rgbd_official,
    "rgbd_world": rgbd.build_rgbd_world,
    "rgbd_folders": rgbd.build_rgbd_folders,
    "frame_pairs": pairs.build_frame_pairs,
    "world_pairs": pairs.build_world_pairs,
    "video_pairs": pairs.build_video_pairs,
}


def build_dataset(data_cfg, split: str, *, training: bool = False, **needs) -> Dataset:
    """The dataset of ``split`` for ``data_cfg``; fails early on a missing root or empty split."""
    if data_cfg.name not in DATASETS:
        close = difflib.get_close_matches(data_cfg.name, list(DATASETS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown dataset data.name={data_cfg.name!r}{hint} "
                          f"(known: {', '.join(sorted(DATASETS))})")
    if data_cfg.root is not None and not Path(data_cfg.root).exists():
        raise DataError(data_cfg.root, "data.root does not exist")
    builder = DATASETS[data_cfg.name]
    accepted = inspect.signature(builder).parameters
    extra = [k for k in needs if k not in accepted]
    if extra:
        raise ConfigError(f"dataset {data_cfg.name!r} takes no {extra} from the run")
    ds = builder(data_cfg, split, training=training, **needs)
    if len(ds) == 0:
        raise DataError(data_cfg.root, f"split {split!r} of dataset {data_cfg.name!r} is empty")
    return ds


def read_input(data_cfg, path: str) -> dict:
    """One input file/folder as a batch of one (see :mod:`.inputs`)."""
    from .inputs import read_input as _read

    return _read(data_cfg, path)


__all__ = ["DATASETS", "build_dataset", "read_input", "check_kwargs"]
