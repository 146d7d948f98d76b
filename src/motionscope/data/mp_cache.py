"""Motion Perceiver clips (``data.name=mp_clips``): the official reading, per-batch crop/flip,
and an optional on-disk cache of the frozen backbone's output.

The official MP pipeline reads clips that are already ``T = 32`` frames resized to 224 x 398
and augments **per batch**: one horizontal offset and one flip coin for the whole batch
(``train_net.augmentation``); evaluation takes the centre 224 x 224. Here:

* frames are picked with the BMP test-time rule ``floor(linspace(0, n, frames,
  endpoint=False))`` (uniform subsampling; 3F/4F clips replicated) for every split, so a
  training clip is read exactly as ``motionscope bmp-eval`` reads a stimulus;
* frames are resized with ``cv2.INTER_AREA`` to ``resize`` (H, W) or, when unset, so that the
  short side is ``size`` (what ``bmp-eval`` does, so train and test pixels share one scale);
* training batches get one crop offset and one flip for the whole batch (the dataset
  implements ``__getitems__``, which the DataLoader calls with the batch's indices); other
  splits get the centre crop;
* ``(x / 255 - mean) / std``.

The frozen part of MP (backbone tokens, or the soft-matched positions computed from them)
does not depend on any trained weight, so it can be computed once per (sample, crop, flip)
and stored (``cache``). A cached entry is only reused for exactly the same pixels: the key
holds the backbone, the clip reading options, the sample and the crop offset and flip. With
the official random per-batch offset (175 positions on 224 x 398 frames) the cache would
almost never hit; it pays off with ``crop: center`` or with square frames of side ``size``,
where only the two flips exist.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from torch.utils.data import Dataset

from ..errors import ConfigError, DataError
from ..fsutil import atomic_path
from .transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["MPClipDataset", "FeatureCache", "build_mp_clips", "mp_frame_indices", "resize_frames"]

SOURCES = ("videos", "world_clips", "rawframes")
CROPS = ("batch", "center")
LEVELS = ("tokens", "matches")
_OWN_ARGS = ("source", "frames", "size", "resize", "crop", "flip", "mean", "std", "cache",
             "cache_level")


def mp_frame_indices(num_frames: int, frames: int) -> np.ndarray:
    """``floor(linspace(0, n, frames, endpoint=False))``: the official replication rule."""
    if num_frames < 1:
        raise ValueError("a clip needs at least one frame")
    return np.floor(np.linspace(0, num_frames, frames, endpoint=False)).astype(np.int64)


def resize_frames(frames: np.ndarray, size: int, resize: tuple[int, int] | None = None
                  ) -> np.ndarray:
    """``(T, h, w, 3)`` uint8 -> resized to ``resize`` (H, W), or short side to ``size`` with
    the aspect ratio kept (the rounding of ``bmp-eval``'s stimulus reader)."""
    import cv2

    h, w = frames.shape[1:3]
    if resize is not None:
        nh, nw = int(resize[0]), int(resize[1])
    else:
        k = max(size / h, size / w)
        nh, nw = max(size, round(h * k)), max(size, round(w * k))
    if (nh, nw) == (h, w):
        return frames
    return np.stack([cv2.resize(f, (nw, nh), interpolation=cv2.INTER_AREA) for f in frames])


class FeatureCache:
    """Frozen MP features on disk, one ``.pt`` file per (sample, crop, flip), written
    atomically (concurrent workers may compute the same entry; the last rename wins, with
    identical content)."""

    def __init__(self, root: str | os.PathLike, model: torch.nn.Module, level: str = "tokens",
                 key: dict | None = None):
        if level not in LEVELS:
            raise ConfigError(f"data.args.cache_level={level!r}: choose one of {LEVELS}")
        if not hasattr(model, "extract_tokens"):
            raise ConfigError(f"feature caching needs a Motion Perceiver model (with "
                              f"extract_tokens), got {type(model).__name__}")
        self.model = model.eval()
        self.level = level
        digest = hashlib.sha1(json.dumps({**(key or {}), "level": level}, sort_keys=True,
                                         default=str).encode()).hexdigest()[:16]
        self.root = Path(root) / digest
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = 0

    def path(self, name: str, x0: int, y0: int, flip: bool) -> Path:
        h = hashlib.sha1(f"{name}|{x0}|{y0}|{int(flip)}".encode()).hexdigest()[:20]
        return self.root / h[:2] / f"{h}.pt"

    @torch.no_grad()
    def compute(self, videos: torch.Tensor) -> torch.Tensor:
        """Frozen features of a ``(B, 3, T, H, W)`` batch, float32 (the τ = 0.001 matching
        amplifies any rounding)."""
        tokens = self.model.extract_tokens(videos).float()
        return tokens if self.level == "tokens" else self.model.match(tokens).float()

    def get(self, keys: list[tuple[str, int, int, bool]], make_videos) -> list[torch.Tensor]:
        """The features of every key; the missing ones from ``make_videos(missing_positions)``
        (a ``(M, 3, T, H, W)`` tensor), computed in one batch and stored."""
        out: list[torch.Tensor | None] = [None] * len(keys)
        missing = []
        for i, k in enumerate(keys):
            p = self.path(*k)
            if p.is_file():
                try:
                    out[i] = torch.load(p, map_location="cpu", weights_only=True)
                    self.hits += 1
                    continue
                except (OSError, RuntimeError, EOFError):
                    pass  # a damaged entry is recomputed
            missing.append(i)
        if missing:
            self.misses += len(missing)
            feats = self.compute(make_videos(missing))
            for j, i in enumerate(missing):
                out[i] = feats[j].contiguous()
                p = self.path(*keys[i])
                p.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(p) as tmp:
                    torch.save(out[i].clone(), tmp)
        return out  # type: ignore[return-value]


class MPClipDataset(Dataset):
    """MP-style clips over any clip dataset of :mod:`motionscope.data.video` (see the module
    docstring). Samples: ``{"video": (3, frames, size, size), "label", "index"}``, or
    ``{"tokens" | "matches": ..., "label", "index"}`` with a :class:`FeatureCache`."""

    def __init__(self, base, *, training: bool, frames: int = 32, size: int = 224,
                 resize: tuple[int, int] | None = None, crop: str = "batch", flip: bool = True,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD, cache: FeatureCache | None = None):
        if crop not in CROPS:
            raise ConfigError(f"data.args.crop={crop!r}: choose one of {CROPS}")
        if int(frames) < 1 or int(size) < 1:
            raise ConfigError(f"data.args.frames and size must be >= 1, got {frames}, {size}")
        if resize is not None and (int(resize[0]) < size or int(resize[1]) < size):
            raise ConfigError(f"data.args.resize={list(resize)} is smaller than the crop "
                              f"size {size}")
        self.base = base
        self.training = bool(training)
        self.frames, self.size = int(frames), int(size)
        self.resize = None if resize is None else (int(resize[0]), int(resize[1]))
        self.crop, self.flip = crop, bool(flip)
        self.mean = torch.tensor([float(v) for v in mean]).view(3, 1, 1, 1)
        self.std = torch.tensor([float(v) for v in std]).view(3, 1, 1, 1)
        self.cache = cache
        self.labels = list(base.labels)
        self.names = list(base.names)
        self.classes = list(base.classes)
        self.root = getattr(base, "source", None)

    def __len__(self) -> int:
        return len(self.labels)

    def read_frames(self, index: int) -> np.ndarray:
        """The resized ``(frames, H, W, 3)`` uint8 frames of sample ``index``."""
        def choose(n: int) -> list[np.ndarray]:
            return [mp_frame_indices(n, self.frames)]

        try:
            clips, unique, frames = self.base._load(index, choose)
        except DataError as e:
            raise DataError(self.base.samples[index].path,
                            f"{self.base.describe(index)}: {e}") from None
        pos = {int(u): k for k, u in enumerate(unique)}
        return resize_frames(frames[[pos[int(i)] for i in clips[0]]], self.size, self.resize)

    def _draw(self) -> tuple[float, float, bool]:
        """One crop position (fractions of the free range) and flip for a whole batch."""
        if not self.training or self.crop == "center":
            return 0.5, 0.5, False if not self.training else bool(
                self.flip and torch.rand(()) < 0.5)
        u = torch.rand(3)
        return float(u[0]), float(u[1]), bool(self.flip and u[2] < 0.5)

    def _view(self, frames: np.ndarray, fx: float, fy: float, flip: bool
              ) -> tuple[torch.Tensor, int, int]:
        h, w = frames.shape[1:3]
        s = self.size
        if fx == 0.5 and fy == 0.5:
            x0, y0 = (w - s) // 2, (h - s) // 2  # bmp-eval's centre crop
        else:
            x0, y0 = int(round(fx * (w - s))), int(round(fy * (h - s)))
        x = torch.from_numpy(np.ascontiguousarray(frames[:, y0:y0 + s, x0:x0 + s]))
        x = x.permute(3, 0, 1, 2).float().div_(255)
        if flip:
            x = x.flip(-1)
        return ((x - self.mean) / self.std).contiguous(), x0, y0

    def _items(self, indices: list[int], draw) -> list[dict]:
        fx, fy, flip = draw
        raw = [self.read_frames(i) for i in indices]
        views = [self._view(f, fx, fy, flip) for f in raw]
        if self.cache is None:
            return [{"video": v, "label": self.labels[i], "index": i}
                    for (v, _, _), i in zip(views, indices)]
        keys = [(self.names[i], x0, y0, flip) for (_, x0, y0), i in zip(views, indices)]
        feats = self.cache.get(keys, lambda miss: torch.stack([views[j][0] for j in miss]))
        return [{self.cache.level: f, "label": self.labels[i], "index": i}
                for f, i in zip(feats, indices)]

    def __getitem__(self, index: int) -> dict:
        return self._items([index], self._draw())[0]

    def __getitems__(self, indices: list[int]) -> list[dict]:
        """A whole batch with one crop offset and one flip (the official augmentation)."""
        return self._items(list(indices), self._draw())


def build_mp_clips(data_cfg, split: str, *, training: bool,
                   feature_model: torch.nn.Module | None = None,
                   feature_key: dict | None = None) -> MPClipDataset:
    """``data.name=mp_clips``: ``data.args.source`` (``videos``, ``world_clips`` or
    ``rawframes``) names the dataset whose files and lists are read; its own arguments
    (``list``, ``videos_dir``, ``world``, ``format``, ...) sit beside MP's (``frames``,
    ``size``, ``resize``, ``crop``, ``flip``, ``mean``, ``std``, ``cache``, ``cache_level``).

    ``data.args.cache`` (training split only) stores the frozen part of ``feature_model`` (the
    run's model, built by the task layer) under a key of ``feature_key`` (what identifies the
    model and its weights) and the clip reading options."""
    from .video import CLIP_BUILDERS, _plain_args

    args = _plain_args(data_cfg)
    source = args.get("source", "videos")
    if source not in SOURCES:
        raise ConfigError(f"data.args.source={source!r}: choose one of {SOURCES}")
    base_args = {k: v for k, v in args.items() if k not in _OWN_ARGS}
    node = OmegaConf.create({"name": source, "root": data_cfg.root, "args": base_args,
                             "num_classes": int(data_cfg.num_classes)})
    base = CLIP_BUILDERS[source](node, split, training=False)  # read as eval: no TSN aug
    cache = None
    if args.get("cache") and training:
        if feature_model is None:
            raise ConfigError("data.args.cache needs the run's frozen feature model: build the "
                              "datasets with motionscope.tasks.runs.build_datasets(cfg)")
        level = str(args.get("cache_level", "tokens"))
        key = {**(feature_key or {}),
               "read": {k: args.get(k) for k in ("frames", "size", "resize", "mean", "std")}}
        cache = FeatureCache(str(args["cache"]), feature_model, level, key)
    resize = args.get("resize")
    return MPClipDataset(base, training=training, frames=int(args.get("frames", 32)),
                         size=int(args.get("size", 224)),
                         resize=None if resize is None else tuple(resize),
                         crop=str(args.get("crop", "batch")), flip=bool(args.get("flip", True)),
                         mean=args.get("mean", IMAGENET_MEAN), std=args.get("std", IMAGENET_STD),
                         cache=cache)
