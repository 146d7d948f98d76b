"""``load_state_dict`` with shape checks and one readable error: the one checked load used by
the engine (resume), the tasks (finished runs) and every model family (pretrained weights).

It lives below ``models/`` and ``engine/`` so that neither has to import the other for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn

from .errors import CheckpointError

__all__ = ["load_checked", "load_error_reason", "refused_global"]


def refused_global(message: str) -> str | None:
    """The global a weights-only load refused, from torch's error message (None: not a refusal)."""
    m = re.search(r"GLOBAL (\S+) (?:was not an allowed global|whose module)", message)
    return m.group(1) if m else None


def load_error_reason(e: BaseException) -> str:
    """torch's load error without its advice to load unsafely: one line."""
    text = str(e).split("WeightsUnpickler error:", 1)[-1]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Weights only load failed", "(1)", "(2)",
                                                      "Check the documentation"))]
    return f"{type(e).__name__}: {lines[0] if lines else repr(e)}"


def load_checked(model: nn.Module, sd: Mapping[str, torch.Tensor], path=None, strict: bool = True):
    """``load_state_dict`` with shape checks and one readable error instead of torch's."""
    own = model.state_dict()
    bad = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in sd.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    ]
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    if bad:
        raise CheckpointError(path, "shape mismatch for " + "; ".join(bad[:8]))
    if strict and (missing or unexpected):
        msg = []
        if missing:
            msg.append(f"{len(missing)} missing keys (e.g. {missing[:5]})")
        if unexpected:
            msg.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[:5]})")
        raise CheckpointError(path, "checkpoint does not fit the model: " + ", ".join(msg))
    model.load_state_dict(dict(sd), strict=False)
    return missing, unexpected
