"""B-KinD (Sun et al., CVPR 2022): keypoints discovered by reconstructing what moved.

Two frames t (``image0``, the source) and t + gap (``image1``, the target) go through a
ResNet-50 "bank" encoder (layer4 ... layer1) and CPN's GlobalNet; the finest logits (S/4) are
spatially softmaxed into K heatmaps whose means, variances and covariance are the keypoints.
Gaussians of the target's and the source's keypoints at five scales (S/32 ... S/2, variances
0.1, 0.1, 0.01, 0.01, 0.001) and the source's layer4 features alone feed a decoder that must
reconstruct the *structural change* between the frames (``motion.ssim.structural_change``):
appearance can come only from frame t, and where things moved only from the keypoints.

Key names are the official ones (``encoder.*`` in torchvision's ResNet layout, ``kptNet.*``,
``decoder.*``), so official checkpoints (``checkpoint.pth.tar``'s ``state_dict``) load with no
conversion, and ``resnet50-19c8e357.pth`` loads into the encoder from a local path
(``encoder_weights=``; random torchvision init otherwise, never a download).

Official behaviours kept: separate BatchNorm batches per encoder / head pass, in the official
call order (x, tr_x, rotations for the encoder; tr_x, x, rotations for the head); the dead
predict heads of the three coarse GlobalNet levels exist (for the key layout) and are frozen,
as they get no gradient in the official model either. Quirks exposed as options (off by
default): ``official_bn_train`` (extraction with BatchNorm in training mode, one image per
batch, as ``extract_features.py`` does) and the official feature formats
(:func:`official_features`: (row, col) integer pixels of the original frame and ``covs + 1``).

Inputs are ImageNet-normalised ``(B, 3, S, S)`` float frames with ``S`` a multiple of 32 (the
data layer's ``data/pairs.py`` makes them). Coordinates returned by :meth:`BKinD.detect` are
input pixels (pixel ``i`` centred at ``i``); see ``motion/keypoints.py``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, ConfigError, DataError
from ..motion.keypoints import heatmap_moments, render_gaussians, spatial_softmax, to_pixels
from ..motion.ssim import structural_change
from .bkind_losses import (
    FALLBACK,
    PERC_WEIGHT,
    PERCEPTUAL,
    ROTATIONS,
    build_perceptual,
    reconstruction_loss,
    rotation_loss,
    separation_loss,
)
from .layers.cpn import GlobalNet
from .layers.resnet import RESNET50_LAYERS, ResNet, load_imagenet
from .layers.vgg import VGGFeatures
from .pretrained import LoadReport, load_fitting, read_pretrained

VARIANCES = (0.1, 0.1, 0.01, 0.01, 0.001)
ROTATION_VARIANCE = 0.001
PASSES = ("x", "tr_x", "gmtr_x1", "gmtr_x2", "gmtr_x3")


# ------------------------------------------------------------------------------ encoder
class ResNetBank(ResNet):
    """ResNet returning ``[layer4, layer3, layer2, layer1, relu(bn1(conv1))]`` (official
    ``ResNetBankAll``); torchvision keys, no fc. ``width_per_group`` shrinks only the bottleneck
    inner width (the official fixtures' reduced encoder), ``base_width`` every width."""

    def __init__(self, layers: Sequence[int] = RESNET50_LAYERS, base_width: int = 64,
                 width_per_group: int = 64):
        super().__init__(layers, num_classes=0, base_width=base_width,
                         width_per_group=width_per_group)
        self.channels = tuple(base_width * m * 4 for m in (8, 4, 2, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x1 = self.relu(self.bn1(self.conv1(x)))
        l1 = self.layer1(self.maxpool(x1))
        l2 = self.layer2(l1)
        l3 = self.layer3(l2)
        l4 = self.layer4(l3)
        return [l4, l3, l2, l1, x1]


# ------------------------------------------------------------------------------ decoder
def conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, 1, 1, bias=False)


class UpBlock(nn.Module):
    """Bilinear x2 (align_corners=False), then (conv3x3-BN-ReLU) x2; no residual (official
    decoder ``BasicBlock`` with its ``upsample``)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = conv3x3(cin, cout)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = F.interpolate(x, size=(2 * h, 2 * w), mode="bilinear", align_corners=False)
        x = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(x)))


class Decoder(nn.Module):
    """Five ``UpBlock``s, each fed ``cat(previous, condition_i)``, then Conv1x1(-> 3, bias).

    Widths follow the official rule: blocks 1-4 halve ``in_planes``, block 5 outputs
    ``max(in_planes / 2, 32)`` (K = 10, 2048: 2068->1024, 1044->512, 532->256, 276->128, 148->64).
    """

    def __init__(self, in_planes: int = 2048, cond_channels: int = 20):
        super().__init__()
        width = float(in_planes)
        for i in range(1, 6):
            out = int(width / 2) if i < 5 else max(int(width / 2), 32)
            setattr(self, f"layer{i}", UpBlock(int(width) + cond_channels, out))
            width /= 2
        self.out_planes = out
        self.conv_final = nn.Conv2d(out, 3, 1)

    def forward(self, x: torch.Tensor, conditions: Sequence[torch.Tensor],
                record: list | None = None) -> torch.Tensor:
        for i in range(5):
            x = getattr(self, f"layer{i + 1}")(torch.cat((x, conditions[i]), dim=1))
            if record is not None and i < 4:
                record.append(x)
        return self.conv_final(x)


# -------------------------------------------------------------------------------- model
class BKinD(nn.Module):
    """B-KinD keypoint discovery model (module docstring).

    Args:
        num_keypoints: K discovered keypoints (official 10; the public H36M checkpoint 16).
        image_size: S of the square training input (CalMS21 256, H36M 128); a multiple of 32.
        encoder_layers: bottlenecks per stage (ResNet-50: 3, 4, 6, 3); ``None`` builds no
            encoder (features are handed in by replacing ``model.encoder``: fixtures).
        encoder_base_width: the encoder's stem/stage width (64 = ResNet-50; smaller only for
            CPU-sized runs: 8 gives stage outputs 32 ... 256).
        encoder_width_per_group: torchvision's bottleneck inner-width factor (64).
        encoder_weights: local torchvision-layout ImageNet ResNet-50 (``resnet50-19c8e357.pth``).
        channels: the four feature widths (layer4 ... layer1) when ``encoder_layers`` is None.
        with_decoder: False builds the detector only (official ``kpt_detector.Model``).
        perceptual: ``"auto"`` (VGG19 when ``vgg_weights`` is given, else the fallback
            ``"pyramid"``), ``"vgg"``, ``"pyramid"``, ``"random_vgg"`` or ``"none"``
            (``models/bkind_losses.py``).
        vgg_weights: local torchvision-layout VGG19 (``vgg19-dcbb9e9d.pth``).
        perc_weight: running-average initial weights of the pixel and 5 perceptual terms.
        curriculum: the epoch (0-based) from which rotation and separation terms are added.
        rotation_weight: multiplies the official rotation term (sum of the three MSEs / 3).
        separation_weight, separation_sigma: the separation term (official 0.05, 0.08).
        variances: Gaussian variances of the five decoder conditions (grid units).
        official_bn_train: :meth:`detect` with BatchNorm in training mode on each image alone
            (the official extraction quirk; off by default).
    """

    def __init__(self, num_keypoints: int = 10, image_size: int = 256,
                 encoder_layers: Sequence[int] | None = RESNET50_LAYERS,
                 encoder_base_width: int = 64, encoder_width_per_group: int = 64,
                 encoder_weights: str | os.PathLike | None = None,
                 channels: Sequence[int] | None = None, with_decoder: bool = True,
                 perceptual: str = "auto", vgg_weights: str | os.PathLike | None = None,
                 perc_weight: Sequence[float] = PERC_WEIGHT, curriculum: int = 4,
                 rotation_weight: float = 1.0, separation_weight: float = 0.05,
                 separation_sigma: float = 0.08, variances: Sequence[float] = VARIANCES,
                 official_bn_train: bool = False):
        super().__init__()
        if num_keypoints < 1:
            raise ConfigError(f"num_keypoints must be >= 1, got {num_keypoints}")
        if image_size < 32 or image_size % 32:
            raise ConfigError(f"image_size must be a positive multiple of 32 (the encoder's "
                              f"stride), got {image_size}")
        if perceptual not in PERCEPTUAL:
            raise ConfigError(f"unknown perceptual loss {perceptual!r} (known: {', '.join(PERCEPTUAL)})")
        if len(variances) != 5:
            raise ConfigError(f"variances: the decoder takes 5 Gaussian scales, got {list(variances)}")
        if encoder_layers is not None:
            derived = tuple(encoder_base_width * m * 4 for m in (8, 4, 2, 1))
            if channels is not None and tuple(channels) != derived:
                raise ConfigError(f"channels {list(channels)} do not match the encoder's "
                                  f"{list(derived)} (encoder_base_width {encoder_base_width})")
            channels = derived
        elif channels is None:
            raise ConfigError("without an encoder (encoder_layers=None) give channels=[c4, c3, c2, c1]")
        self.K = self.num_keypoints = int(num_keypoints)
        self.image_size = int(image_size)
        self.channels = tuple(int(c) for c in channels)
        self.with_decoder = with_decoder
        self.perceptual, self.vgg_weights = perceptual, vgg_weights
        self.perc_weight = tuple(float(w) for w in perc_weight)
        self.curriculum = int(curriculum)
        self.rotation_weight, self.separation_weight = float(rotation_weight), float(separation_weight)
        self.separation_sigma = float(separation_sigma)
        self.variances = tuple(float(v) for v in variances)
        self.official_bn_train = official_bn_train
        self.epoch = 0

        self.kptNet = GlobalNet(self.channels, self.K)
        if with_decoder:
            self.decoder = Decoder(self.channels[0], 2 * self.K)
        for m in self.modules():  # official Model.__init__: before the encoder is built
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.01)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # the coarse levels' predict heads never reach a loss (no gradient officially either)
        for head in list(self.kptNet.predict)[:-1]:
            head.requires_grad_(False)
        self.encoder = None
        if encoder_layers is not None:
            self.encoder = ResNetBank(encoder_layers, encoder_base_width, encoder_width_per_group)
            if encoder_weights is not None:
                load_imagenet(self.encoder, encoder_weights)
        self.__dict__["_loss_net"] = None  # built on first use, never in the state_dict

    # -- epoch-dependent behaviour -------------------------------------------------------
    def set_epoch(self, epoch: int, num_epochs: int | None = None) -> None:
        """Called by the trainer before every epoch: the curriculum starts at ``curriculum``."""
        self.epoch = int(epoch)

    @property
    def curriculum_active(self) -> bool:
        return self.epoch >= self.curriculum

    # -- passes ---------------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor, what: str) -> None:
        if x.ndim != 4 or x.shape[1] != 3:
            raise DataError(None, f"{what} of shape {tuple(x.shape)}: expected (B, 3, S, S) "
                                  "ImageNet-normalised RGB frames")
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise DataError(None, f"{what} is {x.shape[-2]}x{x.shape[-1]}: B-KinD needs sides that "
                                  "are multiples of 32 (resize the frames, e.g. to 256x256)")

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.encoder is None:
            raise ConfigError("this B-KinD model was built without an encoder (encoder_layers=None)")
        return self.encoder(x)

    def keypoint_head(self, features: Sequence[torch.Tensor], record: dict | None = None
                      ) -> dict[str, torch.Tensor]:
        """GlobalNet on one pass's features; logits, heatmap and moments of the finest level."""
        outs = self.kptNet(features)
        logits = outs[-1]
        heatmap = spatial_softmax(logits)
        mom = heatmap_moments(heatmap)
        res = {"logits": logits, "heatmap": heatmap, **mom}
        if record is not None:
            record.update({f"kpt_out/{i}": o for i, o in enumerate(outs)}, heatmap=heatmap,
                          **{k: mom[k] for k in ("u_x", "u_y", "var_x", "var_y", "cov")})
        return res

    def conditions(self, tr: dict, src: dict, heatmap_size: int) -> list[torch.Tensor]:
        """The decoder's five conditions cat[G(target), G(source)] at S/32 ... S/2."""
        size = heatmap_size // 16  # official: int(output_shape / 16), doubled before each use
        out = []
        for v in self.variances:
            size *= 2
            out.append(torch.cat([render_gaussians(tr["u_x"], tr["u_y"], (size, size), v),
                                  render_gaussians(src["u_x"], src["u_y"], (size, size), v)], dim=1))
        return out

    def forward_official(self, x: torch.Tensor, tr_x: torch.Tensor | None = None,
                         gmtr_x1: torch.Tensor | None = None, gmtr_x2: torch.Tensor | None = None,
                         gmtr_x3: torch.Tensor | None = None, record: dict | None = None):
        """What the official ``Model.forward`` (or, for a detector-only model,
        ``kpt_detector.Model.forward``) returns for the same arguments; ``record`` (a dict)
        receives the intermediates by the fixtures' names."""
        if not self.with_decoder:
            return self._detector_official(x, record)
        rec = (lambda name: record.setdefault(f"passes/{name}", {})) if record is not None \
            else (lambda name: None)
        x_res = self.encode(x)
        if tr_x is not None:
            tr_res = self.encode(tr_x)
            tr = self.keypoint_head(tr_res, rec("tr_x"))
            tr_conf = tr["confidence"]
        src = self.keypoint_head(x_res, rec("x"))
        if tr_x is None:
            return (src["u_x"], src["u_y"]), src["logits"]
        conds = self.conditions(tr, src, src["heatmap"].shape[-1])
        layers: list | None = [] if record is not None else None
        recon = self.decoder(x_res[0], conds, layers)
        if record is not None:
            record.update({f"gaussians/{i}": c for i, c in enumerate(conds)})
            record.update({f"decoder_layers/{i}": t for i, t in enumerate(layers)})
            record.update(recon=recon, tr_confidence=tr_conf)
        if gmtr_x1 is None:
            return recon, (tr["u_x"], tr["u_y"]), conds[-1], tr["logits"], (src["u_x"], src["u_y"]), tr_conf
        size = 2 * src["heatmap"].shape[-1]
        rots, rot_maps = [], []
        for name, img in zip(PASSES[2:], (gmtr_x1, gmtr_x2, gmtr_x3)):
            r = self.keypoint_head(self.encode(img), rec(name))
            rots.append(r)
            rot_maps.append(render_gaussians(r["u_x"], r["u_y"], (size, size), ROTATION_VARIANCE))
        if record is not None:
            record.update({f"rot_gaussians/{i}": g for i, g in enumerate(rot_maps)})
        return (recon, (tr["u_x"], tr["u_y"]), (conds[-1], *rot_maps), (tr["logits"], rots[-1]["logits"]),
                (src["u_x"], src["u_y"]), tuple(t for r in rots for t in (r["u_x"], r["u_y"])), tr_conf)

    def _detector_official(self, x: torch.Tensor, record: dict | None = None):
        """``kpt_detector.Model.forward``: ``((u_x, u_y), kpt_out[-1], heatmap, kpts, kpt_out,
        confidence, (var_x, var_y, cov))``; ``kpts`` repeats the final keypoints per level, as
        the released code does."""
        outs = self.kptNet(self.encode(x))
        heatmap = spatial_softmax(outs[-1])
        m = heatmap_moments(heatmap)
        kpts = [(m["u_x"], m["u_y"]) for _ in range(len(outs) - 1)]
        if record is not None:
            record.update(heatmap=heatmap, kpt_out_last=outs[-1],
                          **{k: m[k] for k in ("u_x", "u_y", "var_x", "var_y", "cov", "confidence")})
        return ((m["u_x"], m["u_y"]), outs[-1], heatmap, kpts, outs, m["confidence"],
                (m["var_x"], m["var_y"], m["cov"]))

    # -- losses ---------------------------------------------------------------------------
    def loss_network(self) -> nn.Module | None:
        """The frozen perceptual network (built on first use on the model's device; kept out of
        ``parameters()`` and the ``state_dict``). Call it early to fail fast on a bad VGG file."""
        net = self.__dict__["_loss_net"]
        if net is None and (self.perceptual != "none"):
            net = build_perceptual(self.perceptual, self.vgg_weights)
            self.__dict__["_loss_net"] = net
        if net is not None:
            ref = next(self.kptNet.parameters())
            p = next(iter(net.parameters()), None)
            if p is not None and p.device != ref.device:
                net.to(ref.device)
        return net

    @property
    def perceptual_mode(self) -> str:
        """The perceptual loss this model trains with (``auto`` resolved)."""
        if self.perceptual == "auto":
            return "vgg" if self.vgg_weights is not None else FALLBACK
        return self.perceptual

    def losses(self, image0: torch.Tensor, image1: torch.Tensor, output: tuple, epoch: int,
               mask: torch.Tensor | None = None, loss_net: nn.Module | None = None,
               record: dict | None = None) -> dict[str, torch.Tensor]:
        """The official ``computeLoss.update_loss`` as named terms (their sum is its total).

        ``output`` is :meth:`forward_official`'s tuple; ``loss_net`` defaults to
        :meth:`loss_network`; ``record`` receives ``to_pred``, ``ssim/*``, ``loss/*`` by the
        fixtures' names.
        """
        ssim_rec: dict | None = {} if record is not None else None
        with torch.no_grad():
            to_pred = structural_change(image0, image1, intermediates=ssim_rec)
        recon = output[0]
        net = self.loss_network() if loss_net is None else loss_net
        feats_pred = net(to_pred) if net is not None else []
        feats_recon = net(recon) if net is not None else []
        lrec: dict | None = {} if record is not None else None
        pixel, perceptual = reconstruction_loss(to_pred, recon, feats_pred, feats_recon,
                                                self.perc_weight, mask, lrec)
        out = {"pixel": pixel, "perceptual": perceptual}
        if epoch >= self.curriculum and len(output) == 7:
            maps = output[2]
            k = self.K
            rot = torch.zeros((), device=recon.device, dtype=pixel.dtype)
            for j, deg in enumerate(ROTATIONS):
                r = {} if record is not None else None
                rot = rot + rotation_loss(maps[0][:, :k], maps[j + 1], deg, r) / 3
                if record is not None:
                    lrec[f"rotation/{j}"] = r
            sets = [(output[5][2 * j], output[5][2 * j + 1]) for j in range(3)] + [output[1]]
            seps = [separation_loss(ux, uy, self.separation_sigma, self.separation_weight)
                    for ux, uy in sets]
            if record is not None:
                lrec.update({f"separation/{j}": s for j, s in enumerate(seps)})
            out["rotation"] = self.rotation_weight * rot
            out["separation"] = torch.stack(seps).sum()
        if record is not None:
            record.update(to_pred=to_pred, ssim=ssim_rec, loss=lrec)
        return out

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict:
        """Training/validation step on ``{"image0", "image1"}`` (optional ``mask``): losses,
        the reconstruction, its target's keypoints; rotated copies of ``image1`` (90, 180, -90
        degrees, counter-clockwise) are made here once the curriculum is active."""
        if not self.with_decoder:
            raise ConfigError("a detector-only B-KinD model (with_decoder=False) has no training loss")
        x, tr = batch["image0"], batch["image1"]
        self._check_input(x, "batch['image0']")
        self._check_input(tr, "batch['image1']")
        if x.shape != tr.shape:
            raise DataError(None, f"image0 {tuple(x.shape)} and image1 {tuple(tr.shape)} differ")
        rots = ()
        if self.curriculum_active:
            if tr.shape[-1] != tr.shape[-2]:
                raise DataError(None, "the rotation loss needs square frames")
            rots = tuple(torch.rot90(tr, k, dims=(2, 3)) for k in (1, 2, 3))
        output = self.forward_official(x, tr, *rots)
        losses = self.losses(x, tr, output, self.epoch, batch.get("mask"))
        return {"losses": losses, "recon": output[0],
                "keypoints": torch.stack(output[1], dim=-1)}

    # -- inference ------------------------------------------------------------------------
    def _detect_pass(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        outs = self.kptNet(self.encode(images), levels=[-1])
        heatmap = spatial_softmax(outs[-1].float())  # moments in float32 under autocast too
        return {"heatmap": heatmap, **heatmap_moments(heatmap)}

    def _detect_official_bn(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each image alone through encoder + head with BatchNorm in training mode (the
        official extraction); running statistics are restored afterwards."""
        modules = [m for m in (self.encoder, self.kptNet) if m is not None]
        saved = {id(b): b.clone() for m in modules for b in m.buffers()}
        modes = {id(m): m.training for mod in modules for m in mod.modules()}
        try:
            for mod in modules:
                mod.train()
            parts = [self._detect_pass(images[i:i + 1]) for i in range(images.shape[0])]
        finally:
            for mod in modules:
                for m in mod.modules():
                    m.training = modes[id(m)]
                for b in mod.buffers():
                    b.copy_(saved[id(b)])
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}

    @torch.no_grad()
    def detect(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Keypoints of ``(B, 3, S, S)`` ImageNet-normalised frames.

        Returns ``keypoints (B, K, 2)`` as (x, y) input pixels (pixel i centred at i),
        ``confidence (B, K)`` (heatmap maximum; uniform is 1/(S/4)^2), ``covariance (B, K, 3)``
        as (xx, xy, yy) in input pixels^2, ``heatmaps (B, K, S/4, S/4)``, and the same in the
        official grid units: ``normalised_keypoints`` (u_x, u_y) in [-1, 1] and
        ``normalised_covariance`` (var_x, cov_xy, var_y). BatchNorm uses its running statistics
        (the model's train/eval mode is left as it is) unless ``official_bn_train``.
        """
        self._check_input(images, "images")
        if self.official_bn_train:
            res = self._detect_official_bn(images)
        else:
            was = {id(m): m.training for m in self.modules()}
            self.eval()
            try:
                res = self._detect_pass(images)
            finally:
                for m in self.modules():
                    m.training = was[id(m)]
        hm = res["heatmap"]
        xy, cov = to_pixels(res, tuple(hm.shape[-2:]), tuple(images.shape[-2:]))
        return {"keypoints": xy, "confidence": res["confidence"], "covariance": cov, "heatmaps": hm,
                "normalised_keypoints": torch.stack((res["u_x"], res["u_y"]), dim=-1),
                "normalised_covariance": torch.stack((res["var_x"], res["cov"], res["var_y"]), dim=-1)}


# ----------------------------------------------------------------- official formats
def official_features(normalised_keypoints: torch.Tensor, normalised_covariance: torch.Tensor,
                      width: int, height: int, cov_offset: float = 1.0) -> dict[str, torch.Tensor]:
    """``extract_features.compute_keypoints``'s outputs from :meth:`BKinD.detect`'s grid-unit
    results ``(..., K, 2)`` / ``(..., K, 3)`` for an original frame of ``width x height``.

    ``keypoints``: int64 (row, col) = ``(int((u_y + 1) H / 2), int((u_x + 1) W / 2))``, truncated
    toward zero; ``covs``: ``[var_x, var_y, cov] + cov_offset`` (official: +1); ``xy_plus_1``.
    """
    u = normalised_keypoints.float()
    xy1 = (u + 1).cpu().numpy()
    row = torch.from_numpy(xy1[..., 1] * (height / 2.0)).to(torch.int64)
    col = torch.from_numpy(xy1[..., 0] * (width / 2.0)).to(torch.int64)
    c = normalised_covariance.float()
    covs = torch.stack((c[..., 0], c[..., 2], c[..., 1]), dim=-1) + cov_offset
    return {"keypoints": torch.stack((row, col), dim=-1), "covs": covs,
            "xy_plus_1": torch.from_numpy(xy1)}


# ---------------------------------------------------------------- official checkpoints
def checkpoint_num_keypoints(sd: Mapping[str, torch.Tensor]) -> int | None:
    """K of a B-KinD state_dict (from the finest predict head), None if it has no head."""
    heads = sorted(k for k in sd if k.startswith("kptNet.predict.") and k.endswith(".3.weight"))
    return int(sd[heads[-1]].shape[0]) if heads else None


def convert_official(state_dict: dict[str, torch.Tensor], model: nn.Module | None = None
                     ) -> dict[str, torch.Tensor]:
    """Official keys are ours; a detector-only model drops the official ``decoder.*``."""
    sd = dict(state_dict)
    if isinstance(model, BKinD) and not model.with_decoder:
        sd = {k: v for k, v in sd.items() if not k.startswith("decoder.")}
    return sd


def load_pretrained(model: nn.Module, checkpoint: str | os.PathLike | Mapping[str, torch.Tensor],
                    *, system: str | None = None, partial: bool = False) -> LoadReport:
    """``model.pretrained`` for B-KinD: a checkpoint (ours, or official ``checkpoint.pth.tar``)
    with another number of keypoints is one :class:`CheckpointError` naming the file and both
    counts; a detector-only model ignores ``decoder.*``; the rest is the generic rule."""
    sd, path = read_pretrained(checkpoint, system or "bkind", model)
    if isinstance(model, BKinD):
        k = checkpoint_num_keypoints(sd)
        if k is not None and k != model.num_keypoints:
            raise CheckpointError(path, f"checkpoint was trained with {k} keypoints, this model has "
                                        f"{model.num_keypoints} (set model.args.num_keypoints={k})")
        sd = convert_official(sd, model)
    return load_fitting(model, sd, path, partial, what=f"B-KinD model {type(model).__name__}")


def _official_model(n_kps: int = 10, output_dim: int = 200, pretrained: bool = True,
                    output_shape: Sequence[int] = (64, 64), *, detector: bool = False,
                    submodules: Mapping | None = None, **ours) -> BKinD:
    if output_shape[0] != output_shape[1]:
        raise ConfigError(f"output_shape {list(output_shape)}: only square inputs are implemented")
    if pretrained and ours.get("encoder_weights") is None:
        raise ConfigError("official pretrained=True downloads resnet50-19c8e357.pth; motionscope "
                          "never downloads: pass encoder_weights=PATH (or pretrained=False)")
    sub = dict(submodules or {})
    kw: dict = {"num_keypoints": n_kps, "image_size": 4 * int(output_shape[0]),
                "with_decoder": not detector}
    kpt = sub.get("kptNet", {}).get("kwargs")
    if kpt is not None:
        if int(kpt.get("num_class", n_kps)) != n_kps:
            raise ConfigError(f"kptNet num_class {kpt['num_class']} != n_kps {n_kps}")
        kw["channels"] = tuple(kpt["channel_settings"])
    dec = sub.get("decoder", {}).get("kwargs")
    if dec is not None and not detector:
        chans = kw.get("channels", (2048,))
        if int(dec["in_planes"]) != chans[0] or int(dec["n_kps"]) != 2 * n_kps:
            raise ConfigError(f"decoder {dict(dec)}: this model ties in_planes to layer4's width "
                              f"{chans[0]} and n_kps to 2K = {2 * n_kps}")
    enc = sub.get("encoder", {})
    if "replay" in str(enc.get("class_", "")):
        kw["encoder_layers"] = None
    elif "channels" in kw:
        kw["encoder_base_width"] = kw["channels"][-1] // 4
    kw.update(ours)
    return BKinD(**kw)


def _official_detector(n_kpts: int = 10, pretrained: bool = True,
                       output_shape: Sequence[int] = (64, 64), *, submodules: Mapping | None = None,
                       **ours) -> BKinD:
    return _official_model(n_kpts, pretrained=pretrained, output_shape=output_shape, detector=True,
                           submodules=submodules, **ours)


def _official_resnetbank(block=None, layers: Sequence[int] = RESNET50_LAYERS, num_classes: int = 1000,
                         zero_init_residual: bool = False, groups: int = 1,
                         width_per_group: int = 64, **_ignored) -> ResNetBank:
    if groups != 1 or zero_init_residual:
        raise ConfigError("ResNetBankAll: groups != 1 / zero_init_residual are not used by B-KinD")
    return ResNetBank(layers, 64, width_per_group)


def _official_vgg(pretrained: bool = True, num_classes: int = 1000, init_weights: bool = True,
                  *, submodules: Mapping | None = None, vgg_weights: str | os.PathLike | None = None,
                  **_ignored) -> VGGFeatures:
    from .layers.vgg import load_vgg_weights

    if pretrained and vgg_weights is None:
        raise ConfigError("official VGG_feat(pretrained=True) downloads vgg19-dcbb9e9d.pth; pass "
                          "vgg_weights=PATH (or pretrained=False)")
    sl = (submodules or {}).get("features", {}).get("slice")
    net = VGGFeatures(num_modules=None if sl is None else int(sl[1]) - int(sl[0]))
    if vgg_weights is not None:
        load_vgg_weights(net, vgg_weights)
    return net


OFFICIAL_CLASSES = {
    "model/unsupervised_model.py::Model": _official_model,
    "model/kpt_detector.py::Model": _official_detector,
    "model/resnet_updated.py::ResNetBankAll": _official_resnetbank,
    "model/globalNet.py::globalNet": lambda channel_settings, output_shape=None, num_class=10:
        GlobalNet(channel_settings, num_class),
    "model/vggforLoss.py::VGG_feat": _official_vgg,
}


def build_official(official_class: str, constructor_kwargs: dict | None = None,
                   submodules: Mapping | None = None, **overrides) -> nn.Module:
    """Our module for an official B-KinD class, its constructor arguments and the fixtures'
    ``submodules`` (reduced kptNet/decoder widths, an encoder replay, a truncated VGG)."""
    fn = OFFICIAL_CLASSES.get(official_class)
    if fn is None:
        raise ConfigError(f"no motionscope module for official class {official_class!r} "
                          f"(known: {', '.join(OFFICIAL_CLASSES)})")
    kwargs = {k: v for k, v in (constructor_kwargs or {}).items()
              if not (isinstance(v, dict) and "class_" in v)}  # the Bottleneck class argument
    if submodules is not None and "submodules" in inspect.signature(fn).parameters:
        kwargs["submodules"] = submodules
    try:
        return fn(**kwargs, **overrides)
    except TypeError as e:
        raise ConfigError(f"official {official_class}: arguments {sorted(kwargs)} do not fit: {e}") from e


# ---------------------------------------------------------------------- family protocol
def bkind(**kw) -> BKinD:
    """B-KinD: ResNet-50 bank encoder, GlobalNet head, 5-scale Gaussian decoder (CVPR 2022)."""
    return BKinD(**kw)


bkind.builds = BKinD  # type: ignore[attr-defined]  (create_model checks the arguments)

MODELS = {"bkind": bkind}

# CPU-sized: the ResNet-50 layout at one block per stage and width 8 (stage outputs
# 32 ... 256), 64 px input, the curriculum on from the start so every loss term runs
TINY = {"bkind": {"num_keypoints": 4, "image_size": 64, "encoder_layers": (1, 1, 1, 1),
                  "encoder_base_width": 8, "curriculum": 0}}


def tiny_batch(name: str, model: nn.Module, batch_size: int = 2, labelled: bool = True) -> dict:
    """``{"image0", "image1"}`` (B, 3, S, S): a smooth random frame and a shifted copy."""
    g = torch.Generator().manual_seed(0)
    s = model.image_size
    base = F.interpolate(torch.randn(batch_size, 3, s // 8, s // 8, generator=g), size=(s, s),
                         mode="bilinear", align_corners=False)
    return {"image0": base, "image1": torch.roll(base, shifts=(3, -2), dims=(2, 3))}


__all__ = ["BKinD", "ResNetBank", "Decoder", "UpBlock", "VARIANCES", "official_features",
           "checkpoint_num_keypoints", "convert_official", "load_pretrained", "build_official",
           "MODELS", "TINY", "tiny_batch"]
