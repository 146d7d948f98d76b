"""B-KinD's training losses: reconstruction (pixel + perceptual), rotation equivariance, separation.

``L = sum_j mean(mse_j / (0.99 w_j + 0.01 mean(mse_j)))`` over the pixel term (j = 0) and the
perceptual terms (VGG19 relu1_2 ... relu5_2), ``w = perc_weight = [100, 1.6, 2.3, 1.8, 2.8, 100]``;
the denominator is recomputed every step and not detached (official ``_exp_running_avg``). From
the curriculum epoch on, the rotation-equivariance terms (the target frame's S/2 keypoint map
rotated by 90, 180, -90 degrees, detached, against the maps of the rotated frames; each /3) and
the separation terms (target + 3 rotated keypoint sets) are added.

The perceptual network (``perceptual=``):

``"vgg"``
    ImageNet VGG19 from a local torchvision-layout file (``vgg19-dcbb9e9d.pth``): the official
    loss. It receives ``to_pred`` and ``recon`` without ImageNet normalisation, as officially.
``"pyramid"`` (the fallback when no VGG file is given)
    No network: the five perceptual terms compare 2x2-average-pooled pyramids of the target and
    the reconstruction at VGG's five tap strides (1, 2, 4, 8, 16), with the same weights. Coarse
    levels give the large-support gradients that move keypoints toward misaligned structure,
    which is what the deep VGG terms provide; nothing is downloaded and it costs ~nothing.
``"random_vgg"``
    VGG19 with torchvision's random init (fixed seed): what the official code computes with
    ``pretrained=False``.
``"none"``
    The pixel term only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .layers.vgg import PERCEPTUAL_TAPS, VGGFeatures, load_vgg_weights

PERC_WEIGHT = (100.0, 1.6, 2.3, 1.8, 2.8, 100.0)
PERCEPTUAL = ("auto", "vgg", "pyramid", "random_vgg", "none")
FALLBACK = "pyramid"
ROTATIONS = (90.0, 180.0, -90.0)


def running_weight(mse_mean: torch.Tensor, init: float, rho: float = 0.99) -> torch.Tensor:
    """Official ``_exp_running_avg(x, rho, init_val)``: ``init + (1 - rho) (x - init)``, one step
    from ``init`` (not stateful, not detached)."""
    return init + (1.0 - rho) * (mse_mean - init)


def weighted_mse(a: torch.Tensor, b: torch.Tensor, init_weight: float,
                 mask: torch.Tensor | None = None, record: dict | None = None) -> torch.Tensor:
    """``mean((a - b)^2 mask / running_weight(mean((a - b)^2 mask), init_weight))``."""
    sq = (a - b).pow(2)
    if mask is not None:
        sq = sq * mask
    m = sq.mean()
    w = running_weight(m, init_weight)
    term = (sq / w).mean()
    if record is not None:
        record.update(mse_mean=m, init_weight=torch.tensor(float(init_weight)), weight=w, term=term)
    return term


def rotation_matrix(degrees: torch.Tensor) -> torch.Tensor:
    """``(N, 2, 3)`` affine ``[[c, -s, 0], [s, c, 0]]`` from float32 degrees (official op order:
    cos 90 is -4.4e-8, not 0)."""
    rad = math.pi * degrees / 180.0
    c, s = torch.cos(rad), torch.sin(rad)
    m = torch.stack((torch.stack([c, s], 1), torch.stack([-s, c], 1), torch.zeros(c.shape[0], 2,
                                                                                   device=c.device,
                                                                                   dtype=c.dtype)), 2)
    return m.to(torch.float32)


def rotate_maps(maps: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate ``(N, C, H, W)`` maps by ``degrees`` with ``affine_grid`` + ``grid_sample``
    (bilinear, zeros outside, align_corners=False), as the official rotation loss does."""
    deg = torch.ones(maps.shape[0], device=maps.device) * degrees
    theta = rotation_matrix(deg).to(maps.dtype)
    grid = F.affine_grid(theta, list(maps.shape), align_corners=False)
    return F.grid_sample(maps, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotation_loss(target_map: torch.Tensor, rotated_pass_map: torch.Tensor, degrees: float,
                  record: dict | None = None) -> torch.Tensor:
    """MSE between the target frame's keypoint map rotated by ``degrees`` (detached) and the map
    of the keypoints found in the rotated frame."""
    rotated = rotate_maps(target_map, degrees).clone().detach()
    mse = F.mse_loss(rotated, rotated_pass_map)
    if record is not None:
        record.update(rotated_target=rotated, mse=mse)
    return mse


def separation_loss(u_x: torch.Tensor, u_y: torch.Tensor, sigma: float = 0.08,
                    weight: float = 0.05) -> torch.Tensor:
    """``weight * mean_{n,i,j} (1 - delta_ij) exp(-|kp_i - kp_j|^2 / (2 sigma^2))`` in grid
    units (the mean counts the zeroed diagonal, as officially)."""
    kp = torch.stack([u_x, u_y], dim=-1)
    d2 = torch.cdist(kp, kp) ** 2
    k = kp.shape[1]
    off = torch.ones(k, k, device=kp.device, dtype=kp.dtype).fill_diagonal_(0).unsqueeze(0)
    return (torch.exp(-1 * d2 / (2 * sigma ** 2)) * off).mean() * weight


class PyramidFeatures(nn.Module):
    """Parameter-free stand-in for VGG's five taps: average-pooled copies of the input at
    strides ``strides`` (VGG19 relu1_2 ... relu5_2 sit at strides 1, 2, 4, 8, 16)."""

    def __init__(self, strides: Sequence[int] = (1, 2, 4, 8, 16)):
        super().__init__()
        self.strides = tuple(int(s) for s in strides)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x if s == 1 else F.avg_pool2d(x, s, s, ceil_mode=True) for s in self.strides]


def build_perceptual(mode: str, vgg_weights: str | os.PathLike | None = None) -> nn.Module | None:
    """The loss network of ``mode`` (module docstring); ``None`` for ``"none"``. Frozen, eval."""
    if mode not in PERCEPTUAL:
        raise ConfigError(f"unknown perceptual loss {mode!r} (known: {', '.join(PERCEPTUAL)})")
    if mode == "auto":
        mode = "vgg" if vgg_weights is not None else FALLBACK
    if mode == "none":
        return None
    if mode == "pyramid":
        return PyramidFeatures()
    if mode == "vgg" and vgg_weights is None:
        raise ConfigError("perceptual='vgg' needs vgg_weights=PATH (a local torchvision "
                          "vgg19-dcbb9e9d.pth; motionscope never downloads); perceptual='auto' "
                          f"falls back to {FALLBACK!r} without one")
    if mode == "random_vgg":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = VGGFeatures(taps=PERCEPTUAL_TAPS)
    else:
        net = VGGFeatures(taps=PERCEPTUAL_TAPS)
        load_vgg_weights(net, vgg_weights)
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def reconstruction_loss(to_pred: torch.Tensor, recon: torch.Tensor, feats_pred: Sequence[torch.Tensor],
                        feats_recon: Sequence[torch.Tensor], perc_weight: Sequence[float] = PERC_WEIGHT,
                        mask: torch.Tensor | None = None, record: dict | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pixel term, sum of perceptual terms)``; ``record`` gets ``pixel`` and ``perceptual/j``
    dicts (mse_mean, init_weight, weight, term)."""
    if len(perc_weight) < 1 + len(feats_pred):
        raise ConfigError(f"perc_weight has {len(perc_weight)} weights; the pixel term and "
                          f"{len(feats_pred)} perceptual terms need {1 + len(feats_pred)}")
    rec = {} if record is not None else None
    pixel = weighted_mse(to_pred, recon, perc_weight[0], mask, rec)
    if record is not None:
        record["pixel"] = rec
    perceptual = torch.zeros((), device=recon.device, dtype=pixel.dtype)
    for j, (fa, fb) in enumerate(zip(feats_pred, feats_recon)):
        m = None if mask is None else F.interpolate(mask, size=fa.shape[-2:], mode="bilinear")
        rec = {} if record is not None else None
        perceptual = perceptual + weighted_mse(fa, fb, perc_weight[j + 1], m, rec)
        if record is not None:
            record[f"perceptual/{j}"] = rec
    return pixel, perceptual


__all__ = ["PERC_WEIGHT", "PERCEPTUAL", "FALLBACK", "ROTATIONS", "running_weight", "weighted_mse",
           "rotation_matrix", "rotate_maps", "rotation_loss", "separation_loss", "PyramidFeatures",
           "build_perceptual", "reconstruction_loss"]
