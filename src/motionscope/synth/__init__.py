"""The embedded procedural motion world: the default dataset of every command (no torch).

``generate_world(out, ...)`` writes a world in the real on-disk formats and returns its
``manifest.json``; the modules below it are usable on their own (a body and its actions, NTU-style
cameras and recording plans, the renderer). See docs/world.md.
"""

from __future__ import annotations

from .actions import BMP_ACTIONS, ActionClass, Motion, generate_motion, get_classes
from .body import BODY_JOINTS, BodyShape, PoseSpec, forward, sample_shape, to_layout
from .camera import Camera, ClipPlan, performer, plan_world, setup_params, view_angle
from .jobs import generate_world
from .plan import ALL_FORMATS, DEFAULT_FORMATS, WorldConfig, render_plan
from .render import RenderOut, render_clip

__all__ = [
    "generate_world", "WorldConfig", "DEFAULT_FORMATS", "ALL_FORMATS", "render_plan",
    "BMP_ACTIONS", "ActionClass", "Motion", "generate_motion", "get_classes",
    "BODY_JOINTS", "BodyShape", "PoseSpec", "forward", "sample_shape", "to_layout",
    "Camera", "ClipPlan", "performer", "plan_world", "setup_params", "view_angle",
    "RenderOut", "render_clip",
]
