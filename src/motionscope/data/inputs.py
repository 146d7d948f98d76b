"""Single inputs for ``motionscope predict``: one file or folder as a batch of one, read and
transformed exactly as the dataset's evaluation split reads a sample.

:data:`INPUT_READERS` lists the reader of each dataset name (videos and frame folders for the
clip datasets, ``.skeleton`` files and arrays for the skeleton datasets); other datasets read
``.npy``/``.npz`` arrays in the model's layout.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..io.index import Sample
from ..io.rawframes import DEFAULT_TEMPLATE, FrameTemplate
from .rgbd import read_rgbd_input
from .skeleton import read_skeleton_input
from .video import _BUILDER_ONLY, _COMMON, CLIP_ARGS, ClipDataset, RawframeDataset, VideoDataset, checked_args

__all__ = ["read_input", "read_clip_input", "INPUT_READERS"]


def read_input(data_cfg, path: str | Path) -> dict:
    """One input file/folder as a batch of one, transformed as the dataset's eval split does.

    Arrays (``.npy``; ``.npz`` with one array) are taken as one sample in the model's layout
    for datasets without a reader of their own.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(p, "input not found")
    reader = INPUT_READERS.get(data_cfg.name)
    if reader is not None:
        return reader(data_cfg, p)
    if p.suffix in (".npy", ".npz"):
        arr = load_single_array(p)
        key = "video" if "clip" in data_cfg.name else "skeleton"
        return {key: torch.from_numpy(np.asarray(arr, dtype=np.float32))[None]}
    raise DataError(p, f"dataset {data_cfg.name!r} reads .npy/.npz inputs only")


def load_single_array(p: Path) -> np.ndarray:
    """The array of a ``.npy``, or the one array of a ``.npz`` (never unpickling)."""
    try:
        arr = np.load(p, allow_pickle=False)
        if isinstance(arr, np.lib.npyio.NpzFile):
            with arr:
                if len(arr.files) != 1:
                    raise DataError(p, f"expected one array in the .npz, found {arr.files}")
                return arr[arr.files[0]]
        return arr
    except (OSError, ValueError) as e:
        raise DataError(p, f"cannot read array: {e}") from None


def read_clip_input(data_cfg, path: Path) -> dict:
    """One video file or frame folder as a batch of one, sampled and cropped as the
    evaluation split is (one view: the first clip's centre crop)."""
    args = checked_args(data_cfg, CLIP_ARGS.get(data_cfg.name, CLIP_ARGS["world_clips"]))
    common = {k: args[k] for k in _COMMON if k in args and k not in _BUILDER_ONLY + ("classes",)}
    common.update(test_clips=1, test_crops=1, training=False)
    path = Path(path)
    if path.is_dir():
        template = args.get("template", DEFAULT_TEMPLATE)
        start = int(args.get("start_index", 1))
        ds: ClipDataset = _SingleFolder(path, template, start, **common)
    else:
        ds = _SingleVideo(path, int(args.get("decode_threads", 1)), bool(args.get("strict", False)),
                          **common)
    return {"video": ds[0]["video"][None]}


class _SingleFolder(RawframeDataset):
    def __init__(self, folder: Path, template: str, start_index: int, **kwargs):
        self.template = FrameTemplate(template)
        self.start_index, self.num_frames_from = start_index, "folder"
        ClipDataset.__init__(self, [Sample(str(folder), None, 0)], source=folder, **kwargs)


class _SingleVideo(VideoDataset):
    def __init__(self, path: Path, decode_threads: int, strict: bool = False, **kwargs):
        self.decode_threads, self.strict = decode_threads, strict
        ClipDataset.__init__(self, [Sample(str(path), None, 0)], source=path, **kwargs)


INPUT_READERS: dict[str, Callable] = {
    "rawframes": read_clip_input,
    "videos": read_clip_input,
    "world_clips": read_clip_input,
    "ntu_skeleton": lambda cfg, p: read_skeleton_input(cfg, p, "ntu_skeleton"),
    "skeleton_dataset": lambda cfg, p: read_skeleton_input(cfg, p, "skeleton_dataset"),
    "rgbd_official": read_rgbd_input,
    "rgbd_world": read_rgbd_input,
    "rgbd_folders": read_rgbd_input,
}
