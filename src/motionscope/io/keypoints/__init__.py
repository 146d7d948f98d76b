"""2D keypoint files: AlphaPose JSON, COCO keypoint JSON, DeepLabCut CSV/H5, SLEAP .slp/.h5.

Everything is read into one container, :class:`KeypointSet`: ``keypoints (M, T, V, 2)`` float32
pixels and ``scores (M, T, V)`` float32 for M persons/animals, T frames, V joints. A person
missing from a frame, and a joint that was not detected/labelled/visible, is **NaN with score 0**,
so downstream code never mistakes (0, 0) for a real position.

Person slots (M): tracked files (AlphaPose ``idx``, COCO ``track_id``, SLEAP tracks, DLC
individuals) give each track its own slot in order of first appearance (SLEAP/DLC: file order).
Untracked detections fill slots per frame in file order (AlphaPose: by descending score).

One module per format: :mod:`.alphapose`, :mod:`.coco`, :mod:`.dlc` (CSV and pandas HDF5,
decoded without pandas), :mod:`.sleap`; :mod:`.core` holds the container and what they share,
:mod:`.dispatch` :func:`read_keypoints`. Import the names from this package.
"""

from __future__ import annotations

from .alphapose import read_alphapose_json, write_alphapose_json
from .coco import read_coco_json, write_coco_json
from .core import KeypointSet
from .dispatch import read_keypoints
from .dlc import read_dlc_csv, read_dlc_h5, write_dlc_csv, write_dlc_h5
from .sleap import read_sleap, read_sleap_analysis

__all__ = [
    "KeypointSet",
    "read_keypoints",
    "read_alphapose_json",
    "write_alphapose_json",
    "read_coco_json",
    "write_coco_json",
    "read_dlc_csv",
    "write_dlc_csv",
    "read_dlc_h5",
    "write_dlc_h5",
    "read_sleap",
    "read_sleap_analysis",
]
