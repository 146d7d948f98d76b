"""The dataset index: one :class:`Sample` per video/sequence, shared by every list format.

Each annotation format users have (``dir num_frames label`` rawframe lists, ``path,label`` video
CSVs, NTU names, skeleton datasets) is read into the same list of samples, so samplers and
Datasets never care where the index came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .paths import resolve_under


@dataclass
class Sample:
    """``path`` to the clip/frame folder/sequence, ``num_frames`` (None when the list does not
    say), 0-based ``label`` (None for unlabelled data) and free-form ``meta``. The list readers
    record where a sample comes from: ``meta["list"]`` (the list file) and ``meta["line"]``
    (its 1-based line), so a check on the sample can name both."""

    path: str
    num_frames: int | None = None
    label: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def join_root(root: str | os.PathLike | None, rel: str, *,
              source: str | os.PathLike | None = None, line: int | None = None) -> str:
    """A list entry below ``root``: absolute entries and entries that leave ``root`` are refused
    with a :class:`~motionscope.errors.DataError` naming ``source`` and ``line``
    (:func:`motionscope.io.paths.resolve_under`). ``root=None`` keeps the entry as written
    (a caller of the Python API that has no root)."""
    if root is None:
        return rel
    return str(resolve_under(root, rel, source=source, line=line))
