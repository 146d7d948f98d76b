"""VGG19 ``features`` in torchvision's layout, returning the activations at chosen indices.

The perceptual losses of B-KinD (and of most keypoint-bottleneck methods) compare VGG19
activations of the reconstruction and its target. The modules sit in a ``ModuleList`` named
``features`` with torchvision's indices (``features.0`` = conv1_1, ``features.3`` = relu1_2,
... ``features.31`` = relu5_2), so ``vgg19-dcbb9e9d.pth`` loads from a local file with no
renaming (its ``classifier.*`` and the layers past the last tap are not needed and ignored).
Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from ...errors import CheckpointError
from ..official import load_checked, read_state_dict

VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
             512, 512, 512, 512, "M")
# relu1_2, relu2_2, relu3_2, relu4_2, relu5_2: B-KinD's perceptual layers
PERCEPTUAL_TAPS = (3, 8, 13, 22, 31)
VGG19_NUM_MODULES = 37


def make_features(cfg: Sequence = VGG19_CFG) -> list[nn.Module]:
    """torchvision's ``make_layers`` (no batch norm): conv3x3 + ReLU per number, max-pool per 'M'."""
    layers: list[nn.Module] = []
    c = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            c = int(v)
    return layers


class VGGFeatures(nn.Module):
    """The first ``num_modules`` modules of VGG19 ``features``; ``forward`` returns the outputs
    at ``taps`` (those below ``num_modules``), in order.

    The default keeps modules 0..31 (through relu5_2): the five modules after it exist in the
    official loss network but never reach its outputs. ``init="official"`` is torchvision's
    random init (kaiming-normal fan-out convs, zero biases).
    """

    def __init__(self, num_modules: int | None = None, taps: Sequence[int] = PERCEPTUAL_TAPS,
                 cfg: Sequence = VGG19_CFG):
        super().__init__()
        modules = make_features(cfg)
        n = max(taps) + 1 if num_modules is None else int(num_modules)
        if not 0 < n <= len(modules):
            raise ValueError(f"num_modules must be in 1..{len(modules)}, got {n}")
        self.features = nn.ModuleList(modules[:n])
        self.taps = tuple(t for t in taps if t < n)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        last = self.taps[-1] if self.taps else -1
        for i, m in enumerate(self.features):
            x = m(x)
            if i in self.taps:
                out.append(x)
            if i >= last:
                break
        return out


def load_vgg_weights(model: VGGFeatures, checkpoint: str | os.PathLike) -> VGGFeatures:
    """Load a torchvision-layout VGG19 checkpoint (``features.N.weight/bias``, optionally
    ``classifier.*``) from a local file; keys past ``model``'s modules are ignored, a missing or
    misshapen one is a :class:`CheckpointError` naming the file."""
    sd = read_state_dict(checkpoint)
    own = model.state_dict()
    if not any(k.startswith("features.") for k in sd):
        raise CheckpointError(checkpoint, "not a torchvision-layout VGG checkpoint (no "
                                          f"'features.*' keys; keys start with {sorted(sd)[:3]})")
    missing = [k for k in own if k not in sd]
    if missing:
        raise CheckpointError(checkpoint, f"not a VGG19 checkpoint: {len(missing)} of the needed "
                                          f"keys are missing (e.g. {missing[:4]})")
    load_checked(model, {k: sd[k] for k in own}, path=checkpoint, strict=True)
    return model


__all__ = ["VGG19_CFG", "PERCEPTUAL_TAPS", "VGG19_NUM_MODULES", "VGGFeatures", "make_features",
           "load_vgg_weights"]
