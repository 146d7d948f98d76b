"""Clip-level ("group") image transforms of the TSN family, on uint8 frame stacks.

Every frame of a clip gets the same crop, resize and flip, so the motion between frames is
untouched by augmentation. Frames arrive as the io readers return them, ``(N, H, W, 3)`` uint8
RGB, and leave as a normalised float tensor ``(3, N, h, w)`` (the clip contract).

The geometry is the official TSN/PAN/MIE-Net code's (``ops/transforms.py``):

* :class:`GroupMultiScaleCrop` - crop side ``int(short_side * scale)`` for scales
  ``(1, .875, .75, .66)``, snapped to the input size when within 3 px, width and height scale
  indices at most ``max_distort`` apart, the offset one of 13 fixed positions
  (:func:`fixed_crop_offsets`), then a resize to the input size;
* test time: the short side scaled to ``scale_size`` then a centre crop (1 crop), the TSN
  "full-res" left/right/centre crops (3 crops) or the 4 corners + centre (5 crops, 10 with
  their mirror images).

Resizing is torch's bilinear interpolation with antialiasing on uint8, which reproduces PIL's
``BILINEAR`` resize (what the official pipeline calls) to within one grey level and runs on
all frames of a clip at once.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TSN_SCALES",
    "EVAL_CROPS",
    "fixed_crop_offsets",
    "crop_size_pairs",
    "GroupMultiScaleCrop",
    "eval_crop_boxes",
    "frames_to_tensor",
    "resize",
    "resize_short_side",
    "scaled_short_side",
    "crop",
    "hflip",
    "normalize",
    "TrainClipTransform",
    "EvalClipTransform",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TSN_SCALES = (1.0, 0.875, 0.75, 0.66)
EVAL_CROPS = (1, 3, 5, 10)


# ----------------------------------------------------------------------------- geometry
def fixed_crop_offsets(image_w: int, image_h: int, crop_w: int, crop_h: int,
                       more_fix_crop: bool = True) -> list[tuple[int, int]]:
    """The fixed ``(x, y)`` crop corners of TSN: 4 corners and the centre, and with
    ``more_fix_crop`` the 4 edge centres and the 4 quarter points (13 in all).

    The grid step is ``(image - crop) // 4`` per axis, so positions sit on a 5x5 lattice.
    """
    ws, hs = (image_w - crop_w) // 4, (image_h - crop_h) // 4
    out = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]
    if more_fix_crop:
        out += [(0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0),
                (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs)]
    return out


def crop_size_pairs(image_w: int, image_h: int, input_size: tuple[int, int],
                    scales: Sequence[float] = TSN_SCALES, max_distort: int = 1
                    ) -> list[tuple[int, int]]:
    """Candidate ``(crop_w, crop_h)`` pairs of GroupMultiScaleCrop, in the official order.

    ``input_size`` is ``(w, h)``. Sides are ``int(short_side * scale)``, replaced by the input
    side when within 3 px of it; a pair's width and height scale indices differ by at most
    ``max_distort``. Sides are clamped to the image (only matters when a frame is smaller than
    the input size + 3 px, where the official code would crop past the border).
    """
    base = min(image_w, image_h)
    sizes = [int(base * s) for s in scales]
    in_w, in_h = input_size
    hs = [min(in_h if abs(x - in_h) < 3 else x, image_h) for x in sizes]
    ws = [min(in_w if abs(x - in_w) < 3 else x, image_w) for x in sizes]
    return [(max(w, 1), max(h, 1)) for i, h in enumerate(hs) for j, w in enumerate(ws)
            if abs(i - j) <= max_distort]


class GroupMultiScaleCrop:
    """TSN's multi-scale crop: one random (size, position) per clip, resized to ``input_size``.

    ``input_size``: an int or ``(w, h)``. ``fix_crop=False`` draws the offset uniformly instead
    of from the fixed positions.
    """

    def __init__(self, input_size: int | Sequence[int], scales: Sequence[float] = TSN_SCALES,
                 max_distort: int = 1, fix_crop: bool = True, more_fix_crop: bool = True):
        self.input_size = _pair(input_size)
        self.scales = tuple(float(s) for s in scales)
        self.max_distort, self.fix_crop, self.more_fix_crop = max_distort, fix_crop, more_fix_crop

    def params(self, image_w: int, image_h: int, rng: random.Random | None = None
               ) -> tuple[int, int, int, int]:
        """``(x, y, crop_w, crop_h)`` for one clip."""
        rng = rng or random
        cw, ch = rng.choice(crop_size_pairs(image_w, image_h, self.input_size, self.scales,
                                            self.max_distort))
        if self.fix_crop:
            x, y = rng.choice(fixed_crop_offsets(image_w, image_h, cw, ch, self.more_fix_crop))
        else:
            x, y = rng.randint(0, image_w - cw), rng.randint(0, image_h - ch)
        return x, y, cw, ch

    def apply(self, frames: torch.Tensor, params: tuple[int, int, int, int]) -> torch.Tensor:
        """Crop ``params`` (from :meth:`params`) and resize: the same on every stream."""
        x, y, cw, ch = params
        return resize(crop(frames, x, y, cw, ch), (self.input_size[1], self.input_size[0]))

    def __call__(self, frames: torch.Tensor, rng: random.Random | None = None) -> torch.Tensor:
        h, w = frames.shape[-2:]
        return self.apply(frames, self.params(w, h, rng))

    def __repr__(self) -> str:
        return (f"GroupMultiScaleCrop(input_size={self.input_size}, scales={self.scales}, "
                f"max_distort={self.max_distort}, fix_crop={self.fix_crop}, "
                f"more_fix_crop={self.more_fix_crop})")


def scaled_short_side(h: int, w: int, short: int) -> tuple[int, int]:
    """``(h, w)`` after scaling the short side to ``short`` (torchvision ``Resize(int)``: the
    long side is truncated, ``int(short * long / short_side)``)."""
    if h <= w:
        return short, int(short * w / h)
    return int(short * h / w), short


def eval_crop_boxes(image_w: int, image_h: int, crop_size: tuple[int, int], num_crops: int
                    ) -> list[tuple[int, int, bool]]:
    """``(x, y, flip)`` of each test view on an already scaled frame, in the official order.

    1: the centre (torchvision ``CenterCrop`` rounding); 3: left, right, centre on the TSN
    5x5 lattice (``GroupFullResSample`` without flips); 5: the 4 corners and the centre
    (``GroupOverSample`` without flips); 10: those 5, each followed by its mirror image.
    """
    cw, ch = crop_size
    if num_crops == 1:
        return [(int(round((image_w - cw) / 2.0)), int(round((image_h - ch) / 2.0)), False)]
    ws, hs = (image_w - cw) // 4, (image_h - ch) // 4
    if num_crops == 3:
        return [(0, 2 * hs, False), (4 * ws, 2 * hs, False), (2 * ws, 2 * hs, False)]
    if num_crops in (5, 10):
        boxes = fixed_crop_offsets(image_w, image_h, cw, ch, more_fix_crop=False)
        if num_crops == 5:
            return [(x, y, False) for x, y in boxes]
        return [b for x, y in boxes for b in ((x, y, False), (x, y, True))]
    raise ValueError(f"test crops must be one of {EVAL_CROPS}, got {num_crops}")


# ----------------------------------------------------------------------------- tensor ops
def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    w, h = size
    return int(w), int(h)


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(N, 3, H, W)`` uint8 view in channels-last memory (no copy)."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)


def resize(frames: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize with antialiasing of ``(N, 3, H, W)`` uint8 frames (matches PIL)."""
    if tuple(frames.shape[-2:]) == tuple(size_hw):
        return frames
    x = frames.contiguous(memory_format=torch.channels_last)
    return F.interpolate(x, size=tuple(size_hw), mode="bilinear", align_corners=False,
                         antialias=True)


def resize_short_side(frames: torch.Tensor, short: int) -> torch.Tensor:
    h, w = frames.shape[-2:]
    return resize(frames, scaled_short_side(h, w, short))


def crop(frames: torch.Tensor, x: int, y: int, w: int, h: int) -> torch.Tensor:
    return frames[..., y:y + h, x:x + w]


def hflip(frames: torch.Tensor) -> torch.Tensor:
    return frames.flip(-1)


def normalize(frames: torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN,
              std: Sequence[float] = IMAGENET_STD) -> torch.Tensor:
    """``(N, 3, H, W)`` uint8 -> ``(3, N, H, W)`` float32, ``(x / 255 - mean) / std``.

    One pass converts and re-lays out, one fused scale-and-shift follows (4x faster than
    the four separate element-wise ops; the clip tensor is the pipeline's largest array).
    """
    m = torch.tensor(mean, dtype=torch.float32)
    s = torch.tensor(std, dtype=torch.float32)
    x = frames.permute(1, 0, 2, 3)
    out = torch.empty(x.shape, dtype=torch.float32)
    out.copy_(x)
    return out.mul_((1.0 / (255.0 * s)).view(3, 1, 1, 1)).add_((-m / s).view(3, 1, 1, 1))


# ----------------------------------------------------------------------------- pipelines
class TrainClipTransform:
    """Multi-scale crop -> (optional) horizontal flip with p = 0.5 -> normalise.

    ``flip=False`` for direction-sensitive datasets (Something-Something, Jester: "pushing
    left" mirrored is "pushing right").
    """

    def __init__(self, input_size: int | Sequence[int] = 224,
                 scales: Sequence[float] = TSN_SCALES, max_distort: int = 1,
                 fix_crop: bool = True, more_fix_crop: bool = True, flip: bool = True,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD):
        self.crop = GroupMultiScaleCrop(input_size, scales, max_distort, fix_crop, more_fix_crop)
        self.flip, self.mean, self.std = flip, tuple(mean), tuple(std)

    def draw(self, image_w: int, image_h: int, rng: random.Random | None = None) -> dict:
        """The clip's random parameters (crop box and flip), drawn once."""
        rng = rng or random
        box = self.crop.params(image_w, image_h, rng)
        return {"box": box, "flip": bool(self.flip and rng.random() < 0.5)}

    def apply(self, frames: np.ndarray, params: dict, normalise: bool = True) -> torch.Tensor:
        """``(N, H, W, C)`` frames -> ``(C, N, h, w)`` float32 with drawn ``params``: uint8 RGB
        normalised, or (``normalise=False``) any channel count and dtype as float values
        (e.g. 16-bit depth in millimetres, interpolated the same way)."""
        x = frames_to_tensor(frames)
        if not normalise and x.dtype != torch.uint8:
            x = x.float()
        x = self.crop.apply(x, params["box"])
        if params["flip"]:
            x = hflip(x)
        if normalise:
            return normalize(x, self.mean, self.std)
        return x.permute(1, 0, 2, 3).float().contiguous()

    def __call__(self, frames: np.ndarray, rng: random.Random | None = None) -> torch.Tensor:
        """``(N, H, W, 3)`` uint8 -> ``(3, N, h, w)`` float32."""
        return self.apply(frames, self.draw(frames.shape[2], frames.shape[1], rng))

    def paired(self, *streams: np.ndarray, rng: random.Random | None = None,
               normalise: Sequence[bool] | None = None) -> list[torch.Tensor]:
        """Streams of one sample that must move together (RGB and depth of a clip, the two
        frames of a pair): one draw, the same crop and flip on each. Streams must share
        ``H x W``; ``normalise[i]`` False leaves stream i unnormalised (depth, masks)."""
        shapes = {tuple(s.shape[1:3]) for s in streams}
        if len(shapes) != 1:
            raise ValueError(f"paired streams must share H x W, got {sorted(shapes)}")
        h, w = shapes.pop()
        params = self.draw(w, h, rng)
        norm = [True] * len(streams) if normalise is None else list(normalise)
        return [self.apply(s, params, n) for s, n in zip(streams, norm)]


class EvalClipTransform:
    """Scale the short side to ``scale_size`` -> ``num_crops`` crops -> normalise.

    Returns the views ``(V, 3, N, h, w)``. ``full_res`` takes crops of ``scale_size`` instead
    of ``input_size`` (TSM's "full resolution" testing).
    """

    def __init__(self, input_size: int | Sequence[int] = 224, scale_size: int | None = None,
                 num_crops: int = 1, full_res: bool = False,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD):
        if num_crops not in EVAL_CROPS:
            raise ValueError(f"test crops must be one of {EVAL_CROPS}, got {num_crops}")
        self.input_size = _pair(input_size)
        self.scale_size = int(scale_size or min(self.input_size) * 256 // 224)
        self.crop_size = (self.scale_size,) * 2 if full_res else self.input_size
        self.num_crops, self.mean, self.std = num_crops, tuple(mean), tuple(std)

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        x = resize_short_side(frames_to_tensor(frames), self.scale_size)
        h, w = x.shape[-2:]
        cw, ch = min(self.crop_size[0], w), min(self.crop_size[1], h)
        views = []
        for bx, by, flip in eval_crop_boxes(w, h, (cw, ch), self.num_crops):
            v = crop(x, bx, by, cw, ch)
            if (cw, ch) != self.crop_size:  # a frame narrower than the crop: stretch to fit
                v = resize(v, (self.crop_size[1], self.crop_size[0]))
            views.append(normalize(hflip(v) if flip else v, self.mean, self.std))
        return torch.stack(views)
