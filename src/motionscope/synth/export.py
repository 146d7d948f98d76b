"""The world writer's public names, where they were before the split into :mod:`.plan` (what a
world is made of), :mod:`.write` (its files) and :mod:`.jobs` (the workers and
:func:`generate_world`)."""

from __future__ import annotations

from .jobs import MANIFEST, generate_world
from .plan import ALL_FORMATS, DEFAULT_FORMATS, WorldConfig, render_plan
from .write import save_npz

__all__ = ["WorldConfig", "generate_world", "DEFAULT_FORMATS", "ALL_FORMATS", "render_plan",
           "save_npz", "MANIFEST"]
