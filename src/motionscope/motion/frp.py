"""FRP heat maps: dynamic images (approximate rank pooling) over sliding windows (DRSR, spec 2.8).

For every frame ``t`` the official DRSR loader rank-pools the ``w`` frames *ending* at ``t``
(weights ``alpha_j = 2j - N - 1``, ``j = 1..N``), applies ReLU and min-max over the whole
3-channel map, converts it to grey (torchvision luminance ``0.2989 R + 0.587 G + 0.114 B``) and
builds a "static" mask: pixels above the map mean, eroded 2x2 and dilated 3x3 as OpenCV does
(erode anchor (1, 1), i.e. the minimum over rows ``{y-1, y}`` x cols ``{x-1, x}``; pixels
outside the image ignored), then min-max again. The heat map is ``(dynamic + static) * static``
with ``w - 1`` leading all-zero frames, so a clip of ``T`` frames gives ``T`` maps; a clip
shorter than the window gives only zero maps, as the official loader does.

The official code does this per window in a Python loop inside the data loader, on the CPU.
:func:`dynamic_heatmaps` computes the same maps for a whole batch of clips at once, on any
device, as ``w`` shifted multiply-adds plus a few pooling calls. Rank pooling is linear and
its weights sum to zero, and ReLU + min-max remove any positive scale, so the maps of raw
``uint8`` frames equal those of the loader's ``(x - 127.5) / 128`` frames; for integer frames
every partial sum is exact in float32, so the rank pooling matches the official float32
accumulation bit for bit. :func:`dynamic_heatmaps_reference` is the per-window loop of the
official kind (OpenCV morphology), kept for the tests and the benchmark.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError, DataError

#: torchvision's ``rgb_to_grayscale`` weights, in the order it adds them.
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)
#: official FRP window (NvGesture uses 4).
DEFAULT_WINDOW = 10


def rank_pool_weights(n: int) -> list[float]:
    """Approximate rank pooling weights ``2j - n - 1`` for ``j = 1..n`` (Bilen et al.)."""
    return [float(2 * j - n - 1) for j in range(1, n + 1)]


def _check(frames: torch.Tensor, window: int) -> None:
    if not isinstance(window, int) or window < 1:
        raise ConfigError(f"FRP window must be a positive integer, got {window!r}")
    if frames.ndim != 5:
        raise DataError(None, f"FRP frames must be (B, T, H, W, C), got shape {tuple(frames.shape)}")
    if frames.shape[-1] not in (1, 3):
        raise DataError(None, f"FRP frames must have 1 or 3 channels last, got shape {tuple(frames.shape)}")


def _minmax(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """``x - min`` then ``/ max`` per map, ``/ (max + 1e-5)`` where the max is 0 (official).
    ``dims`` are the trailing ones; ``max(x - min)`` is ``max(x) - min`` exactly (float
    subtraction is monotonic), so the shifted map needs no second reduction."""
    flat = x.flatten(dims[0])
    lo, hi = flat.amin(-1), flat.amax(-1)  # (torch.aminmax is ~20x slower on the CPU)
    keep = (*lo.shape, *([1] * len(dims)))
    lo, top = lo.view(keep), (hi - lo).view(keep)
    return (x - lo).div_(torch.where(top != 0, top, top + 1e-5))


def window_maps(frames: torch.Tensor, window: int = DEFAULT_WINDOW) -> tuple[torch.Tensor, torch.Tensor]:
    """Dynamic and static maps of every full window of a batch of clips.

    ``frames (B, T, H, W, C)`` (uint8 or float, C = 3 RGB or 1) -> ``(dynamic, static)``, each
    ``(B, T - window + 1, H, W)`` float32; map ``i`` covers frames ``i .. i + window - 1``.
    Empty along time when ``T < window``.
    """
    _check(frames, window)
    b, t, h, w, c = frames.shape
    n = t - window + 1
    if n <= 0:
        empty = frames.new_zeros((b, 0, h, w), dtype=torch.float32)
        return empty, empty.clone()
    parts = list(_chunks(frames, window))
    if len(parts) == 1:
        return parts[0][1], parts[0][2]
    return torch.cat([d for _, d, _ in parts], 1), torch.cat([s for _, _, s in parts], 1)


def _chunks(frames: torch.Tensor, window: int):
    """``(first window, dynamic, static)`` of consecutive runs of windows: all at once on a
    GPU; on the CPU a few at a time, so that each pass over them stays in the cache (windows
    are independent)."""
    b, t, h, w, c = frames.shape
    n = t - window + 1
    step = n if frames.device.type != "cpu" else max(1, CPU_CHUNK // (b * h * w * c))
    for i in range(0, n, step):
        yield (i, *_window_maps(frames[:, i:i + min(step, n - i) + window - 1], window))


#: values per chunk of windows on the CPU (~8 MB of float32): every step of the maps is a pass
#: over the data, and a whole 64 x 224^2 clip at once (~40 MB per pass) is bound by memory speed
CPU_CHUNK = 1 << 21


def _window_maps(frames: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    b, t, h, w, c = frames.shape
    n = t - window + 1
    weights = rank_pool_weights(window)
    if frames.dtype == torch.uint8:
        # integer frames: the rank pooling in integers (int16 while it cannot overflow: half the
        # memory traffic of float32), exact, so equal to the official float32 accumulation
        it = torch.int16 if 255 * sum(abs(a) for a in weights) <= 32767 else torch.int32
        x = frames.to(it)
        acc = torch.zeros((b, n, h, w, c), dtype=it, device=frames.device)
        for j, alpha in enumerate(weights):
            acc.add_(x[:, j:j + n], alpha=int(alpha))
        re = acc.clamp_min_(0).to(torch.float32)
    else:
        x = frames if frames.dtype == torch.float32 else frames.to(torch.float32)
        re = torch.zeros((b, n, h, w, c), dtype=torch.float32, device=frames.device)
        for j, alpha in enumerate(weights):
            re.add_(x[:, j:j + n], alpha=alpha)
        re = torch.relu_(re)
    re = _minmax(re, (2, 3, 4))
    if c == 3:
        dyn = GRAY_WEIGHTS[0] * re[..., 0] + GRAY_WEIGHTS[1] * re[..., 1] + GRAY_WEIGHTS[2] * re[..., 2]
    else:
        dyn = re[..., 0].contiguous()
    mean = dyn.mean(dim=(2, 3), keepdim=True)
    static = torch.where(dyn > mean, dyn, 0.0)
    static = _minmax(_dilate3(_erode2(static)), (2, 3))
    return dyn, static


def _erode2(x: torch.Tensor) -> torch.Tensor:
    """OpenCV's 2x2 erode, anchor (1, 1): the minimum over rows {y-1, y} x cols {x-1, x},
    pixels outside the image ignored; as shifted minimums over the last two dims (separable,
    exact; several times faster on the CPU than a pooling call)."""
    return _shifted(_shifted(x, -2, torch.minimum), -1, torch.minimum)


def _dilate3(x: torch.Tensor) -> torch.Tensor:
    """OpenCV's 3x3 dilate, centred, pixels outside the image ignored (separable maximums)."""
    return _shifted(_shifted(x, -2, torch.maximum, both=True), -1, torch.maximum, both=True)


def _shifted(v: torch.Tensor, dim: int, op, both: bool = False) -> torch.Tensor:
    """``op`` of ``v`` and its neighbour one step back along ``dim`` (and, ``both``, the one
    forward too); pixels without a neighbour on a side keep their value."""
    n = v.shape[dim]
    if n == 1:
        return v.clone()
    m = torch.empty_like(v)
    back, fwd = v.narrow(dim, 0, n - 1), v.narrow(dim, 1, n - 1)
    if not both:
        m.narrow(dim, 0, 1).copy_(v.narrow(dim, 0, 1))
        op(fwd, back, out=m.narrow(dim, 1, n - 1))
        return m
    # both sides (3-wide): the edges see one neighbour, the inside two
    op(v.narrow(dim, 0, 1), v.narrow(dim, 1, 1), out=m.narrow(dim, 0, 1))
    op(v.narrow(dim, n - 1, 1), v.narrow(dim, n - 2, 1), out=m.narrow(dim, n - 1, 1))
    if n > 2:
        inner = m.narrow(dim, 1, n - 2)
        op(back.narrow(dim, 0, n - 2), fwd.narrow(dim, 1, n - 2), out=inner)
        op(inner, v.narrow(dim, 1, n - 2), out=inner)
    return m


def dynamic_heatmaps(frames: torch.Tensor, window: int = DEFAULT_WINDOW) -> torch.Tensor:
    """FRP heat maps of a batch of clips, vectorised over the whole clip on its device.

    ``frames (B, T, H, W, C)`` uint8 or float (C = 3 RGB, or 1) -> ``(B, 1, T, H, W)`` float32
    in ``[0, 2]``: ``(dynamic + static) * static`` of the window ending at each frame, zero for
    the first ``window - 1`` frames (and for every frame of a clip shorter than the window).
    """
    _check(frames, window)
    b, t, h, w, _ = frames.shape
    out = torch.zeros((b, 1, t, h, w), dtype=torch.float32, device=frames.device)
    if t >= window:
        for i, dyn, static in _chunks(frames, window):
            k = window - 1 + i
            torch.mul(dyn.add_(static), static, out=out[:, 0, k:k + dyn.shape[1]])
    return out


def heatmap_of_clip(clip: torch.Tensor, window: int = DEFAULT_WINDOW) -> torch.Tensor:
    """One clip ``(T, H, W, C)`` -> its heat map ``(1, T, H, W)`` (what a dataset sample holds)."""
    if clip.ndim != 4:
        raise DataError(None, f"FRP clip must be (T, H, W, C), got shape {tuple(clip.shape)}")
    return dynamic_heatmaps(clip.unsqueeze(0), window)[0]


def dynamic_heatmaps_reference(
    clip: np.ndarray, window: int = DEFAULT_WINDOW, *, return_parts: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The official per-window loop for one clip ``(T, H, W, 3)`` -> ``(1, T, H, W)`` float32.

    Slow on purpose: it follows the released loader step by step (normalised float64 frames
    accumulated into float32 one window at a time, OpenCV erode/dilate, every window including
    the shorter tail windows, which are then dropped). With ``return_parts`` also the dynamic
    and static maps of the kept windows, each ``(T - window + 1, H, W)``.
    """
    import cv2

    frames = [torch.from_numpy((np.asarray(f, dtype=np.float64) - 127.5) / 128).permute(2, 0, 1)
              for f in clip]
    dyns, statics = [], []
    for i in range(len(frames)):
        arr = frames[i:i + window]
        re = torch.zeros(arr[0].size())
        for a, b in zip(arr, rank_pool_weights(len(arr))):
            re += a * b
        re = torch.relu(re)
        re -= torch.min(re)
        re = re / torch.max(re) if torch.max(re) != 0 else re / (torch.max(re) + 0.00001)
        re = (GRAY_WEIGHTS[0] * re[0] + GRAY_WEIGHTS[1] * re[1] + GRAY_WEIGHTS[2] * re[2]).to(re.dtype)
        static = torch.where(re > torch.mean(re), re, torch.full_like(re, 0)).numpy()
        static = cv2.erode(static, cv2.getStructuringElement(cv2.MORPH_RECT, (2, 2)))
        static = cv2.dilate(static, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
        static -= np.min(static)
        static = static / np.max(static) if np.max(static) != 0 else static / (np.max(static) + 0.00001)
        dyns.append(re.numpy())
        statics.append(static.astype(np.float32))
    t, h, w = len(frames), clip.shape[1], clip.shape[2]
    pad = np.zeros((window - 1, h, w), np.float32)
    garr = np.concatenate([pad, np.stack(dyns)])[:t] if dyns else np.zeros((t, h, w), np.float32)
    stat = np.concatenate([pad, np.stack(statics)])[:t] if statics else np.zeros((t, h, w), np.float32)
    heat = ((garr + stat) * stat)[None].astype(np.float32)
    if not return_parts:
        return heat
    keep = max(t - window + 1, 0)
    empty = np.zeros((0, h, w), np.float32)
    return (heat, np.stack(dyns[:keep]) if keep else empty, np.stack(statics[:keep]) if keep else empty)
