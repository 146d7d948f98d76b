"""Point-light displays and temporal manipulations: the 24 BMP conditions (no torch).

``generate_stimuli(source, out, conditions="all")`` renders the Motion Perceiver BMP benchmark
from an embedded world, an NTU RGB+D root or any 2D keypoint files (see docs/bmp.md); the
modules below it work on their own: :mod:`.conditions` (the 24 conditions, frame-index rules,
the paper's numbers), :mod:`.halpe` (any pose source -> Halpe-26), :mod:`.render` (dots),
:mod:`.encode` (fast mp4/GIF writers), :mod:`.sources` (finding and reading samples).
"""

from __future__ import annotations

from .conditions import (
    CONDITION_NAMES,
    CONDITIONS,
    GROUPS,
    PAPER_TOP1,
    Condition,
    condition_indices,
    get_condition,
    parse_conditions,
    replication_indices,
)
from .generate import generate_stimuli, render_condition
from .halpe import Pose, from_keypoint_set, from_ntu_skeleton, from_world_npz
from .sources import SampleSource, discover, load_pose, load_video

__all__ = [
    "generate_stimuli", "render_condition", "Condition", "CONDITIONS", "CONDITION_NAMES",
    "GROUPS", "PAPER_TOP1", "get_condition", "parse_conditions", "condition_indices",
    "replication_indices", "Pose", "from_keypoint_set", "from_ntu_skeleton", "from_world_npz",
    "SampleSource", "discover", "load_pose", "load_video",
]
