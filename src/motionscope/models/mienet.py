"""MIE-Net (PA + AFM + DPTAM on a TSN ResNet-50) and the TSN / TSN+DPTAM / TSM clip baselines.

One class, :class:`MIENet`, covers the four models exactly as the official ``MIE`` class (a
renamed PAN/TSN class) does: a 2D ResNet-50 applied to one image per segment, dropout, a
per-segment ``new_fc`` and the average over segments before the softmax.

- ``modality="lite"``: each segment brings L = 4 consecutive frames; PA turns them into 3 motion
  maps, AFM fuses them with the segment's first frame into 6 channels for a 6-channel stem.
- ``modality="rgb"``: the segment's first frame only (plain TSN input).
- ``temporal="dptam"``: DPTAM after conv1-bn1-relu of all 16 bottlenecks;
  ``"tsm"``: TSM's residual temporal shift (1/8 of the channels each way) before every conv1;
  ``"none"``: none.

Input layout: ``batch["video"]`` is ``(B, 3, T*L, H, W)`` (the clip contract, frames of one
segment consecutive) or the official stack ``(B, T*L*3, H, W)``; L frames per segment (4 for
MIE-Net, any L >= 1 for the RGB models, which use the first frame of each group).

Key names are the official ones (``PA.*``, ``w``, ``base_model.layerX.Y.net.*`` /
``.tlam.*`` for DPTAM, ``base_model.layerX.Y.conv1.net.*`` for TSM, ``new_fc.*``), so official
MIE-Net, TSN and TSM checkpoints load through :func:`motionscope.models.official.load_official`;
:func:`convert_official` only drops the released code's dead modules.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, DataError
from ..motion.pa import PersistenceOfAppearance
from .baselines import classification_losses
from .layers.resnet import RESNET50_LAYERS, Bottleneck, ResNet, resnet

MODALITIES = ("lite", "rgb")
TEMPORAL = ("dptam", "tsm", "none")
AFM_ALPHA = ("learnable", "frozen")


# ---------------------------------------------------------------------------------------- AFM
def afm_fuse(rgb: torch.Tensor, pa: torch.Tensor, w: torch.Tensor) -> dict[str, torch.Tensor]:
    """Adaptive Fusion Module: ``cat(alpha1 * s*rgb, alpha2 * s*pa)``, ``s = sigmoid(GAP(rgb+pa))``.

    One gate per channel index, shared by the RGB and PA channel of that index (no conv/FC),
    and ``(alpha1, alpha2) = softmax(w)``; ``rgb`` and ``pa`` are ``(N, 3, H, W)``.
    """
    gate = torch.sigmoid(F.adaptive_avg_pool2d(rgb + pa, 1))
    alpha = torch.softmax(w, dim=0)
    x_adp = torch.cat((gate * rgb * alpha[0], gate * pa * alpha[1]), dim=1)
    return {"afm_gate": gate, "alpha": alpha, "x_adp": x_adp}


def _afm_weight(afm_alpha: str) -> nn.Parameter:
    if afm_alpha not in AFM_ALPHA:
        raise ConfigError(f"unknown afm_alpha {afm_alpha!r} (known: {', '.join(AFM_ALPHA)})")
    # "frozen": the released optimiser policy never collects w, so alpha stays softmax([1, 1])
    return nn.Parameter(torch.ones(2), requires_grad=afm_alpha == "learnable")


def lite_fusion(frames: torch.Tensor, pa_module: nn.Module, w: torch.Tensor) -> dict:
    """``(N, L, 3, H, W)`` frame groups -> PA maps, first frames and the AFM output X_ADP."""
    pa = pa_module(frames)
    rgb = frames[:, 0]
    if pa.shape[1] != rgb.shape[1]:
        raise DataError(None, f"AFM adds PA to RGB channel-wise, so it needs groups of 4 frames "
                              f"(3 PA maps); got {frames.shape[1]} frames per segment")
    return {"pa": pa, "rgb_first_frames": rgb, **afm_fuse(rgb, pa, w)}


class LiteAFM(nn.Module):
    """The Lite front end of official ``MIE`` (PA + AFM), without the backbone.

    Takes the official stack ``(B, T*L*3, H, W)`` and returns X_ADP ``(B*T, 6, H, W)``; the same
    keys (``PA.*``, ``w``) and math as :class:`MIENet`'s front end.
    """

    def __init__(self, data_length: int = 4, pa_init: str = "default",
                 afm_alpha: str = "learnable", include_dead_params: bool = False):
        super().__init__()
        self.data_length = data_length
        self.PA = PersistenceOfAppearance(data_length, pa_init, include_dead_params)
        self.w = _afm_weight(afm_alpha)

    def intermediates(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h, w = x.shape[-2:]
        return lite_fusion(x.reshape(-1, self.data_length, 3, h, w), self.PA, self.w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.intermediates(x)["x_adp"]


# -------------------------------------------------------------------------------------- DPTAM
class DPTAM(nn.Module):
    """Double Pooling Temporal Attention: a per-(video, channel, segment) gate on the features.

    ``z`` = spatial mean (B, C, T); ``u = z + W1 z * W1 mean_T(z)`` with one shared k=1 conv
    ``p1_conv1``; gate = sigmoid(conv_k1(ReLU(BN(conv_k3(u))))) (TAM's local branch, C/4);
    output = x * gate. There is no temporal convolution of the features themselves.

    ``include_dead_params`` builds the released, never-used ``conv_mask`` (C + 1 parameters).
    """

    def __init__(self, in_channels: int, n_segment: int, kernel_size: int = 3,
                 include_dead_params: bool = False):
        super().__init__()
        self.in_channels, self.n_segment, self.kernel_size = in_channels, n_segment, kernel_size
        if include_dead_params:
            self.conv_mask = nn.Conv2d(in_channels, 1, kernel_size=1)
        self.p1_conv1 = nn.Conv1d(in_channels, in_channels, 1, bias=False)
        hidden = in_channels // 4
        self.dptam = nn.Sequential(
            nn.Conv1d(in_channels, hidden, kernel_size, 1, kernel_size // 2, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv1d(hidden, in_channels, 1, bias=False),
            nn.Sigmoid(),
        )

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """``(B*T, C, H, W)`` -> the gate ``(B, C, T)``."""
        nt, c = x.shape[:2]
        t = self.n_segment
        if nt % t:
            raise DataError(None, f"DPTAM expects (videos*{t} segments, C, H, W) rows, "
                                  f"got {nt} rows")
        z = x.mean(dim=(2, 3)).view(nt // t, t, c).transpose(1, 2)  # (B, C, T)
        u = z + self.p1_conv1(z) * self.p1_conv1(z.mean(dim=2, keepdim=True))
        return self.dptam(u)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c = x.shape[:2]
        m = self.gate(x).transpose(1, 2).reshape(nt, c, 1, 1)
        return x * m

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, n_segment={self.n_segment}"


class DPTAMBottleneck(nn.Module):
    """A ResNet bottleneck ``net`` with DPTAM (``tlam``) after conv1-bn1-relu (official
    ``Temporal2Bottleneck``); DPTAM acts on the bottleneck width."""

    def __init__(self, net: Bottleneck, n_segment: int = 8, kernel_size: int = 3,
                 include_dead_params: bool = False):
        super().__init__()
        self.net = net
        self.n_segment = n_segment
        self.tlam = DPTAM(net.conv1.out_channels, n_segment, kernel_size, include_dead_params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        identity = x if n.downsample is None else n.downsample(x)
        out = self.tlam(n.relu(n.bn1(n.conv1(x))))
        out = n.relu(n.bn2(n.conv2(out)))
        out = n.bn3(n.conv3(out))
        return n.relu(out + identity)


def make_dptam(model: ResNet, n_segment: int, kernel_size: int = 3,
               include_dead_params: bool = False) -> ResNet:
    """Wrap every bottleneck of layer1-layer4 (16 in ResNet-50) with DPTAM, in place."""
    for name in ("layer1", "layer2", "layer3", "layer4"):
        stage = getattr(model, name)
        setattr(model, name, nn.Sequential(*[
            DPTAMBottleneck(b, n_segment, kernel_size, include_dead_params) for b in stage]))
    return model


# ---------------------------------------------------------------------------------------- TSM
def temporal_shift(x: torch.Tensor, n_segment: int, fold_div: int = 8) -> torch.Tensor:
    """TSM's shift on ``(B*T, C, H, W)``: channels [0, C/div) take the next segment's values,
    [C/div, 2C/div) the previous segment's, the rest stay; zeros enter at the clip ends."""
    nt, c, h, w = x.shape
    x = x.view(nt // n_segment, n_segment, c, h, w)
    fold = c // fold_div
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
    return out.view(nt, c, h, w)


class TemporalShift(nn.Module):
    """Shift then ``net`` (TSM's residual-branch placement wraps each bottleneck's conv1)."""

    def __init__(self, net: nn.Module, n_segment: int = 8, n_div: int = 8):
        super().__init__()
        self.net, self.n_segment, self.fold_div = net, n_segment, n_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] % self.n_segment:
            raise DataError(None, f"temporal shift expects (videos*{self.n_segment} segments, "
                                  f"C, H, W) rows, got {x.shape[0]} rows")
        return self.net(temporal_shift(x, self.n_segment, self.fold_div))


def make_temporal_shift(model: ResNet, n_segment: int, n_div: int = 8) -> ResNet:
    """TSM 'blockres': shift before conv1 in every bottleneck of layer1-layer4, in place."""
    for name in ("layer1", "layer2", "layer3", "layer4"):
        for block in getattr(model, name):
            block.conv1 = TemporalShift(block.conv1, n_segment, n_div)
    return model


# -------------------------------------------------------------------------------------- model
class MIENet(nn.Module):
    """TSN-style clip classifier on ResNet-50; MIE-Net with ``modality="lite"``,
    ``temporal="dptam"`` (see the module docstring for the variants and the input layout).

    Args:
        num_classes: output classes (SLJD 10, Diving48 48, SSv2 174).
        num_segments: T segments per clip (SLJD 3, Diving48/SSv2 8); fixed by DPTAM/TSM.
        modality: ``"lite"`` (PA + AFM over 4-frame groups) or ``"rgb"``.
        temporal: ``"dptam"``, ``"tsm"`` or ``"none"``.
        dropout: before ``new_fc`` (0.6 SLJD/Diving48, 0.5 SSv2).
        pretrained: local torchvision-layout ImageNet ResNet-50 checkpoint (None: random init).
        afm_alpha: ``"learnable"`` (the stated design) or ``"frozen"`` (released code: 0.5/0.5).
        pa_init: ``"default"`` (released MIE-Net) or ``"pan"`` (N(0, 0.001), zero bias).
        include_dead_params: build the released code's unused modules (PA conv1-3, DPTAM
            conv_mask) so the parameter total and key set equal the released model's.
        shift_div: TSM's 1/div channels shifted each way.
        label_smoothing: for the cross-entropy loss.
        fc_lr5: ``new_fc`` at x5/x10 LR (official: on unless fine-tuning from a checkpoint of
            the same dataset).
        layers, base_width: bottlenecks per stage and the first stage's width of the backbone;
            the defaults (3, 4, 6, 3) and 64 are ResNet-50, the official backbone. Smaller
            values (``layers=(1, 1, 1, 1), base_width=16``) are for CPU-sized runs only.
    """

    def __init__(self, num_classes: int = 10, num_segments: int = 8, modality: str = "lite",
                 temporal: str = "dptam", dropout: float = 0.5,
                 pretrained: str | os.PathLike | None = None, afm_alpha: str = "learnable",
                 pa_init: str = "default", include_dead_params: bool = False,
                 data_length: int = 4, shift_div: int = 8, label_smoothing: float = 0.0,
                 fc_lr5: bool = True, layers: Sequence[int] = RESNET50_LAYERS,
                 base_width: int = 64):
        super().__init__()
        if modality not in MODALITIES:
            raise ConfigError(f"unknown modality {modality!r} (known: {', '.join(MODALITIES)})")
        if temporal not in TEMPORAL:
            raise ConfigError(f"unknown temporal module {temporal!r} "
                              f"(known: {', '.join(TEMPORAL)})")
        if num_segments < 1 or num_classes < 1:
            raise ConfigError(f"num_segments and num_classes must be >= 1, got {num_segments} "
                              f"and {num_classes}")
        self.num_classes, self.num_segments = num_classes, num_segments
        self.modality, self.temporal = modality, temporal
        self.data_length = data_length if modality == "lite" else 1
        self.label_smoothing, self.fc_lr5 = label_smoothing, fc_lr5
        # registration order matters: PA.shallow_conv is the "first conv" of the LR policy
        if modality == "lite":
            self.PA = PersistenceOfAppearance(data_length, pa_init, include_dead_params)
            self.w = _afm_weight(afm_alpha)
        base = resnet(layers, base_width, pretrained, num_classes=0,
                      in_chans=6 if modality == "lite" else 3)
        if temporal == "dptam":
            make_dptam(base, num_segments, include_dead_params=include_dead_params)
        elif temporal == "tsm":
            make_temporal_shift(base, num_segments, shift_div)
        base.fc = nn.Dropout(dropout)
        self.base_model = base
        self.new_fc = nn.Linear(base.num_features, num_classes)
        nn.init.normal_(self.new_fc.weight, 0.0, 0.001)
        nn.init.zeros_(self.new_fc.bias)

    # -- input ---------------------------------------------------------------------------
    def frame_groups(self, video: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T*L, H, W)`` or ``(B, T*L*3, H, W)`` -> ``(B, T, L, 3, H, W)``."""
        t = self.num_segments
        if video.ndim == 5 and video.shape[1] == 3:
            b, _, n, h, w = video.shape
            frames = video.transpose(1, 2)
        elif video.ndim == 4 and video.shape[1] % 3 == 0:
            b, c, h, w = video.shape
            n = c // 3
            frames = video.view(b, n, 3, h, w)
        else:
            raise DataError(None, f"batch['video'] of shape {tuple(video.shape)}: expected "
                                  "(B, 3, T*L, H, W) or (B, T*L*3, H, W) RGB frames")
        if n % t or (self.modality == "lite" and n != t * self.data_length):
            need = f"{t}x{self.data_length}" if self.modality == "lite" else f"a multiple of {t}"
            raise DataError(None, f"batch['video'] has {n} frames; this {self.modality} model "
                                  f"needs {need} ({t} segments)")
        return frames.reshape(b, t, n // t, 3, h, w)

    def backbone_input(self, video: torch.Tensor) -> torch.Tensor:
        """What enters ResNet-50: X_ADP ``(B*T, 6, H, W)`` (lite) or first frames (rgb)."""
        g = self.frame_groups(video)
        b, t, n_len, _, h, w = g.shape
        if self.modality == "lite":
            x = lite_fusion(g.reshape(b * t, n_len, 3, h, w), self.PA, self.w)["x_adp"]
        else:
            x = g[:, :, 0].reshape(b * t, 3, h, w)
        if self.base_model.conv1.weight.is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    # -- forward -------------------------------------------------------------------------
    def forward_official(self, video: torch.Tensor) -> torch.Tensor:
        """Clip logits ``(B, num_classes)``: per-segment scores averaged before the softmax."""
        per_segment = self.new_fc(self.base_model(self.backbone_input(video)))
        return per_segment.view(-1, self.num_segments, self.num_classes).mean(dim=1)

    def forward(self, batch: dict) -> dict:
        logits = self.forward_official(batch["video"])
        return {"logits": logits,
                "losses": classification_losses(logits, batch, self.label_smoothing)}

    def param_groups(self, cfg=None) -> list[dict]:
        """The official TSN/MIE-Net LR and weight-decay multipliers (see get_optim_policies)."""
        return get_optim_policies(self, fc_lr5=getattr(cfg, "fc_lr5", self.fc_lr5))


# ------------------------------------------------------------------------ optimiser policies
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
         nn.ConvTranspose3d)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def get_optim_policies(model: nn.Module, fc_lr5: bool = True) -> list[dict]:
    """TSN/PAN/MIE-Net ``get_optim_policies`` as torch param groups with ``lr_scale``/``wd_scale``.

    Modules are walked in registration order: the first conv (MIE-Net: ``PA.shallow_conv``)
    gets x5 LR on the weight and x10 on the bias in the lite modality (x1/x2 for RGB); other
    conv/linear weights x1, their biases x2 without decay; every BN (1d/2d/3d, all train)
    x1 without decay; ``new_fc`` (any Linear when ``fc_lr5``) x5 weight, x10 bias without decay.
    Parameters on no such layer (MIE-Net's learnable AFM ``w``; the released code leaves it in
    no group, i.e. frozen) go to ``custom`` with x1 and no decay. Frozen parameters and empty
    groups are left out. Each group also carries the parameter ``names``.
    """
    lite = getattr(model, "modality", "rgb") == "lite"
    spec = {  # name: (lr_scale, wd_scale)
        "first_conv_weight": (5.0 if lite else 1.0, 1.0),
        "first_conv_bias": (10.0 if lite else 2.0, 0.0),
        "normal_weight": (1.0, 1.0),
        "normal_bias": (2.0, 0.0),
        "bn": (1.0, 0.0),
        "custom": (1.0, 0.0),
        "lr5_weight": (5.0, 1.0),
        "lr10_bias": (10.0, 0.0),
    }
    groups = {k: {"params": [], "names": [], "lr_scale": v[0], "wd_scale": v[1], "name": k}
              for k, v in spec.items()}
    seen: set[int] = set()
    first_conv_done = False

    def put(group: str, name: str, p: nn.Parameter) -> None:
        seen.add(id(p))
        if p.requires_grad:
            groups[group]["params"].append(p)
            groups[group]["names"].append(name)

    for mod_name, m in model.named_modules():
        own = list(m.named_parameters(prefix=mod_name, recurse=False))
        if isinstance(m, _CONV):
            first = not first_conv_done
            first_conv_done = True
            for n, p in own:
                kind = "weight" if n.endswith("weight") else "bias"
                put(f"first_conv_{kind}" if first else f"normal_{kind}", n, p)
        elif isinstance(m, nn.Linear):
            for n, p in own:
                kind = "weight" if n.endswith("weight") else "bias"
                put(("lr5_" if kind == "weight" else "lr10_") + kind if fc_lr5
                    else f"normal_{kind}", n, p)
        elif isinstance(m, _BN):
            for n, p in own:
                put("bn", n, p)
    for n, p in model.named_parameters():
        if id(p) not in seen:
            put("custom", n, p)
    return [g for g in groups.values() if g["params"]]


# ------------------------------------------------------------------- official checkpoints
_DEAD = (re.compile(r"(^|\.)conv_mask\.(weight|bias)$"),
         re.compile(r"(^|(^|\.)PA\.)conv[123]\.(conv|bn)\."))


def convert_official(state_dict: dict[str, torch.Tensor], model: nn.Module | None = None
                     ) -> dict[str, torch.Tensor]:
    """Official MIE-Net/TSN/TSM keys -> ours: the same names, except that the released dead
    modules (DPTAM ``conv_mask``, PA ``conv1``-``conv3``) are dropped when ``model`` was built
    without them, and a ``dropout=0`` checkpoint's ``base_model.fc`` becomes ``new_fc``."""
    sd = dict(state_dict)
    if model is None:
        return sd
    own = model.state_dict()
    sd = {k: v for k, v in sd.items() if k in own or not any(p.search(k) for p in _DEAD)}
    fc = own.get("new_fc.weight")
    if (fc is not None and "new_fc.weight" not in sd and "base_model.fc.weight" in sd
            and sd["base_model.fc.weight"].shape == fc.shape):
        sd["new_fc.weight"] = sd.pop("base_model.fc.weight")
        sd["new_fc.bias"] = sd.pop("base_model.fc.bias")
    return sd


def mienet_from_official(num_class: int, num_segments: int, modality: str,
                         base_model: str = "resnet50", consensus_type: str = "avg",
                         before_softmax: bool = True, dropout: float = 0.8, tam: bool = False,
                         dptam: bool = False, partial_bn: bool = True, is_shift: bool = False,
                         shift_div: int = 8, shift_place: str = "blockres",
                         fc_lr5: bool = False, temporal_pool: bool = False,
                         non_local: bool = False, data_length: int = 1, **ours) -> MIENet:
    """:class:`MIENet` from the official ``MIE(...)`` / TSM ``TSN(...)`` constructor arguments.

    Arguments that only print or name things (``new_length``, ``img_feature_dim``,
    ``crop_num``, ``print_spec``, ``has_VAP``, ``pretrain``: pass our ``pretrained=`` path
    instead, nothing is downloaded) are accepted and ignored; settings that build something
    this class does not implement raise :class:`ConfigError`. ``dptam`` is ``main.py``'s
    (crashing) spelling of ``tam``.
    """
    for k in ("new_length", "img_feature_dim", "crop_num", "print_spec", "has_VAP", "pretrain"):
        ours.pop(k, None)
    unsupported = {
        "base_model": base_model != "resnet50", "consensus_type": consensus_type != "avg",
        "before_softmax": not before_softmax, "partial_bn": partial_bn,
        "shift_place": is_shift and shift_place != "blockres",
        "temporal_pool": temporal_pool, "non_local": non_local,
        "modality": modality not in ("Lite", "RGB"), "tam+is_shift": (tam or dptam) and is_shift,
    }
    bad = [k for k, v in unsupported.items() if v]
    if bad:
        raise ConfigError(f"official MIE arguments not implemented here: {', '.join(bad)} "
                          "(the released MIE-Net runs: resnet50, avg consensus, partial BN off)")
    temporal = "dptam" if (tam or dptam) else "tsm" if is_shift else "none"
    lite = modality == "Lite"
    return MIENet(num_class, num_segments, modality="lite" if lite else "rgb",
                  temporal=temporal, dropout=dropout, shift_div=shift_div, fc_lr5=fc_lr5,
                  **({"data_length": data_length} if lite else {}), **ours)


def _official_mie(**kwargs) -> nn.Module:
    """``ops/models.py::MIE``: the whole model when its arguments are given; with none (an
    instance made without ``__init__`` and a stubbed backbone) its Lite front end."""
    if "num_class" in kwargs:
        return mienet_from_official(**kwargs)
    return LiteAFM(**kwargs)


_official_mie.__signature__ = inspect.signature(LiteAFM)  # attributes it can take


# official class -> ours, for fixtures and users porting official scripts
OFFICIAL_CLASSES = {
    "ops/models.py::MIE": _official_mie,
    "ops/MIE_modules.py::PA": PersistenceOfAppearance,
    "ops/temporal_module_dptam.py::DPTAM": DPTAM,
    "ops/temporal_module_dptam.py::Temporal2Bottleneck": DPTAMBottleneck,
    "torchvision/models/resnet.py::Bottleneck": Bottleneck,
}


def build_official(official_class: str, constructor_kwargs: dict | None = None,
                   attributes: dict | None = None, **overrides) -> nn.Module:
    """Our module for an official class and its constructor arguments.

    Nested ``{"class_": name, "kwargs": {...}}`` arguments (e.g. the torchvision ``Bottleneck``
    a ``Temporal2Bottleneck`` wraps) are built the same way. ``attributes`` an official script
    set by hand (``data_length`` of an ``MIE`` made without ``__init__``) are passed on when our
    constructor takes an argument of that name; ``overrides`` (e.g. ``include_dead_params``)
    likewise, to every module that accepts them.
    """
    cls = OFFICIAL_CLASSES.get(official_class)
    if cls is None:
        raise ConfigError(f"no motionscope module for official class {official_class!r} "
                          f"(known: {', '.join(OFFICIAL_CLASSES)})")
    accepted = inspect.signature(cls).parameters
    kwargs = {}
    for k, v in (constructor_kwargs or {}).items():
        if isinstance(v, dict) and "class_" in v:
            v = build_official(v["class_"], v.get("kwargs"), None, **overrides)
        kwargs[k] = v
    for k, v in {**(attributes or {}), **overrides}.items():
        if k in accepted and k not in kwargs:
            kwargs[k] = v
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"official {official_class}: arguments {sorted(kwargs)} do not fit "
                          f"{cls.__name__}: {e}") from e


def mienet(**kw) -> MIENet:
    """MIE-Net: PA + AFM front end, DPTAM ResNet-50, TSN head."""
    return MIENet(modality="lite", temporal="dptam", **kw)


def tsn_dptam(**kw) -> MIENet:
    """The DPTAM-only ablation: RGB TSN with DPTAM in every bottleneck."""
    return MIENet(modality="rgb", temporal="dptam", **kw)


def tsn_r50(**kw) -> MIENet:
    """Plain TSN ResNet-50 (one RGB frame per segment, average consensus)."""
    return MIENet(modality="rgb", temporal="none", **kw)


def tsm_r50(**kw) -> MIENet:
    """TSM ResNet-50: TSN plus the residual temporal shift (1/8 each way)."""
    return MIENet(modality="rgb", temporal="tsm", **kw)


MODELS = {"mienet": mienet, "tsn_dptam": tsn_dptam, "tsn_r50": tsn_r50, "tsm_r50": tsm_r50}
for _fn in MODELS.values():
    _fn.builds = MIENet  # type: ignore[attr-defined]  (create_model checks the arguments)

# CPU-sized configurations for the tests (the family protocol, models/__init__.py): the
# ResNet-50 layout at one block per stage and width 16
_TINY = {"num_classes": 5, "num_segments": 2, "layers": (1, 1, 1, 1), "base_width": 16,
         "dropout": 0.5}
TINY = {name: dict(_TINY) for name in MODELS}


def tiny_batch(name: str, model: nn.Module, batch_size: int = 2, labelled: bool = True) -> dict:
    """``{"video": (B, 3, T*L, 64, 64)}`` (+ ``label``): ``data_length`` frames per segment for
    MIE-Net's PA, one for the RGB variants."""
    n = model.num_segments * (model.data_length if model.modality == "lite" else 1)
    out = {"video": torch.randn(batch_size, 3, n, 64, 64, generator=torch.Generator().manual_seed(0))}
    if labelled:
        out["label"] = torch.arange(batch_size) % model.num_classes
    return out
