"""Persistence of Appearance (PA, from PAN; the motion stream of MIE-Net).

Each frame of an L-frame group goes through one shallow 7x7 conv (3 -> 8 channels); PA_i is
the per-pixel L2 distance over those 8 channels between frames i and i+1, so an L-frame group
gives L-1 motion maps at full resolution, at the cost of one small conv instead of optical flow.

The distance is written out as ``sqrt(sum_c (f_i - f_{i+1} + eps)^2)`` with ``eps = 1e-6``
inside the norm. The released code calls ``nn.PairwiseDistance`` on ``(N, 8, H*W)`` tensors,
which reduced over the 8 channels only in PyTorch <= 1.9; newer versions reduce over the last
axis and the official forward crashes (PAN-PyTorch issue #16). The explicit channel norm is what
the released code computed when it ran, so there is no separate "released" mode to reproduce.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError, DataError

PA_EPS = 1e-6
PA_INITS = ("default", "pan")


def appearance_distance(features: torch.Tensor, eps: float = PA_EPS) -> torch.Tensor:
    """``(N, L, C, H, W)`` features -> ``(N, L-1, H, W)`` L2 distances over C between neighbours.

    ``eps`` is added to the difference inside the norm, as ``F.pairwise_distance`` does; it
    also keeps the gradient finite where two frames are identical.
    """
    diff = features[:, :-1] - features[:, 1:] + eps
    return diff.square().sum(dim=2).sqrt()


class BasicConv(nn.Module):
    """conv -> BN (momentum 0.01) -> ReLU; only here for PA's dead ``conv1``-``conv3`` keys."""

    def __init__(self, in_planes: int, out_planes: int, kernel_size: int = 3, padding: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_planes, out_planes, kernel_size, 1, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_planes, eps=1e-5, momentum=0.01)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class PersistenceOfAppearance(nn.Module):
    """PA over groups of ``n_length`` consecutive RGB frames (official class ``PA``).

    Args:
        n_length: frames per group (MIE-Net/PAN-Lite: 4, giving 3 PA maps per segment).
        init: ``"default"`` keeps PyTorch's Conv2d init (the released MIE-Net);
            ``"pan"`` draws the shallow conv from N(0, 0.001) with zero bias (PAN-PyTorch).
        include_dead_params: also build the released ``conv1``-``conv3`` BasicConvs (393 parameters)
            that the official forward never uses, to reproduce its parameter total and keys.
    """

    def __init__(self, n_length: int = 4, init: str = "default", include_dead_params: bool = False):
        super().__init__()
        if n_length < 2:
            raise ConfigError(f"PA needs at least 2 frames per group, got n_length={n_length}")
        if init not in PA_INITS:
            raise ConfigError(f"unknown PA init {init!r} (known: {', '.join(PA_INITS)})")
        self.n_length = n_length
        self.shallow_conv = nn.Conv2d(3, 8, 7, 1, 3)
        if init == "pan":
            nn.init.normal_(self.shallow_conv.weight, 0.0, 0.001)
            nn.init.zeros_(self.shallow_conv.bias)
        if include_dead_params:
            self.conv1 = BasicConv(3, 3)
            self.conv2 = BasicConv(3, 8)
            self.conv3 = BasicConv(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """RGB frames, any leading layout that flattens to ``(N*L, 3, H, W)`` group-major
        (e.g. the TSN stack ``(B, T*L*3, H, W)``) -> PA maps ``(N, L-1, H, W)``."""
        h, w = x.shape[-2:]
        total = x.numel() // (h * w)
        if x.ndim < 3 or total % (3 * self.n_length):
            raise DataError(
                None, f"PA input of shape {tuple(x.shape)} does not hold groups of "
                f"{self.n_length} RGB frames ({total} channels is not a multiple of "
                f"{3 * self.n_length})")
        f = self.shallow_conv(x.reshape(-1, 3, h, w))
        f = f.reshape(-1, self.n_length, f.shape[1], h, w)
        return appearance_distance(f)
