"""ResNet-50 (v1.5: stride on the 3x3 conv) with torchvision's module and key layout.

The layout is torchvision's on purpose (``conv1``, ``bn1``, ``layer1.0.conv1``, ...,
``layer1.0.downsample.0/1``, ``fc``): the ImageNet checkpoints users already have
(``resnet50-0676ba61.pth``, ``resnet50-11ad3fa6.pth``) load from a local path with no renaming,
and the clip models built on it (TSN, TSM, MIE-Net) keep the official key names.

A stem with other than 3 input channels (MIE-Net's 6-channel AFM output, flow stacks) is
initialised as TSN/PAN/MIE-Net do: the RGB kernel averaged over its input channels and
replicated, so an ImageNet stem keeps its response to brightness edges in every channel.

``layers`` and ``base_width`` make smaller Bottleneck ResNets of the same layout (e.g.
``layers=(1, 1, 1, 1), base_width=16`` for CPU-sized runs on the embedded world); the defaults
are ResNet-50, the only depth the official recipes and ImageNet checkpoints use.
``width_per_group`` is torchvision's: the bottleneck's inner width is ``planes * wpg / 64`` while
the stage outputs keep ``4 * planes`` channels (B-KinD's reduced-encoder fixtures use it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from ...errors import CheckpointError, ConfigError
from ..official import load_checked, read_state_dict

RESNET50_LAYERS = (3, 4, 6, 3)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride) -> 1x1 with expansion 4; torchvision's signature and attribute names."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, width_per_group: int = 64):
        super().__init__()
        width = int(planes * (width_per_group / 64.0))
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """Bottleneck ResNet: stem (7x7/2 conv, BN, ReLU, 3x3/2 max-pool), four stages, GAP, fc.

    ``num_classes=0`` replaces ``fc`` by an identity so ``forward`` returns pooled features.
    ``layers`` are the bottlenecks per stage; ``base_width`` the stem's channels and the first
    stage's bottleneck width (doubled per stage; torchvision: 64); ``width_per_group`` scales
    only the bottlenecks' inner width (torchvision's argument of that name).
    """

    def __init__(self, layers: Sequence[int] = RESNET50_LAYERS, num_classes: int = 1000,
                 in_chans: int = 3, zero_init_residual: bool = False, base_width: int = 64,
                 width_per_group: int = 64):
        super().__init__()
        layers = tuple(int(n) for n in layers)
        if len(layers) != 4 or min(layers) < 1 or base_width < 1 or width_per_group < 1:
            raise ConfigError(f"ResNet needs 4 stages of >= 1 bottleneck, base_width >= 1 and "
                              f"width_per_group >= 1; got layers={list(layers)}, "
                              f"base_width={base_width}, width_per_group={width_per_group}")
        self.layers, self.base_width, self.width_per_group = layers, base_width, width_per_group
        w = base_width
        self.inplanes = w
        self.in_chans = in_chans
        self.conv1 = nn.Conv2d(in_chans, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(w, layers[0], 1)
        self.layer2 = self._make_layer(2 * w, layers[1], 2)
        self.layer3 = self._make_layer(4 * w, layers[2], 2)
        self.layer4 = self._make_layer(8 * w, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.num_features = 8 * w * Bottleneck.expansion
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
        # torchvision's init, so random-init runs behave like theirs
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * Bottleneck.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * Bottleneck.expansion),
            )
        wpg = self.width_per_group
        layers = [Bottleneck(self.inplanes, planes, stride, downsample, wpg)]
        self.inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self.inplanes, planes, width_per_group=wpg) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and the four stages: (N, C_in, H, W) -> (N, num_features, H/32, W/32)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.avgpool(self.forward_features(x)), 1)
        return self.fc(x)


def inflate_stem_weight(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """A conv kernel (O, I, k, k) for ``in_chans`` inputs: the mean over I, replicated.

    This is TSN/PAN/MIE-Net's ``_construct_*_model`` rule (no rescaling), which keeps the
    ImageNet stem's spatial filters for any input stack.
    """
    if weight.shape[1] == in_chans:
        return weight.clone()
    mean = weight.mean(dim=1, keepdim=True)
    return mean.expand(weight.shape[0], in_chans, *weight.shape[2:]).contiguous()


@torch.no_grad()
def set_in_chans(model: ResNet, in_chans: int) -> ResNet:
    """Replace the stem conv by one taking ``in_chans`` inputs, initialised by mean replication."""
    old = model.conv1
    if old.in_channels == in_chans:
        return model
    new = nn.Conv2d(in_chans, old.out_channels, old.kernel_size, old.stride, old.padding,
                    bias=old.bias is not None).to(old.weight.device, old.weight.dtype)
    new.weight.copy_(inflate_stem_weight(old.weight, in_chans))
    if old.bias is not None:
        new.bias.copy_(old.bias)
    model.conv1 = new
    model.in_chans = in_chans
    return model


def load_imagenet(model: ResNet, checkpoint: str | os.PathLike) -> ResNet:
    """Load a torchvision-layout ImageNet ResNet checkpoint from a local file into ``model``.

    The stem is adapted to ``model.in_chans`` by mean replication; ``fc`` is loaded only when
    the model has a 1000-way ``fc`` and the file carries one. Any other mismatch (a file of
    another layout, a truncated file) raises :class:`CheckpointError` naming the file.
    """
    sd = read_state_dict(checkpoint)
    if "conv1.weight" not in sd:
        raise CheckpointError(
            checkpoint,
            "not a torchvision-layout ResNet checkpoint (no 'conv1.weight'; keys start with "
            f"{sorted(sd)[:3]})",
        )
    sd["conv1.weight"] = inflate_stem_weight(sd["conv1.weight"], model.conv1.in_channels)
    own = model.state_dict()
    fc_fits = "fc.weight" in own and "fc.weight" in sd and (
        tuple(own["fc.weight"].shape) == tuple(sd["fc.weight"].shape))
    if not fc_fits:  # a headless model, or another class count: the backbone is what we want
        sd = {k: v for k, v in sd.items() if not k.startswith("fc.")}
    # old torchvision files carry no BN ``num_batches_tracked``; the counter is not a weight
    missing = [k for k in own if k not in sd and not k.endswith("num_batches_tracked")
               and (fc_fits or not k.startswith("fc."))]
    unexpected = [k for k in sd if k not in own]
    if missing or unexpected:
        standard = (model.layers == RESNET50_LAYERS and model.base_width == 64
                    and getattr(model, "width_per_group", 64) == 64)
        arch = ("ResNet-50" if standard else
                f"ResNet (layers {list(model.layers)}, base_width {model.base_width}, "
                f"width_per_group {getattr(model, 'width_per_group', 64)})")
        raise CheckpointError(
            checkpoint,
            f"not a torchvision-layout {arch} checkpoint: "
            f"{len(missing)} missing keys (e.g. {missing[:4]}), "
            f"{len(unexpected)} unexpected keys (e.g. {unexpected[:4]})",
        )
    load_checked(model, sd, path=checkpoint, strict=False)
    return model


def resnet(layers: Sequence[int] = RESNET50_LAYERS, base_width: int = 64,
           pretrained: str | os.PathLike | None = None, num_classes: int = 1000,
           in_chans: int = 3, zero_init_residual: bool = False) -> ResNet:
    """A v1.5 Bottleneck ResNet; ``pretrained`` is a local torchvision-layout checkpoint of the
    same depth and width (loaded before the stem is adapted to ``in_chans``)."""
    model = ResNet(layers, num_classes=num_classes, in_chans=3,
                   zero_init_residual=zero_init_residual, base_width=base_width)
    if pretrained is not None:
        load_imagenet(model, pretrained)
    return set_in_chans(model, in_chans)


def resnet50(pretrained: str | os.PathLike | None = None, num_classes: int = 1000,
             in_chans: int = 3, zero_init_residual: bool = False) -> ResNet:
    """ResNet-50 v1.5; ``pretrained`` is a local torchvision-layout ImageNet checkpoint."""
    return resnet(RESNET50_LAYERS, 64, pretrained, num_classes, in_chans, zero_init_residual)
