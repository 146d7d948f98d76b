"""CPN's GlobalNet (Cascaded Pyramid Network, Chen et al. 2018): a feature-pyramid heatmap head.

For pyramid levels i = 0..3 (coarse to fine): ``lateral_i`` (1x1 conv to 256 + BN + ReLU) of the
level's feature, plus the previous level's ``upsample`` (bilinear x2, align_corners=True, 1x1
conv + BN, no ReLU); ``predict_i`` (1x1 conv + BN + ReLU, 3x3 conv to the class count,
bilinear resize to the output size with align_corners=True, BN) gives each level's heatmap
logits. Module and key names are the official ones (``laterals.{i}.{0,1}``,
``upsamples.{i}.{1,2}``, ``predict.{i}.{0,1,3,5}``), so B-KinD checkpoints load unchanged.

The output size is an argument of ``forward`` (default: the finest level's size) instead of a
constant of the module, so one head serves any input size (B-KinD extracts at 256 px what it
trained at 128).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class GlobalNet(nn.Module):
    """Heatmap logits of ``num_class`` maps from a feature pyramid ``[c_0, ..., c_3]`` (coarse first)."""

    def __init__(self, channel_settings: Sequence[int] = (2048, 1024, 512, 256), num_class: int = 10,
                 width: int = 256):
        super().__init__()
        self.channel_settings = tuple(int(c) for c in channel_settings)
        self.num_class = num_class
        n = len(self.channel_settings)
        self.laterals = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, width, 1, bias=False), nn.BatchNorm2d(width),
                          nn.ReLU(inplace=True)) for c in self.channel_settings)
        self.upsamples = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
                          nn.Conv2d(width, width, 1, bias=False), nn.BatchNorm2d(width))
            for _ in range(n - 1))
        # index 4 (the resize) has no parameters; forward resizes to the requested size
        self.predict = nn.ModuleList(
            nn.Sequential(nn.Conv2d(width, width, 1, bias=False), nn.BatchNorm2d(width),
                          nn.ReLU(inplace=True), nn.Conv2d(width, num_class, 3, padding=1, bias=False),
                          nn.Identity(), nn.BatchNorm2d(num_class)) for _ in range(n))
        for m in self.modules():  # CPN's own init (B-KinD's model overrides it)
            if isinstance(m, nn.Conv2d):
                fan = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _predict(self, i: int, feature: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        p = self.predict[i]
        x = p[3](p[2](p[1](p[0](feature))))
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        return p[5](x)

    def _upsample(self, i: int, feature: torch.Tensor) -> torch.Tensor:
        """``upsamples[i]``: bilinear x2, 1x1 conv, BN. In eval mode the conv and BN run before
        the resize, at a quarter of the pixels: both are per-pixel affine maps and bilinear
        weights sum to one, so the two orders agree up to float rounding (in training BN's
        batch statistics would differ)."""
        m = self.upsamples[i]
        if self.training:
            return m(feature)
        return m[0](m[2](m[1](feature)))

    def forward(self, features: Sequence[torch.Tensor], output_size: tuple[int, int] | None = None,
                levels: Sequence[int] | None = None) -> list[torch.Tensor]:
        """Per-level logits ``(N, num_class, *output_size)``, coarse to fine.

        ``features`` are the pyramid levels, coarse first (extra trailing entries are ignored);
        ``output_size`` defaults to the finest level's size. ``levels`` limits which predict
        heads run (B-KinD uses only the finest; the laterals always run).
        """
        n = len(self.channel_settings)
        if len(features) < n:
            raise ValueError(f"GlobalNet needs {n} feature levels, got {len(features)}")
        size = tuple(output_size) if output_size is not None else tuple(features[n - 1].shape[-2:])
        want = set(range(n)) if levels is None else {i % n for i in levels}
        outs: list[torch.Tensor] = []
        up = None
        for i in range(n):
            feature = self.laterals[i](features[i])
            if up is not None:
                if feature.shape[-2:] != up.shape[-2:]:
                    raise ValueError(f"feature level {i} is {tuple(feature.shape[-2:])} but the "
                                     f"upsampled level {i - 1} is {tuple(up.shape[-2:])}: the input "
                                     "size must be a multiple of 32")
                feature = feature + up
            if i != n - 1:
                up = self._upsample(i, feature)
            if i in want:
                outs.append(self._predict(i, feature, size))
        return outs


__all__ = ["GlobalNet"]
