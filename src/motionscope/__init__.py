"""motionscope: recognise actions from how things move.

The heavy parts (torch models, engine) are imported lazily so that ``motionscope.io``,
``motionscope.synth`` and ``motionscope.stimuli`` stay usable without torch.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "create_model", "list_models"]


def __getattr__(name: str):
    if name in ("create_model", "list_models"):
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module 'motionscope' has no attribute {name!r}")
