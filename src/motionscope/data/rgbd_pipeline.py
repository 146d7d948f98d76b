"""The DRSR loader's per-clip steps (spec 2.4-2.7): frame choice, depth encoding, NTU ROI, geometry.

Order, as ``lib/datasets/base.py::Datasets.image_propose`` applies it to every frame of a clip:

1. depth only: encode (``legacy``: ``uint8(255 * d)``, i.e. ``(-d) mod 256`` of 16-bit millimetres,
   then the contour-centred 320x240 ROI and OpenCV's JET colour map, channels in OpenCV's BGR
   order as the official code keeps them; ``range``: millimetres clipped to ``depth_range`` and
   mapped to [0, 1], nearer brighter, 0 = no reading); RGB with ``rgb_roi="ntu"``: the
   NTU pre-processing crop (half the frame size around the subject found in the masked depth);
2. rotation by the clip's angle about the frame centre (``cv2.warpAffine``, zero border);
3. resize to ``resize`` = (W, H) (PIL's default bicubic filter, antialiased);
4. crop ``crop_size`` at the clip's (left, top): random in training, centre (or a fixed offset,
   NvGesture) otherwise;
5. optional Gaussian blur (training), horizontal flip;
6. resize to ``sample_size`` and ``(x - 127.5) / 128``.

All frames of a clip share one draw (:class:`ClipParams`); RGB and depth share it too unless
``paired=False`` asks for the released code's independent draws per stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError

__all__ = ["drsr_frame_indices", "ClipParams", "draw_params", "encode_depth", "roi_center",
           "ntu_rgb_roi", "depth_roi", "geometry", "to_network", "DEPTH_NORMS", "DEPTH_FORMATS"]

DEPTH_NORMS = ("range", "legacy")
DEPTH_FORMATS = ("mm16", "image8")


def drsr_frame_indices(num_frames: int, count: int, training: bool, rng=None) -> np.ndarray:
    """0-based indices of ``count`` frames, one per equal segment of ``num_frames`` (get_sl).

    Segment i covers ``range(int(n*i/T), max(int(n*i/T) + 1, int(n*(i+1)/T)))``; training draws
    a random frame of it, evaluation takes ``int(mean(segment))`` (its middle, rounded down).
    Videos shorter than ``count`` repeat frames.
    """
    n, t = int(num_frames), int(count)
    if n < 1:
        raise ValueError(f"cannot sample frames from a clip of {n} frames")
    i = np.arange(t)
    lo = (n * i) // t
    hi = np.maximum(lo + 1, (n * (i + 1)) // t)
    if training:
        rng = np.random if rng is None else rng
        return (lo + np.array([rng.randint(int(h - low)) for low, h in zip(lo, hi)])).astype(np.int64)
    return ((lo + hi - 1) // 2).astype(np.int64)


@dataclass(frozen=True)
class ClipParams:
    """One clip's augmentation draw, applied to every frame (and stream)."""

    left: int
    top: int
    flip: bool
    angle: int
    blur: float | None  # Gaussian sigma in pixels, or None


def draw_params(training: bool, resize: tuple[int, int], crop_size: int, *, flip: float = 0.5,
                rotated: float = 0.5, angle: tuple[int, int] = (-10, 10), blur: bool = False,
                test_crop_offset: Sequence[int] | None = None, train_crop_low: int = 0,
                rng=None) -> ClipParams:
    """The official draws: crop corner (``randint(low, W - crop)``), flip with p = ``flip``,
    rotation with p = ``rotated`` by ``randint(angle[0], angle[1])`` degrees; evaluation takes
    the centre ``((W - crop)//2, (H - crop)//2)`` (or ``test_crop_offset``), no flip/rotation."""
    w, h = resize
    if crop_size > w or crop_size > h:
        raise ConfigError(f"crop_size={crop_size} is larger than resize={tuple(resize)}")
    if not training:
        left, top = ((w - crop_size) // 2, (h - crop_size) // 2) if test_crop_offset is None \
            else (int(test_crop_offset[0]), int(test_crop_offset[1]))
        if left + crop_size > w or top + crop_size > h or left < 0 or top < 0:
            raise ConfigError(f"test_crop_offset={tuple(test_crop_offset or ())} puts the "
                              f"{crop_size}px crop outside resize={tuple(resize)}")
        return ClipParams(left, top, False, 0, None)
    rng = np.random if rng is None else rng

    def corner(extent: int) -> int:
        low = min(train_crop_low, extent - crop_size)
        return int(rng.randint(low, extent - crop_size)) if extent - crop_size > low else low

    left, top = corner(w), corner(h)
    do_flip = bool(rng.uniform(0, 1) < flip)
    ang = int(rng.randint(angle[0], angle[1])) if rng.uniform(0, 1) < rotated and \
        angle[1] > angle[0] else 0
    sigma = float(rng.uniform(0.1, 2.0)) if blur and rng.uniform(0, 1) < 0.5 else None
    return ClipParams(left, top, do_flip, ang, sigma)


# ----------------------------------------------------------------------------- depth
def encode_depth(depth: np.ndarray, norm: str, depth_range: tuple[float, float] = (500, 4500),
                 invert: bool = True) -> np.ndarray:
    """One 16-bit millimetre frame ``(H, W)`` -> the network's depth image.

    ``legacy``: ``uint8(255 * d)`` (the released code: keeps ``(-d) mod 256``, so depth wraps
    every 256 mm) -> ``uint8 (H, W)``, JET-mapped later by :func:`legacy_colour`.
    ``range``: ``clip((far - d) / (far - near), 0, 1)`` (``invert``; else ``(d - near) / ...``),
    0 where there is no reading -> ``float32 (H, W)``.
    """
    if norm == "legacy":
        return (depth.astype(np.uint32) * 255).astype(np.uint8)
    if norm == "range":
        near, far = float(depth_range[0]), float(depth_range[1])
        d = depth.astype(np.float32)
        v = (far - d) / (far - near) if invert else (d - near) / (far - near)
        return np.where(depth > 0, np.clip(v, 0.0, 1.0), 0.0).astype(np.float32)
    raise ConfigError(f"unknown depth_norm {norm!r} (choose one of {', '.join(DEPTH_NORMS)})")


def legacy_colour(img: np.ndarray) -> np.ndarray:
    """``cv2.applyColorMap(JET)`` of the wrapped depth, kept in OpenCV's BGR channel order."""
    return cv2.applyColorMap(np.ascontiguousarray(img), cv2.COLORMAP_JET)


def roi_center(mask: np.ndarray, min_area: float = 500.0) -> tuple[int, int] | None:
    """Subject position in a (masked) depth frame, as the official code finds it: erode 3x3,
    dilate 10x10, external contours with area > ``min_area``, the *minimum* x and y of their
    ``minAreaRect`` centres. None when no contour is large enough (the official code crashes
    there, damo-cv/MotionRGBD#10)."""
    m = np.ascontiguousarray(mask)
    if m.dtype != np.uint8:
        m = (m != 0).astype(np.uint8) * 255
    m = cv2.dilate(cv2.erode(m, np.ones((3, 3), np.uint8)), np.ones((10, 10), np.uint8))
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    centres = [cv2.minAreaRect(c)[0] for c in contours if cv2.contourArea(c) > min_area]
    if not centres:
        return None
    c = np.array(centres).astype(np.int64)  # np.int0: truncation
    return int(c[:, 0].min()), int(c[:, 1].min())


def _crop_at(img: np.ndarray, center: tuple[int, int], crop_w: int, crop_h: int) -> np.ndarray:
    """PIL ``crop((left, top, min(left + cw, W), min(top + ch, H)))`` with left/top clamped at 0."""
    h, w = img.shape[:2]
    left = max(center[0] - crop_w // 2, 0)
    top = max(center[1] - crop_h // 2, 0)
    return img[top:min(top + crop_h, h), left:min(left + crop_w, w)]


def depth_roi(img: np.ndarray, mask_source: np.ndarray, size: tuple[int, int] = (320, 240),
              min_area: float = 500.0) -> tuple[np.ndarray, bool]:
    """The loader's ``depthProposess`` crop: ``size`` = (W, H) around :func:`roi_center` of
    ``mask_source``. Returns ``(crop, found)``; without a subject the frame centre is used."""
    c = roi_center(mask_source, min_area)
    found = c is not None
    if c is None:
        c = (img.shape[1] // 2, img.shape[0] // 2)
    return _crop_at(img, c, size[0], size[1]), found


def ntu_rgb_roi(rgb: np.ndarray, masked_depth: np.ndarray, min_area: float = 500.0
                ) -> tuple[np.ndarray, bool]:
    """NTU's RGB pre-processing (``data/data_preprose.py``): the subject centre found in the
    masked depth, rescaled to the RGB size, then a window of half the RGB frame size with its
    top-left at ``centre - half window`` (clamped). Returns ``(crop, found)``."""
    h2, w2 = rgb.shape[:2]
    h1, w1 = masked_depth.shape[:2]
    c = roi_center(masked_depth, min_area)
    found = c is not None
    if c is None:
        c = (w1 // 2, h1 // 2)
    cx, cy = int(w2 / w1 * c[0]), int(h2 / h1 * c[1])
    return _crop_at(rgb, (cx, cy), w2 // 2, h2 // 2), found


# ----------------------------------------------------------------------------- geometry
def _rotate(img: np.ndarray, angle: int) -> np.ndarray:
    if angle == 0:
        return img
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(img, m, (w, h))


def _resize(x: torch.Tensor, size_hw: tuple[int, int], is_uint8: bool) -> torch.Tensor:
    """``(N, C, H, W)`` float values -> bicubic antialiased (PIL's default ``Image.resize``)."""
    if tuple(x.shape[-2:]) == tuple(size_hw):
        return x
    y = F.interpolate(x, size=tuple(size_hw), mode="bicubic", align_corners=False, antialias=True)
    return y.round_().clamp_(0, 255) if is_uint8 else y.clamp_(0.0, 1.0)


def geometry(frames: list[np.ndarray], params: ClipParams, resize: tuple[int, int],
             crop_size: int, sample_size: int) -> np.ndarray | torch.Tensor:
    """Steps 2-6 of the module doc on one stream's frames (each ``(H, W[, C])``, sizes may
    differ after a ROI crop) -> ``(T, S, S, C)``: uint8 for 8-bit frames, float32 otherwise."""
    is_uint8 = frames[0].dtype == np.uint8
    w, h = resize
    out = []
    for f in frames:
        f = _rotate(f, params.angle)
        t = torch.from_numpy(np.ascontiguousarray(f if f.ndim == 3 else f[..., None]))
        out.append(_resize(t.permute(2, 0, 1)[None].float(), (h, w), is_uint8)[0])
    x = torch.stack(out)  # (T, C, H, W) float
    x = x[..., params.top:params.top + crop_size, params.left:params.left + crop_size]
    if params.blur is not None:
        k = int(2 * round(3 * params.blur) + 1)
        arr = x.permute(0, 2, 3, 1).numpy()
        x = torch.from_numpy(np.stack([cv2.GaussianBlur(a, (k, k), params.blur).reshape(a.shape)
                                       for a in arr])).permute(0, 3, 1, 2)
        if is_uint8:
            x = x.round().clamp(0, 255)
    if params.flip:
        x = x.flip(-1)
    x = _resize(x.contiguous(), (sample_size, sample_size), is_uint8)
    x = x.permute(0, 2, 3, 1).contiguous()
    return x.to(torch.uint8) if is_uint8 else x


def to_network(frames: torch.Tensor) -> torch.Tensor:
    """``(T, S, S, C)`` frames -> ``(3, T, S, S)`` float32 ``(x - 127.5) / 128``: uint8 values as
    they are, [0, 1] depth scaled by 255 first; one channel is replicated to three."""
    x = frames.to(torch.float64)
    if frames.dtype != torch.uint8:
        x = x * 255.0
    x = ((x - 127.5) / 128).to(torch.float32).permute(3, 0, 1, 2)
    return x.expand(3, -1, -1, -1).contiguous() if x.shape[0] == 1 else x.contiguous()
