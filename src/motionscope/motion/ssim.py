"""SSIM maps and B-KinD's reconstruction target: the structural change between two frames.

B-KinD does not reconstruct the second frame; it reconstructs *where the image structure
changed*: ``1 - cs``, the SSIM contrast-structure term between frame t and t + gap, averaged over
the colour channels and blurred. Static background scores ~0 whatever its texture, a moving
limb scores up to 2. The luminance term is not used, so a global brightness flicker does not
light up the target.

The arithmetic is the official code's (``loss/ssim_loss.py``, piq's ``gaussian_filter`` and
``_ssim_per_channel``): Gaussian windows normalised to sum 1 over centred integer offsets,
*valid* convolutions, variances as ``E[x^2] - mu^2`` without clamping, everything in float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD


def gaussian_window(size: int, sigma: float, dtype: torch.dtype = torch.float32,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """``(size, size)`` kernel ``exp(-(i^2 + j^2) / (2 sigma^2))`` over centred offsets, sum 1."""
    coords = torch.arange(size, dtype=dtype, device=device)
    coords -= (size - 1) / 2.0
    g = coords ** 2
    g = (-(g.unsqueeze(0) + g.unsqueeze(1)) / (2 * sigma ** 2)).exp()
    g /= g.sum()
    return g


def ssim_maps(x: torch.Tensor, y: torch.Tensor, window_size: int = 11, sigma: float = 1.5,
              data_range: float = 1.0, k1: float = 0.01, k2: float = 0.03
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel SSIM and contrast-structure maps of ``(N, C, H, W)`` images (valid windows).

    Returns ``(ssim_map, cs_map)``, each ``(N, C, H - window_size + 1, W - window_size + 1)``.
    Inputs are cast to float32 as the official code does, whatever their dtype.
    """
    x = x.to(torch.float32) / data_range
    y = y.to(torch.float32) / data_range
    c = x.shape[1]
    if x.shape[-1] < window_size or x.shape[-2] < window_size:
        raise ValueError(f"SSIM window {window_size} is larger than the image {tuple(x.shape[-2:])}")
    kernel = gaussian_window(window_size, sigma, x.dtype, x.device).expand(c, 1, -1, -1).contiguous()
    c1, c2 = k1 ** 2, k2 ** 2
    mu1 = F.conv2d(x, kernel, groups=c)
    mu2 = F.conv2d(y, kernel, groups=c)
    mu1_sq, mu2_sq, mu1_mu2 = mu1.pow(2), mu2.pow(2), mu1 * mu2
    sigma1_sq = F.conv2d(x * x, kernel, groups=c) - mu1_sq
    sigma2_sq = F.conv2d(y * y, kernel, groups=c) - mu2_sq
    sigma12 = F.conv2d(x * y, kernel, groups=c) - mu1_mu2
    cs_map = (2 * sigma12 + c2) / (sigma1_sq + sigma2_sq + c2)
    ssim_map = ((2 * mu1_mu2 + c1) / (mu1_sq + mu2_sq + c1)) * cs_map
    return ssim_map, cs_map


def unnormalise(images: torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN,
                std: Sequence[float] = IMAGENET_STD) -> torch.Tensor:
    """ImageNet-normalised ``(N, 3, H, W)`` back to [0, 1] RGB (``x * std + mean``)."""
    m = torch.tensor(mean, dtype=images.dtype, device=images.device).reshape(3, 1, 1)
    s = torch.tensor(std, dtype=images.dtype, device=images.device).reshape(3, 1, 1)
    return images * s + m


def structural_change(image0: torch.Tensor, image1: torch.Tensor, pad: int = 10,
                      window_size: int = 11, sigma: float = 1.5, blur_size: int = 11,
                      blur_sigma: float = 1.0, normalised: bool = True,
                      intermediates: dict | None = None) -> torch.Tensor:
    """B-KinD's reconstruction target ``(N, 3, H, W)`` for frames t (``image0``) and t + gap.

    ``1 - mean_c cs(pad(x0), pad(x1))``, blurred by a valid ``blur_size`` Gaussian and repeated
    to 3 channels; with ``pad = 10`` and two valid 11-windows the output keeps the input size.
    ``normalised`` inputs are ImageNet-normalised (the training batch) and are mapped back to
    [0, 1] first. ``intermediates`` (a dict) receives ``cs_mean`` and ``ssim_val`` (the
    official ``ssim(..., full=True)`` return values).
    """
    if normalised:
        image0, image1 = unnormalise(image0), unnormalise(image1)
    if pad:
        image0 = F.pad(image0, (pad,) * 4, mode="replicate")
        image1 = F.pad(image1, (pad,) * 4, mode="replicate")
    ssim_map, cs_map = ssim_maps(image0, image1, window_size, sigma)
    cs = cs_map.mean(1)
    if intermediates is not None:
        intermediates["cs_mean"] = cs
        intermediates["ssim_val"] = ssim_map.mean(dim=(-1, -2)).mean(1)
    d = 1.0 - cs.unsqueeze(1)
    kernel = gaussian_window(blur_size, blur_sigma, d.dtype, d.device).view(1, 1, blur_size, blur_size)
    return F.conv2d(d, kernel).repeat(1, 3, 1, 1)


__all__ = ["gaussian_window", "ssim_maps", "unnormalise",
           "structural_change"]
