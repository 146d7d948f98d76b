"""``read_keypoints(path)``: the reader chosen by extension and content."""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from ...errors import DataError
from .alphapose import read_alphapose_json
from .coco import read_coco_json
from .core import KeypointSet, _load_json
from .dlc import read_dlc_csv, read_dlc_h5
from .sleap import read_sleap, read_sleap_analysis


def read_keypoints(path: str | os.PathLike, **kwargs) -> KeypointSet:
    """Read any supported keypoint file, choosing the reader from extension and content."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "keypoint file not found")
    ext = path.suffix.lower()
    if ext == ".json":
        data = _load_json(path)
        if isinstance(data, dict) and "annotations" in data:
            return read_coco_json(path, **kwargs)
        return read_alphapose_json(path, **kwargs)
    if ext == ".csv":
        return read_dlc_csv(path, **kwargs)
    if ext in (".slp", ".h5", ".hdf5"):
        try:
            with h5py.File(path, "r") as f:
                kind = ("sleap" if "instances" in f and "frames" in f else
                        "analysis" if "tracks" in f and "node_names" in f else
                        "dlc" if any("pandas_type" in f[k].attrs for k in f) else None)
        except OSError as e:
            raise DataError(path, f"not an HDF5 file ({e})") from None
        if kind == "sleap":
            return read_sleap(path, **kwargs)
        if kind == "analysis":
            return read_sleap_analysis(path, **kwargs)
        if kind == "dlc":
            return read_dlc_h5(path, **kwargs)
        raise DataError(path, "HDF5 file is neither SLEAP (.slp / analysis) nor DeepLabCut")
    raise DataError(path, f"unknown keypoint format {ext!r} (expected .json, .csv, .h5, .slp)")
