"""DRSR's FRP module: dynamic-image motion attention injected into a CNN, 2 parameters in all.

``FRP(x, h) = w0 * x + w1 * x * (h + 1)`` per frame, with the heat map ``h`` (the dynamic
motion map of the input frames, ``(B, 1, T, H, W)`` in [0, 1]) max-pooled 2x2 (floor) until its
width is no larger than the feature's. The official ``FRP_Module`` stacks ``[x, x*(h+1)]`` and
mixes them with a ``Conv1d(2 -> 1, k=1, no bias)`` initialised to ``[1, 0]`` (key
``rpconv1d.weight``, shape (1, 2, 1)); at that init FRP is the identity, so the tap
``x = FRP(x, h) + x`` doubles the features. One instance is shared by all taps.

This version runs on the whole clip at once on the tensor's device (the official loops over
frames and builds a helper with ``torch.ones(...).cuda()``); the pooled heat maps can be
reused between taps (:class:`HeatPyramid`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import DataError


def pool_heat_to(heat: torch.Tensor, width: int) -> torch.Tensor:
    """Max-pool ``(B, 1, T, H, W)`` 2x2 per frame, repeatedly, until its width is <= ``width``."""
    while heat.shape[-1] > width:
        heat = F.max_pool3d(heat, (1, 2, 2), (1, 2, 2))
    return heat


class HeatPyramid:
    """A heat map and its pooled versions, computed once per forward and shared by the taps."""

    def __init__(self, heat: torch.Tensor):
        self._levels = [heat]

    def at_width(self, width: int) -> torch.Tensor:
        for h in self._levels:  # levels only shrink, so the first that fits is the official one
            if h.shape[-1] <= width:
                return h
        h = pool_heat_to(self._levels[-1], width)
        self._levels.append(h)
        return h


class FRPModule(nn.Module):
    """``w0 * x + w1 * x * (h + 1)`` with ``(w0, w1) = rpconv1d.weight``, init ``[1, 0]``."""

    def __init__(self, window: int = 10):
        super().__init__()
        self.window = window  # the official ``w``: w < 1 switches FRP off (identity)
        self.rpconv1d = nn.Conv1d(2, 1, 1, bias=False)
        with torch.no_grad():
            self.rpconv1d.weight.copy_(torch.tensor([[[1.0], [0.0]]]))

    def forward(self, x: torch.Tensor, heat: torch.Tensor | HeatPyramid) -> torch.Tensor:
        """``x`` (B, C, T, H, W), ``heat`` (B, 1, T, H', W') or a :class:`HeatPyramid`."""
        if self.window < 1:
            return x
        h = heat.at_width(x.shape[-1]) if isinstance(heat, HeatPyramid) else pool_heat_to(heat, x.shape[-1])
        if h.shape[-2:] != x.shape[-2:]:
            raise DataError(None, f"FRP: the heat map pools to {tuple(h.shape[-2:])} but the features are "
                                  f"{tuple(x.shape[-2:])}: the frame size must halve exactly down the stem "
                                  "(a multiple of 32, e.g. 224; the official code fails the same way)")
        w = self.rpconv1d.weight.reshape(2).to(x.dtype)
        return w[0] * x + w[1] * (x * (h + 1))

    def extra_repr(self) -> str:
        return f"window={self.window}"


__all__ = ["FRPModule", "HeatPyramid", "pool_heat_to"]
