"""The one progress bar of every long command (train, prepare, synth, stimuli, ...).

It lives below every subpackage (it needs only tqdm), so ``io``, ``synth``, ``stimuli`` and
``prepare`` show the same bar as the engine without importing it (or torch).
``MOTIONSCOPE_NO_PROGRESS=1`` silences every bar (tests, logs of batch jobs).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable


def progress_enabled(requested: bool = True) -> bool:
    """Whether a bar is shown: asked for and not silenced by ``MOTIONSCOPE_NO_PROGRESS``."""
    return bool(requested) and not os.environ.get("MOTIONSCOPE_NO_PROGRESS")


def progress(iterable: Iterable | None = None, total: int | None = None, desc: str = "",
             enabled: bool = True, unit: str = "it", **kw):
    """A tqdm bar on stderr, disabled (a no-op with the same methods) when not enabled."""
    from tqdm.auto import tqdm

    kw.setdefault("leave", False)
    return tqdm(iterable, total=total, desc=desc, unit=unit, dynamic_ncols=True,
                disable=not progress_enabled(enabled), file=sys.stderr, **kw)


__all__ = ["progress", "progress_enabled"]
