"""``load_state_dict`` with shape checks and one readable error: the one checked load used by
the engine (resume), the tasks (finished runs) and every model family (pretrained weights).

It lives below ``models/`` and ``engine/`` so that neither has to import the other for it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from .errors import CheckpointError

__all__ = ["load_checked"]


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
