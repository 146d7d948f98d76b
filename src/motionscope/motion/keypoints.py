"""Heatmaps to keypoints and keypoints to Gaussian maps: B-KinD's differentiable bottleneck.

Coordinates live on ``linspace(-1, 1, n)`` grids over *pixel centres* of the map: -1 is the
centre of the first heatmap pixel, +1 the centre of the last. :func:`heatmap_moments` reads a
keypoint (mean), its variances and covariance off a spatially softmaxed heatmap;
:func:`render_gaussians` draws ``exp(-d^2 / 2v) / sqrt(2 pi v)`` (not normalised; the official
``_kptTomap`` calls its variance ``inv_std``) at any resolution. :func:`to_pixels` maps the grid
coordinates to input-image pixels (pixel ``i`` centred at ``i``).

The operations and their order are the official ``_mapTokpt`` / ``_kptTomap``'s, so float32
results agree with the official code to rounding; the grids follow the input's device (the
official ones are hard-wired to CUDA).
"""

from __future__ import annotations

import math

import torch


def spatial_softmax(logits: torch.Tensor) -> torch.Tensor:
    """``(N, K, H, W)`` logits -> heatmaps that sum to 1 over each map."""
    n, k, h, w = logits.shape
    return torch.softmax(logits.reshape(n, k, h * w), dim=2).view(n, k, h, w)


def _grid(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.linspace(-1.0, 1.0, n, dtype=like.dtype, device=like.device)


def heatmap_moments(heatmap: torch.Tensor, min_var: float = 1e-6) -> dict[str, torch.Tensor]:
    """Mean, variances (clamped at ``min_var``), covariance (not clamped) and confidence (max)
    of each ``(N, K, H, W)`` heatmap, in grid units; each ``(N, K)``."""
    n, k, h, w = heatmap.shape
    s_y = heatmap.sum(3)
    s_x = heatmap.sum(2)
    y, x = _grid(h, heatmap), _grid(w, heatmap)
    u_y = (y * s_y).sum(2) / s_y.sum(2)
    u_x = (x * s_x).sum(2) / s_x.sum(2)
    y4, x4 = y.reshape(1, 1, h, 1), x.reshape(1, 1, 1, w)
    var_y = ((heatmap * y4.pow(2)).sum(2).sum(2) - u_y.pow(2)).clamp(min=min_var)
    var_x = ((heatmap * x4.pow(2)).sum(2).sum(2) - u_x.pow(2)).clamp(min=min_var)
    cov = (heatmap * (x4 - u_x.view(n, k, 1, 1)) * (y4 - u_y.view(n, k, 1, 1))).sum(2).sum(2)
    confidence = heatmap.amax(dim=(2, 3))
    return {"u_x": u_x, "u_y": u_y, "var_x": var_x, "var_y": var_y, "cov": cov,
            "confidence": confidence}


def render_gaussians(u_x: torch.Tensor, u_y: torch.Tensor, size: tuple[int, int],
                     variance: float) -> torch.Tensor:
    """``(N, K, H, W)`` maps ``exp(-((x - u_x)^2 + (y - u_y)^2) / (2 v)) / sqrt(2 pi v)``.

    Peaks are ``1 / sqrt(2 pi v)``: 1.26 (v = 0.1), 3.99 (0.01), 12.6 (0.001).
    """
    h, w = size
    mu_x = u_x.unsqueeze(2).unsqueeze(3)
    mu_y = u_y.unsqueeze(2)
    y = _grid(h, u_y).reshape(1, h)
    x = _grid(w, u_x).reshape(1, 1, w)
    g = (mu_y - y).pow(2).unsqueeze(3) + (mu_x - x).pow(2)
    return torch.exp(-g / (2 * variance)) / math.sqrt(2 * math.pi * variance)


def grid_to_pixel_scale(map_size: int, image_size: int) -> tuple[float, float]:
    """``(a, b)`` with ``pixel = a * u + b`` for grid coordinate ``u`` on a map of ``map_size``
    pixels covering ``image_size`` input pixels (map pixel j covers input pixels
    ``[j s, (j + 1) s)``, ``s = image_size / map_size``; input pixel i is centred at i)."""
    stride = image_size / map_size
    a = (map_size - 1) / 2.0 * stride
    return a, a + stride / 2.0 - 0.5


def to_pixels(moments: dict[str, torch.Tensor], map_hw: tuple[int, int],
              image_hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints ``(N, K, 2)`` as (x, y) input pixels and covariances ``(N, K, 3)`` as
    (xx, xy, yy) in input pixels^2, from :func:`heatmap_moments` in grid units."""
    ax, bx = grid_to_pixel_scale(map_hw[1], image_hw[1])
    ay, by = grid_to_pixel_scale(map_hw[0], image_hw[0])
    xy = torch.stack((moments["u_x"] * ax + bx, moments["u_y"] * ay + by), dim=-1)
    cov = torch.stack((moments["var_x"] * ax * ax, moments["cov"] * ax * ay,
                       moments["var_y"] * ay * ay), dim=-1)
    return xy, cov


__all__ = ["spatial_softmax", "heatmap_moments", "render_gaussians", "grid_to_pixel_scale",
           "to_pixels"]
