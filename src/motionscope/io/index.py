"""The dataset index: one :class:`Sample` per video/sequence, shared by every list format.

Each annotation format users have (``dir num_frames label`` rawframe lists, ``path,label`` video
CSVs, NTU names, skeleton datasets) is read into the same list of samples, so samplers and
Datasets never care where the index came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Sample:
    """``path`` to the clip/frame folder/sequence, ``num_frames`` (None when the list does not
    say), 0-based ``label`` (None for unlabelled data) and free-form ``meta``."""

    path: str
    num_frames: int | None = None
    label: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def join_root(root: str | os.PathLike | None, rel: str) -> str:
    """Prefix a list entry with ``root`` unless it is absolute (lists hold relative paths)."""
    if root is None or os.path.isabs(rel):
        return rel
    return str(Path(root) / rel)
