"""Frame pairs for B-KinD's self-supervised keypoint discovery: ``(frame t, frame t + gap)``.

Where the videos come from (three datasets in :data:`motionscope.data.datasets.DATASETS`):

* ``frame_pairs``: the custom-dataset layout of the official code, ``root/{train,val}/<video>``,
  each ``<video>`` a folder of images (sorted by name, numbers in natural order) or a video
  file (``.mp4``, ``.avi``, ...). ``data.args.prefixes`` keeps only entries whose name starts
  with one of them (CalMS21's "no-cable" list);
* ``world_pairs``: the embedded world's behaviour videos (``manifest.json`` ``behavior``
  entries, split ``train`` or ``val``; ``test`` reads ``val``), generated once into the cache
  when ``data.root`` is None;
* ``video_pairs``: any videos or frame folders a user points at, ``data.args.paths`` (and
  ``val_paths`` for the other splits, default the same files, as B-KinD validates CalMS21).

Pairs: ``(i, i + frame_gap)`` for ``i in range(0, n - frame_gap, stride)`` (``stride`` default
``frame_gap // 10 + 1`` as the custom loader; CalMS21 uses gap 6, stride 7); ``gap_seconds``
gives the gap in seconds instead: the partner is the first frame at least that much later by
the video's own timestamps, so variable-frame-rate videos get the right partner
(:mod:`motionscope.io.timestamps`; frame folders need ``fps``). ``random_pairs`` (training)
draws ``i`` uniformly from the valid starts of that pair's video on every read instead.

Input transform (spec 2.1): an optional fixed ``crop`` ``[x, y, w, h]`` in frame pixels, then a
squash resize to ``image_size`` x ``image_size`` (bilinear with antialiasing, PIL's
``BILINEAR``), ``/255`` and ImageNet normalisation (:func:`to_model_input`). ``grayscale``
turns colour frames into luma (ITU-R 601, PIL's ``L``) replicated to 3 channels, so a model
trained on grey videos sees grey input everywhere; grey videos and images are always read as
3 equal channels. ``augment`` adds a multi-scale crop (and ``flip``) drawn once per pair
(``TrainClipTransform.paired``), off by default as in the official code.

Box and multi-agent mode (beyond the official code): ``boxes`` names a box/track file per video
(a box CSV, or a SLEAP/DeepLabCut/COCO track file whose keypoints give the boxes,
:mod:`motionscope.io.boxes`); each agent of each frame becomes its own pair source, both frames
cropped with frame i's box (as B-KinD's H36M loader), the crop squash-resized to the input.

Bad input: a video shorter than the gap has no pair and is skipped with a warning naming it
(all too short: one :class:`DataError` naming the root, the gap and the longest video); frames
of different sizes in one folder are each resized on their own; a box wholly outside its frame
is dropped (counted in the warning), one partly outside is padded with black; a crop outside
the frame is a :class:`ConfigError` naming the video.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..argcheck import check_kwargs
from ..errors import ConfigError, DataError
from ..io.paths import resolve_under
from .transforms import IMAGENET_MEAN, IMAGENET_STD, TSN_SCALES, TrainClipTransform, normalize, resize

__all__ = ["to_model_input", "crop_regions", "region_to_frame", "covariance_to_frame",
           "FrameSource", "list_sources",
           "FramePairDataset", "build_frame_pairs", "build_world_pairs", "build_video_pairs",
           "input_settings", "iter_batches", "VIDEO_EXTS", "IMAGE_EXTS", "DEFAULT_BEHAVIOR_WORLD"]

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_LUMA = (0.299, 0.587, 0.114)


# ----------------------------------------------------------------------------- transform
def _as_list(frames) -> list[np.ndarray]:
    """A batch array ``(B, H, W[, C])`` or a list of ``(H, W[, C])`` images -> RGB images."""
    if isinstance(frames, np.ndarray):
        if frames.ndim not in (3, 4):
            raise ValueError(f"a frame batch must be (B, H, W[, C]), got {frames.shape}; wrap "
                             "a single image in a list")
        frames = list(frames)
    out = []
    for f in frames:
        f = np.asarray(f)
        if f.dtype != np.uint8:
            raise ValueError(f"frames must be uint8, got {f.dtype}")
        if f.ndim == 2:
            f = f[..., None]
        if f.shape[-1] == 1:
            f = np.repeat(f, 3, -1)
        elif f.shape[-1] == 4:
            f = f[..., :3]
        out.append(f)
    return out


def _gray(x: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` uint8 RGB -> luma replicated to 3 channels (uint8, PIL ``L`` rounding)."""
    w = torch.tensor(_LUMA, dtype=torch.float32).view(1, 3, 1, 1)
    y = (x.float() * w).sum(1, keepdim=True).round().clamp_(0, 255).to(torch.uint8)
    return y.expand(-1, 3, -1, -1)


def to_model_input(frames, size: int | Sequence[int] = 256, *, grayscale: bool = False,
                   mean: Sequence[float] = IMAGENET_MEAN,
                   std: Sequence[float] = IMAGENET_STD) -> torch.Tensor:
    """Frames as B-KinD's model takes them: ``(B, 3, S, S)`` float32, squash-resized and
    ImageNet-normalised (spec 2.1). ``frames``: a ``(B, H, W[, C])``
    uint8 batch, or a list of ``(H, W[, C])`` images of any sizes (each resized on its own)."""
    hw = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    imgs = _as_list(frames)
    if not imgs:
        return torch.zeros((0, 3, *hw))
    shapes = {f.shape for f in imgs}
    if len(shapes) == 1:
        x = torch.from_numpy(np.ascontiguousarray(np.stack(imgs))).permute(0, 3, 1, 2)
        x = resize(x, hw)
    else:
        x = torch.cat([resize(torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1)[None],
                              hw) for f in imgs])
    if grayscale:
        x = _gray(x)
    return normalize(x, mean, std).permute(1, 0, 2, 3).contiguous()


def crop_regions(boxes: np.ndarray) -> np.ndarray:
    """Integer crop regions ``(N, 4)`` ``(X0, Y0, X1, Y1)`` in pixel-edge coordinates (pixel i
    covers ``[i, i + 1)``) of boxes ``(x0, y0, x1, y1)`` given with pixel centres at integers."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    r = np.stack([np.floor(b[:, 0]), np.floor(b[:, 1]), np.ceil(b[:, 2]) + 1,
                  np.ceil(b[:, 3]) + 1], -1)
    r[:, 2] = np.maximum(r[:, 2], r[:, 0] + 1)
    r[:, 3] = np.maximum(r[:, 3], r[:, 1] + 1)
    return r.astype(np.int64)


def _cut(frame: np.ndarray, region: Sequence[int]) -> np.ndarray:
    """``frame[Y0:Y1, X0:X1]`` with black where the region leaves the frame."""
    X0, Y0, X1, Y1 = (int(v) for v in region)
    H, W = frame.shape[:2]
    out = np.zeros((Y1 - Y0, X1 - X0, frame.shape[2]), frame.dtype)
    xa, ya, xb, yb = max(X0, 0), max(Y0, 0), min(X1, W), min(Y1, H)
    if xb > xa and yb > ya:
        out[ya - Y0:yb - Y0, xa - X0:xb - X0] = frame[ya:yb, xa:xb]
    return out


def region_to_frame(points: np.ndarray, regions: np.ndarray, size: int) -> np.ndarray:
    """Model-input pixel coordinates (pixel i centred at i, as ``BKinD.detect`` returns them)
    of points ``(..., K, 2)`` in the squash-resized crops of ``regions`` ``(..., 4)`` -> frame
    pixel coordinates, also centred at integers (the SLEAP / DeepLabCut convention)."""
    p = np.asarray(points, np.float64)
    r = np.asarray(regions, np.float64)[..., None, :]
    sx = (r[..., 2] - r[..., 0]) / size
    sy = (r[..., 3] - r[..., 1]) / size
    return np.stack([r[..., 0] + (p[..., 0] + 0.5) * sx - 0.5,
                     r[..., 1] + (p[..., 1] + 0.5) * sy - 0.5], -1)


def covariance_to_frame(cov: np.ndarray, regions: np.ndarray, size: int) -> np.ndarray:
    """Covariances ``(..., K, 3)`` (xx, xy, yy) in input pixels^2 -> frame pixels^2."""
    c = np.asarray(cov, np.float64)
    r = np.asarray(regions, np.float64)[..., None, :]
    sx = (r[..., 2] - r[..., 0]) / size
    sy = (r[..., 3] - r[..., 1]) / size
    return np.stack([c[..., 0] * sx * sx, c[..., 1] * sx * sy, c[..., 2] * sy * sy], -1)


# ----------------------------------------------------------------------------- sources
def _natural(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


_READERS: dict[str, object] = {}  # open video readers of this process (workers open their own)


class FrameSource:
    """One video file or frame folder: its frame count, times and frames by index."""

    def __init__(self, path: str | os.PathLike, fps: float | None = None):
        self.path = Path(path)
        if self.path.is_dir():
            self.kind = "folder"
            self.files = sorted((p.name for p in self.path.iterdir()
                                 if p.suffix.lower() in IMAGE_EXTS), key=_natural)
            if not self.files:
                raise DataError(self.path, f"frame folder holds no images ({', '.join(IMAGE_EXTS)})")
            self.num_frames = len(self.files)
            self.fps = None if fps is None else float(fps)
        elif self.path.is_file():
            self.kind = "video"
            from ..io.video import VideoReader

            with VideoReader(self.path) as r:
                self.num_frames = len(r)
                self.fps = float(fps) if fps is not None else (r.info.fps or None)
                self.size = (r.info.height, r.info.width)
        else:
            raise DataError(self.path, "video file or frame folder not found")
        self._times: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"FrameSource({str(self.path)!r}, {self.kind}, {self.num_frames} frames)"

    def times(self) -> np.ndarray:
        """Seconds of every frame: the video's timestamps, a folder's frames at ``fps``."""
        if self._times is None:
            if self.kind == "video":
                from ..io.timestamps import frame_times

                t = frame_times(self.path)
                self._times = t[:self.num_frames] if len(t) >= self.num_frames else \
                    np.arange(self.num_frames) / max(self.fps or 1.0, 1e-9)
            else:
                if not self.fps:
                    raise ConfigError(f"{self.path}: a frame gap in seconds on a frame folder "
                                      "needs its frame rate: set data.args.fps")
                self._times = np.arange(self.num_frames, dtype=np.float64) / self.fps
        return self._times

    def read(self, indices: Sequence[int]) -> list[np.ndarray]:
        """Frames at ``indices`` as ``(H, W, 3)`` uint8 RGB (grey replicated)."""
        if self.kind == "folder":
            return [_imread(self.path / self.files[int(i)]) for i in indices]
        key = str(self.path)
        r = _READERS.get(key)
        if r is None:
            from ..io.video import VideoReader

            if len(_READERS) >= 8:  # a few open containers per process
                _READERS.pop(next(iter(_READERS))).close()
            r = _READERS[key] = VideoReader(self.path)
        return list(r.read(np.asarray(indices, np.int64)))

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Every frame in order (sequential decoding, for extraction)."""
        if self.kind == "folder":
            for f in self.files:
                yield _imread(self.path / f)
            return
        from ..io.video import iter_frames

        for k, f in enumerate(iter_frames(self.path)):
            if k >= self.num_frames:
                return
            yield f


def _imread(path: Path) -> np.ndarray:
    buf = np.fromfile(path, np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if img is None:
        raise DataError(path, "not a readable image (corrupt or truncated)")
    if img.dtype != np.uint8:
        img = (img >> 8).astype(np.uint8) if img.dtype == np.uint16 else \
            np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2 or img.shape[2] == 1:
        return np.repeat(img.reshape(img.shape[0], img.shape[1], 1), 3, 2)
    return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)


def list_sources(folder: str | os.PathLike, prefixes: Sequence[str] | None = None) -> list[Path]:
    """The videos of a folder: video files and sub-folders holding images, in natural order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "folder of videos not found")
    out = []
    for p in sorted(folder.iterdir(), key=lambda q: _natural(q.name)):
        if prefixes and not any(p.name.startswith(str(x)) for x in prefixes):
            continue
        if p.is_file() and p.suffix.lower() in VIDEO_EXTS:
            out.append(p)
        elif p.is_dir() and any(q.suffix.lower() in IMAGE_EXTS for q in p.iterdir()):
            out.append(p)
    return out


# ----------------------------------------------------------------------------- dataset
class FramePairDataset(Dataset):
    """``{"image0", "image1": (3, S, S) float32, "index"}`` pairs of frames ``gap`` apart.

    Args:
        sources: video files / frame folders. training: random pairs and augmentation apply.
        image_size: S. frame_gap: the gap in frames; gap_seconds: in seconds instead.
        stride: step between pair starts (default ``frame_gap // 10 + 1``; with
            ``gap_seconds`` the gap in frames at the nominal rate, // 10 + 1).
        random_pairs: training draws the start at random in the pair's video on every read.
        crop: ``[x, y, w, h]`` fixed region of every frame, before resizing.
        grayscale: luma input. augment / scales / flip: one random crop (and flip) per pair.
        fps: frame rate of frame folders (for ``gap_seconds``).
        boxes: a box/track file per source (None entries: whole frames), see the module doc.
        box_padding, box_square, box_smooth, box_min_size: boxes from keypoints.
        mean, std: normalisation. source: what the list came from (named in errors).
    """

    def __init__(self, sources: Sequence[str | os.PathLike], *, training: bool = False,
                 image_size: int = 256, frame_gap: int = 20, gap_seconds: float | None = None,
                 stride: int | None = None, random_pairs: bool = False,
                 crop: Sequence[int] | None = None, grayscale: bool = False,
                 augment: bool = False, scales: Sequence[float] = TSN_SCALES, flip: bool = False,
                 fps: float | None = None, boxes: Sequence[str | None] | None = None,
                 box_padding: float = 0.25, box_square: bool = True, box_smooth: int = 1,
                 box_min_size: float = 16.0, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD, source: str | os.PathLike | None = None):
        self.source = None if source is None else str(source)
        if int(image_size) < 8:
            raise ConfigError(f"image_size must be >= 8, got {image_size}")
        if gap_seconds is None and int(frame_gap) < 1:
            raise ConfigError(f"frame_gap must be >= 1 frame, got {frame_gap}")
        if gap_seconds is not None and float(gap_seconds) <= 0:
            raise ConfigError(f"gap_seconds must be > 0, got {gap_seconds}")
        if stride is not None and int(stride) < 1:
            raise ConfigError(f"stride must be >= 1, got {stride}")
        if crop is not None and (len(crop) != 4 or int(crop[2]) < 1 or int(crop[3]) < 1):
            raise ConfigError(f"crop must be [x, y, w, h] with w, h >= 1, got {list(crop)}")
        self.training, self.image_size = bool(training), int(image_size)
        self.frame_gap = int(frame_gap)
        self.gap_seconds = None if gap_seconds is None else float(gap_seconds)
        self.random_pairs = bool(random_pairs) and self.training
        self.crop = None if crop is None else [int(v) for v in crop]
        self.grayscale = bool(grayscale)
        self.mean, self.std = tuple(mean), tuple(std)
        self.augment = TrainClipTransform(self.image_size, scales, 1, True, True, flip, mean,
                                          std) if augment and self.training else None
        if boxes is not None and len(boxes) != len(sources):
            raise ConfigError(f"boxes lists {len(boxes)} files for {len(sources)} videos")
        self.box_args = {"padding": float(box_padding), "square": bool(box_square),
                         "smooth": int(box_smooth), "min_size": float(box_min_size)}
        self.videos: list[FrameSource] = []
        self.units: list[dict] = []  # one per (video, agent): its valid starts and partners
        self.pairs: list[tuple[int, int]] = []  # (unit, start)
        self.warnings: list[str] = []
        short = []
        for v, path in enumerate(sources):
            src = FrameSource(path, fps)
            self.videos.append(src)
            partner = self._partners(src)
            if self.crop is not None and src.kind == "video":
                _check_crop(self.crop, src.size, src.path)
            box_file = None if boxes is None else boxes[v]
            tracks = self._tracks(src, box_file)
            if not (partner >= 0).any():
                short.append(src)
                continue
            step = int(stride) if stride is not None else self._default_stride(src)
            for name, bx in tracks:
                ok = partner >= 0
                if bx is not None:
                    ok &= np.isfinite(bx).all(-1)
                starts = np.flatnonzero(ok)
                if not len(starts):
                    continue
                u = len(self.units)
                self.units.append({"video": v, "agent": name, "boxes": bx, "partner": partner,
                                   "starts": starts})
                grid = [int(i) for i in np.arange(0, src.num_frames, step) if ok[i]]
                # a stride that hits no valid start (boxes missing there) still gives one pair
                self.pairs += [(u, i) for i in grid] or [(u, int(starts[0]))]
        gap = (f"{self.gap_seconds:g} s" if self.gap_seconds is not None
               else f"{self.frame_gap} frames")
        if short:
            msg = (f"{len(short)} video(s) shorter than the frame gap ({gap}) give no pair and "
                   f"are skipped: " + ", ".join(f"{s.path} ({s.num_frames} frames)"
                                                 for s in short[:5]))
            self.warnings.append(msg)
            if self.units:
                warnings.warn(msg, stacklevel=2)
        if not self.pairs:
            longest = max(self.videos, key=lambda s: s.num_frames, default=None)
            what = f"; the longest, {longest.path}, has {longest.num_frames} frames" \
                if longest is not None else ""
            raise DataError(self.source or (longest.path if longest else None),
                            f"no frame pair: every video is shorter than the frame gap ({gap})"
                            f"{what}, or has no box at any start frame")

    # -- indexing
    def _default_stride(self, src: FrameSource) -> int:
        gap = self.frame_gap
        if self.gap_seconds is not None:
            gap = int(round(self.gap_seconds * (src.fps or 1.0)))
        return max(gap // 10 + 1, 1)

    def _partners(self, src: FrameSource) -> np.ndarray:
        """Index of frame i's partner (-1: none)."""
        n = src.num_frames
        if self.gap_seconds is None:
            j = np.arange(n) + self.frame_gap
            return np.where(j < n, j, -1)
        from ..io.timestamps import is_variable_rate, partner_after

        t = src.times()
        if is_variable_rate(t):
            self.warnings.append(f"{src.path}: variable frame rate; the {self.gap_seconds:g} s "
                                 "gap follows its timestamps")
        return partner_after(t, self.gap_seconds)

    def _tracks(self, src: FrameSource, box_file) -> list[tuple[str | None, np.ndarray | None]]:
        if box_file is None:
            return [(None, None)]
        from ..io.boxes import check_frames, drop_outside, read_boxes

        track = check_frames(read_boxes(box_file, **self.box_args), src.num_frames, src.path)
        h, w = src.size if src.kind == "video" else _imread(src.path / src.files[0]).shape[:2]
        track, dropped = drop_outside(track, w, h)
        if dropped:
            self.warnings.append(f"{box_file}: {dropped} box(es) wholly outside the {w}x{h} "
                                 "frames were dropped")
        return [(n, track.boxes[m]) for m, n in enumerate(track.track_names)]

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def names(self) -> list[str]:
        return [f"{self.videos[self.units[u]['video']].path.name}:{i}" for u, i in self.pairs]

    def pair(self, index: int, rng: random.Random | None = None) -> tuple[int, int, int]:
        """``(unit, i, j)`` of pair ``index`` (the start redrawn with ``random_pairs``)."""
        u, i = self.pairs[index]
        unit = self.units[u]
        if self.random_pairs:
            starts = unit["starts"]
            i = int(starts[(rng or random).randrange(len(starts))])
        return u, i, int(unit["partner"][i])

    def __getitem__(self, index: int) -> dict:
        u, i, j = self.pair(index)
        unit = self.units[u]
        src = self.videos[unit["video"]]
        try:
            f0, f1 = src.read([i, j])
        except DataError as e:
            raise DataError(e.path, f"pair {index} (frames {i}, {j}): {e.problem}") from None
        region = None
        if unit["boxes"] is not None:
            region = crop_regions(unit["boxes"][i])[0]
        elif self.crop is not None:
            _check_crop(self.crop, f0.shape[:2], src.path)
            x, y, w, h = self.crop
            region = np.array([x, y, x + w, y + h])
        if region is not None:  # both frames use frame i's box
            f0, f1 = _cut(f0, region), _cut(f1, region)
        if self.augment is not None:
            if f1.shape != f0.shape:
                f1 = resize(torch.from_numpy(f1).permute(2, 0, 1)[None],
                            f0.shape[:2])[0].permute(1, 2, 0).numpy()
            a, b = (_gray_np(f) if self.grayscale else f for f in (f0, f1))
            x0, x1 = self.augment.paired(a[None], b[None])
            return {"image0": x0[:, 0].contiguous(), "image1": x1[:, 0].contiguous(),
                    "index": index}
        x = to_model_input([f0, f1], self.image_size, grayscale=self.grayscale, mean=self.mean,
                           std=self.std)
        return {"image0": x[0], "image1": x[1], "index": index}

    def __repr__(self) -> str:
        gap = f"{self.gap_seconds:g} s" if self.gap_seconds is not None else f"{self.frame_gap}"
        return (f"FramePairDataset({len(self)} pairs from {len(self.videos)} videos, "
                f"{len(self.units)} tracks, gap {gap}, size {self.image_size}, "
                f"training={self.training})")


def _gray_np(f: np.ndarray) -> np.ndarray:
    return _gray(torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1)[None])[0] \
        .permute(1, 2, 0).contiguous().numpy()


def _check_crop(crop: Sequence[int], size_hw: tuple[int, int], path) -> None:
    x, y, w, h = crop
    H, W = size_hw
    if x < 0 or y < 0 or x + w > W or y + h > H:
        raise ConfigError(f"{path}: data.args.crop={list(crop)} (x, y, w, h) leaves the "
                          f"{W}x{H} frame")


# ----------------------------------------------------------------------------- extraction input
_INPUT_KEYS = ("image_size", "crop", "grayscale", "mean", "std")


def input_settings(data_args: dict) -> dict:
    """What extraction must do to a frame to read it as the run's training data read it."""
    a = dict(data_args or {})
    return {"image_size": int(a.get("image_size", 256)), "crop": a.get("crop"),
            "grayscale": bool(a.get("grayscale", False)),
            "mean": tuple(a.get("mean", IMAGENET_MEAN)), "std": tuple(a.get("std", IMAGENET_STD))}


def iter_batches(source: FrameSource, settings: dict, batch_size: int = 32,
                 boxes: np.ndarray | None = None
                 ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, torch.Tensor]]:
    """Model inputs of every frame (and agent) of ``source`` in batches, decoded once in order:
    yields ``(frame indices (B,), agent indices (B,), crop regions (B, 4), inputs (B, 3, S, S))``.

    ``boxes`` ``(M, T, 4)``: one input per agent with a box in the frame (the crop of that
    box); None: the whole frame (or the run's fixed ``crop``)."""
    S = settings["image_size"]
    crop = settings.get("crop")
    imgs, fidx, aidx, regs = [], [], [], []

    def flush():
        x = to_model_input(imgs, S, grayscale=settings["grayscale"], mean=settings["mean"],
                           std=settings["std"])
        out = (np.asarray(fidx), np.asarray(aidx), np.asarray(regs, np.int64).reshape(-1, 4), x)
        imgs.clear(), fidx.clear(), aidx.clear(), regs.clear()
        return out

    for t, frame in enumerate(source.iter_frames()):
        if boxes is None:
            if crop is not None:
                x, y, w, h = (int(v) for v in crop)
                _check_crop(crop, frame.shape[:2], source.path)
                r = np.array([x, y, x + w, y + h])
                imgs.append(frame[y:y + h, x:x + w])
            else:
                r = np.array([0, 0, frame.shape[1], frame.shape[0]])
                imgs.append(frame)
            fidx.append(t), aidx.append(0), regs.append(r)
        else:
            for m in range(boxes.shape[0]):
                if t < boxes.shape[1] and np.isfinite(boxes[m, t]).all():
                    r = crop_regions(boxes[m, t])[0]
                    imgs.append(_cut(frame, r))
                    fidx.append(t), aidx.append(m), regs.append(r)
        if len(imgs) >= batch_size:
            yield flush()
    if imgs:
        yield flush()


# ----------------------------------------------------------------------------- builders
def _pair_args(*, image_size: int = 256, frame_gap: int = 20, gap_seconds: float | None = None,
               stride: int | None = None, random_pairs: bool = False, crop=None,
               grayscale: bool = False, augment: bool = False, scales=TSN_SCALES,
               flip: bool = False, fps: float | None = None, boxes=None,
               box_padding: float = 0.25, box_square: bool = True, box_smooth: int = 1,
               box_min_size: float = 16.0, mean=IMAGENET_MEAN, std=IMAGENET_STD,
               prefixes=None, paths=None, val_paths=None, val_boxes=None,
               world=None) -> None:  # pragma: no cover - a signature for check_kwargs
    """Every ``data.args`` key of the pair datasets (each builder uses its own subset)."""


def _args(data_cfg, allowed: Sequence[str]) -> dict:
    from .video import _plain_args

    args = _plain_args(data_cfg)
    check_kwargs(_pair_args, args, f"data.args for {data_cfg.name!r}")
    extra = [k for k in ("prefixes", "paths", "val_paths", "val_boxes", "world")
             if k in args and k not in allowed]
    if extra:
        raise ConfigError(f"data.args for {data_cfg.name!r}: {extra} belong to another pair "
                          "dataset (frame_pairs: prefixes; video_pairs: paths, val_paths, "
                          "val_boxes; world_pairs: world)")
    return args


def _box_files(template, sources: list[Path]) -> list[str | None] | None:
    """``data.args.boxes`` for a folder of videos: a file name template beside each video
    (``{name}`` the video's file/folder name, ``{stem}`` without its extension)."""
    if template is None:
        return None
    out = []
    for s in sources:
        p = s.parent / str(template).format(name=s.name, stem=s.stem)
        if not p.is_file():
            raise DataError(p, f"box/track file of {s} not found (data.args.boxes={template!r})")
        out.append(str(p))
    return out


def build_frame_pairs(data_cfg, split: str, *, training: bool) -> FramePairDataset:
    """``data.name=frame_pairs``: ``data.root/<split>/<video>`` (the official custom layout)."""
    if data_cfg.root is None:
        raise ConfigError("dataset 'frame_pairs' needs data.root (the folder holding train/ "
                          "and val/ folders of videos)")
    args = _args(data_cfg, ("prefixes",))
    folder = Path(data_cfg.root) / split
    sources = list_sources(folder, args.pop("prefixes", None))
    if not sources:
        raise DataError(folder, f"split {split!r} holds no videos or frame folders")
    args["boxes"] = _box_files(args.get("boxes"), sources)
    return FramePairDataset(sources, training=training, source=folder, **args)


# the world a ``world_pairs`` run without ``data.root`` generates (and caches)
DEFAULT_BEHAVIOR_WORLD = {"classes": "bmp10", "clips_per_class": 1, "frames": 32,
                          "size": [128, 128], "seed": 0, "behavior_videos": [4, 2],
                          "behavior_segments": 6}


def behavior_world(world: dict | None = None, cache: str | os.PathLike | None = None) -> Path:
    """The root of a cached embedded world with behaviour videos (generated once)."""
    from ..synth.cache import cached_world

    spec = {**DEFAULT_BEHAVIOR_WORLD, **(world or {})}
    spec.pop("formats", None)
    workers = int(spec.pop("workers", 1))
    return cached_world(("behavior",), cache=cache, workers=workers, prefix="behavior",
                        progress=sys.stderr.isatty(), **spec)


def world_behavior_entries(root: str | os.PathLike, split: str) -> list[dict]:
    """The manifest's behaviour entries of ``split`` (``test`` reads ``val``), paths checked."""
    root = Path(root)
    manifest = root / "manifest.json"
    if not manifest.is_file():
        raise DataError(root, "not a finished embedded world (no manifest.json); make one with "
                              "`motionscope synth --formats behavior` or leave data.root unset")
    entries = json.loads(manifest.read_text(encoding="utf-8")).get("behavior") or []
    if not entries:
        raise DataError(manifest, "this world has no behaviour videos (generate it with "
                                  "--formats behavior)")
    want = "val" if split == "test" else split
    out = []
    for k, e in enumerate(entries):
        if e.get("split") != want:
            continue
        e = dict(e)
        e["frames_dir"] = str(resolve_under(root, e["frames_dir"], source=manifest,
                                            line=f"behavior[{k}].frames_dir"))
        e["keypoints"] = str(resolve_under(root, e["keypoints"], source=manifest,
                                           line=f"behavior[{k}].keypoints"))
        out.append(e)
    if not out:
        raise DataError(manifest, f"no behaviour video in split {want!r}")
    return out


def build_world_pairs(data_cfg, split: str, *, training: bool) -> FramePairDataset:
    """``data.name=world_pairs``: the embedded world's behaviour videos (see the module doc)."""
    args = _args(data_cfg, ("world",))
    world = args.pop("world", None)
    root = Path(data_cfg.root) if data_cfg.root is not None else behavior_world(
        dict(world) if world is not None else None)
    entries = world_behavior_entries(root, split)
    args.setdefault("fps", json.loads((root / "manifest.json").read_text("utf-8")).get("fps"))
    return FramePairDataset([e["frames_dir"] for e in entries], training=training,
                            source=root / "manifest.json", **args)


def build_video_pairs(data_cfg, split: str, *, training: bool) -> FramePairDataset:
    """``data.name=video_pairs``: ``data.args.paths`` (videos or frame folders; relative to
    ``data.root`` when set) for training, ``val_paths`` (default the same) otherwise."""
    args = _args(data_cfg, ("paths", "val_paths", "val_boxes"))
    paths, vpaths = args.pop("paths", None), args.pop("val_paths", None)
    boxes, vboxes = args.pop("boxes", None), args.pop("val_boxes", None)
    if not paths:
        raise ConfigError("dataset 'video_pairs' needs data.args.paths: a list of videos or "
                          "frame folders")
    if not training and vpaths:
        paths, boxes = vpaths, vboxes
    paths = [paths] if isinstance(paths, str) else list(paths)
    base = Path(data_cfg.root) if data_cfg.root is not None else None

    def full(p):
        p = Path(p)
        return p if base is None or p.is_absolute() else base / p

    if boxes is not None:
        boxes = [boxes] if isinstance(boxes, str) else list(boxes)
        boxes = [None if b is None else str(full(b)) for b in boxes]
    return FramePairDataset([full(p) for p in paths], training=training, boxes=boxes,
                            source=None, **args)
