"""I3D-style building blocks with TensorFlow "SAME" padding, and DRSR's spatial Inception stem.

The official DRSR code (itself from DeepMind's kinetics-i3d port) pads every convolution and
max-pool with TF "SAME" rules at run time, whatever ``padding=`` the layer was given:
``pad = max(k - s, 0)`` when ``size % s == 0`` else ``max(k - size % s, 0)``, front ``pad // 2``,
back the rest. The max-pools pad with **zeros** (``F.pad``), not -inf; that matters wherever the
input can be negative (after DRSR's FRP taps, and for the temporal Inception on tokens).

Key names are the official ones (``conv3d``, ``bn``, ``b0``, ``b1a`` ... ``b3b``,
``Conv3d_1a_7x7`` ... ``Mixed_5c``), so official checkpoints load unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding (front, back) of one axis, as the official ``compute_pad``."""
    pad = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return pad // 2, pad - pad // 2


def pad_same_3d(x: torch.Tensor, kernel: Sequence[int], stride: Sequence[int]) -> torch.Tensor:
    """Zero-pad ``(B, C, T, H, W)`` for a TF-"SAME" 3-D window (zeros also before a max-pool)."""
    t, h, w = x.shape[-3:]
    pt, ph, pw = (same_pad(s, k, st) for s, k, st in zip((t, h, w), kernel, stride))
    if not any(pt + ph + pw):
        return x
    return F.pad(x, (*pw, *ph, *pt))


def _triple(v: int | Sequence[int]) -> tuple[int, int, int]:
    return (v, v, v) if isinstance(v, int) else tuple(v)  # type: ignore[return-value]


class Unit3D(nn.Module):
    """Conv3d (no bias) + BatchNorm3d (eps 1e-3, momentum 0.01) + ReLU, TF "SAME" padding."""

    def __init__(self, in_channels: int, output_channels: int,
                 kernel_shape: int | Sequence[int] = (1, 1, 1),
                 stride: int | Sequence[int] = (1, 1, 1), use_batch_norm: bool = True,
                 use_bias: bool = False, activation: bool = True):
        super().__init__()
        self.kernel_shape, self.stride = _triple(kernel_shape), _triple(stride)
        self.activation = activation
        self.conv3d = nn.Conv3d(in_channels, output_channels, self.kernel_shape, self.stride,
                                padding=0, bias=use_bias)
        self.bn = nn.BatchNorm3d(output_channels, eps=1e-3, momentum=0.01) if use_batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(pad_same_3d(x, self.kernel_shape, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.activation else x


class MaxPool3dSamePadding(nn.Module):
    """Max-pool with TF "SAME" padding by zeros (the official ``F.pad`` before ``MaxPool3d``)."""

    def __init__(self, kernel_size: int | Sequence[int], stride: int | Sequence[int] = 1):
        super().__init__()
        self.kernel_size, self.stride = _triple(kernel_size), _triple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(pad_same_3d(x, self.kernel_size, self.stride), self.kernel_size,
                            self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class InceptionModule(nn.Module):
    """Four-branch Inception block: 1x1 | 1x1 -> k | 1x1 -> k | 3x3x3 (or 3x1x1) pool -> 1x1.

    ``temporal=False`` is the official ``SpatialInceptionModule`` (k = 1x3x3, pool 3x3x3: the
    stem's only operation that mixes frames); ``temporal=True`` the ``TemporalInceptionModule``
    of DRSR's DTN layer 1 (k = 3x1x1, pool 3x1x1). ``out_channels`` = (b0, b1a, b1b, b2a, b2b,
    b3b); the output has ``b0 + b1b + b2b + b3b`` channels.
    """

    def __init__(self, in_channels: int, out_channels: Sequence[int], temporal: bool = False):
        super().__init__()
        if len(out_channels) != 6:
            raise ValueError(f"an Inception block takes 6 widths, got {list(out_channels)}")
        c = list(out_channels)
        k = (3, 1, 1) if temporal else (1, 3, 3)
        self.b0 = Unit3D(in_channels, c[0])
        self.b1a = Unit3D(in_channels, c[1])
        self.b1b = Unit3D(c[1], c[2], k)
        self.b2a = Unit3D(in_channels, c[3])
        self.b2b = Unit3D(c[3], c[4], k)
        self.b3a = MaxPool3dSamePadding((3, 1, 1) if temporal else (3, 3, 3), 1)
        self.b3b = Unit3D(in_channels, c[5])
        self.out_channels = c[0] + c[2] + c[4] + c[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)),
                          self.b3b(self.b3a(x))], dim=1)


# (name, kind, args): the truncated Inception-v1 of DRSR (Mixed_4d/4e/4f removed), every
# convolution with temporal kernel 1
STEM_LAYOUT: tuple[tuple[str, str, tuple], ...] = (
    ("Conv3d_1a_7x7", "unit", (64, (1, 7, 7), (1, 2, 2))),
    ("MaxPool3d_2a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Conv3d_2b_1x1", "unit", (64, (1, 1, 1), (1, 1, 1))),
    ("Conv3d_2c_3x3", "unit", (192, (1, 3, 3), (1, 1, 1))),
    ("MaxPool3d_3a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Mixed_3b", "mixed", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", "mixed", (128, 128, 192, 32, 96, 64)),
    ("MaxPool3d_4a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Mixed_4b", "mixed", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", "mixed", (160, 112, 224, 24, 64, 64)),
    ("MaxPool3d_5a_2x2", "pool", ((1, 2, 2), (1, 2, 2))),
    ("Mixed_5b", "mixed", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", "mixed", (384, 192, 384, 48, 128, 128)),
)
# where DRSR's FRP module taps the stem: x = FRP(x, heat) + x right after these blocks
FRP_TAPS = ("Mixed_3b", "Mixed_4b", "Mixed_5b")
STEM_CHANNELS = 1024


def build_stem(module: nn.Module, in_channels: int = 3) -> list[str]:
    """Add the stem's end points to ``module`` as top-level children (the official key layout:
    ``Conv3d_1a_7x7.conv3d.weight``, ``Mixed_3b.b0.bn.running_mean`` ...); returns their names."""
    c = in_channels
    for name, kind, args in STEM_LAYOUT:
        if kind == "unit":
            layer: nn.Module = Unit3D(c, args[0], args[1], args[2])
            c = args[0]
        elif kind == "pool":
            layer = MaxPool3dSamePadding(*args)
        else:
            layer = InceptionModule(c, args)
            c = layer.out_channels
        module.add_module(name, layer)
    return [name for name, _, _ in STEM_LAYOUT]


def run_stem(module: nn.Module, x: torch.Tensor,
             tap: Callable[[str, torch.Tensor], torch.Tensor] | None = None,
             record: dict | None = None) -> torch.Tensor:
    """Run the end points that :func:`build_stem` added; ``tap(name, x)`` after each FRP tap
    block; ``record`` (a dict) receives every end point's output, and ``<name>_frp`` after a tap."""
    for name, _, _ in STEM_LAYOUT:
        x = module._modules[name](x)
        if record is not None:
            record[name] = x
        if tap is not None and name in FRP_TAPS:
            x = tap(name, x)
            if record is not None:
                record[name + "_frp"] = x
    return x


__all__ = ["same_pad", "pad_same_3d", "Unit3D", "MaxPool3dSamePadding", "InceptionModule",
           "STEM_LAYOUT", "FRP_TAPS", "STEM_CHANNELS", "build_stem", "run_stem"]
