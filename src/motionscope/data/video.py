"""RGB clip datasets over videos and frame folders, with TSN segment sampling.

The pipeline of MIE-Net, TSN, TSM and every 2D clip model here:

1. **Index**: a ``dir num_frames label`` rawframe list (:class:`RawframeDataset`) or a
   ``path,label`` video CSV (:class:`VideoDataset`, decoded with PyAV through ``io.video``).
2. **Sampling** (TSN): the clip is cut into ``num_segments`` equal segments and
   ``frames_per_segment`` consecutive frames are read from each (4 for MIE-Net's "Lite"
   modality: PA needs 4 frames for its 3 motion maps; 1 for plain TSN/TSM). Training draws a
   random start inside each segment (:func:`train_segment_starts`), evaluation takes the
   segment centres (:func:`eval_segment_starts`). Frame ids are 1-based as in the official
   lists and the counter stops at the last frame, so a group that runs past the end repeats
   the last frame.
3. **Augmentation**: training uses GroupMultiScaleCrop (13 fixed offsets, scales
   1/.875/.75/.66) and a clip-wide horizontal flip (``flip=False`` for direction-sensitive
   datasets); evaluation scales the short side to ``scale_size`` and takes 1, 3, 5 or 10 crops
   from each of ``test_clips`` clips (see :mod:`.transforms`).
4. **Output**: ``{"video": (3, T*L, H, W) float32, "label": int, "index": int}``, frames of one
   segment consecutive (what :class:`motionscope.models.mienet.MIENet` takes). With several
   test views the video is ``(V, 3, T*L, H, W)``, V = clips x crops, and ``eval.views = V``
   makes the engine average the views' softmax scores.

Short videos (fewer frames than segments x group length): the released MIE-Net code samples
training starts from ``randint(F - L + 4)`` where PAN has ``randint(F - L + 1)``; the ``+4``
puts starts past the last full group (for L = 1, past the last frame: a crash). The default
``short_video_fallback="pan"`` is the intended ``+1``; ``"mie"`` reproduces the released draw,
clamped to the last frame so that it cannot read past the end.

Bad input, per sample (errors are :class:`DataError` naming the sample, its list line and the
file): a missing frame file; a list frame count larger than the folder (or, with
``num_frames_from="folder"``, the folder's own count is used); a gap in a folder's numbering;
a video whose packets end before its header says (the frames actually in the file are used,
with a warning naming the file and both counts) or whose tail does not decode (sampling falls
back to the frames that decode, with a warning); ``data.args.strict=true`` makes both errors.
Grayscale frames are replicated to RGB and the alpha channel of RGBA frames is dropped by the
readers, for videos and frame folders alike.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..argcheck import check_kwargs
from ..errors import ConfigError, DataError
from ..io.index import Sample
from ..io.paths import resolve_under
from ..io.rawframes import DEFAULT_TEMPLATE, FrameTemplate, read_frames, read_rawframe_list
from ..io.splits import read_video_csv
from ..io.video import VideoReader
from .segments import (
    SHORT_VIDEO_FALLBACKS,
    eval_segment_starts,
    segment_frame_indices,
    train_segment_starts,
)
from .transforms import (
    EVAL_CROPS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    TSN_SCALES,
    EvalClipTransform,
    TrainClipTransform,
    frames_to_tensor,
    resize,
    scaled_short_side,
)

__all__ = [
    "SHORT_VIDEO_FALLBACKS",
    "train_segment_starts",
    "eval_segment_starts",
    "segment_frame_indices",
    "ClipDataset",
    "RawframeDataset",
    "VideoDataset",
    "world_root",
    "build_rawframes",
    "build_videos",
    "build_world_clips",
    "clip_segments",
    "clip_views",
    "CLIP_ARGS",
]

NUM_FRAMES_FROM = ("list", "folder")


# ----------------------------------------------------------------------------- datasets
class ClipDataset(Dataset):
    """TSN-sampled, augmented RGB clips from a list of :class:`~motionscope.io.index.Sample`.

    Subclasses say how to count and read a sample's frames (:meth:`_load`).

    Args:
        samples: the index; every sample needs a label.
        training: random segment offsets + multi-scale crop/flip (else centres + test crops).
        num_segments: T. frames_per_segment: L consecutive frames per segment (MIE-Net 4).
        input_size: side of the network input. scale_size: short side before test crops
            (default ``input_size * 256 // 224``).
        scales, max_distort, fix_crop, more_fix_crop: GroupMultiScaleCrop settings.
        flip: random horizontal flip in training (off for SSv2-like datasets).
        mean, std: normalisation of ``/255`` pixels.
        test_clips, test_crops: evaluation views (crops 1, 3, 5 or 10), V = clips x crops.
        full_res: test crops of ``scale_size`` instead of ``input_size``.
        short_video_fallback: ``"pan"`` (fixed) or ``"mie"`` (released), see the module doc.
        short_side: resize frames to this short side as they are read (videos: while
            decoding), emulating frames extracted at a smaller size.
        classes: class names (default ``"0" .. "K-1"`` for the largest label).
        source: what the index was read from (named in errors).
    """

    def __init__(self, samples: Sequence[Sample], *, training: bool = False,
                 num_segments: int = 8, frames_per_segment: int = 4, input_size: int = 224,
                 scale_size: int | None = None, scales: Sequence[float] = TSN_SCALES,
                 max_distort: int = 1, fix_crop: bool = True, more_fix_crop: bool = True,
                 flip: bool = True, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD, test_clips: int = 1, test_crops: int = 1,
                 full_res: bool = False, short_video_fallback: str = "pan",
                 short_side: int | None = None, classes: Sequence[str] | None = None,
                 names: Sequence[str] | None = None, source: str | os.PathLike | None = None):
        self.samples = list(samples)
        self.source = None if source is None else str(source)
        for s in self.samples:
            if s.label is None:
                raise DataError(self.source, f"line {s.meta.get('line', '?')}: sample "
                                             f"{s.path!r} has no label")
        _check_positive(num_segments=num_segments, frames_per_segment=frames_per_segment,
                        input_size=input_size, test_clips=test_clips)
        if test_crops not in EVAL_CROPS:
            raise ConfigError(f"test_crops must be one of {EVAL_CROPS}, got {test_crops}")
        if short_video_fallback not in SHORT_VIDEO_FALLBACKS:
            raise ConfigError(f"unknown short_video_fallback {short_video_fallback!r} "
                              f"(choose one of {', '.join(SHORT_VIDEO_FALLBACKS)})")
        if not scales:
            raise ConfigError("scales must list at least one crop scale")
        self.training = bool(training)
        self.num_segments, self.frames_per_segment = int(num_segments), int(frames_per_segment)
        self.test_clips, self.test_crops = int(test_clips), int(test_crops)
        self.short_video_fallback = short_video_fallback
        self.short_side = None if short_side is None else int(short_side)
        self.train_transform = TrainClipTransform(input_size, scales, max_distort, fix_crop,
                                                  more_fix_crop, flip, mean, std)
        self.eval_transform = EvalClipTransform(input_size, scale_size, test_crops, full_res,
                                                mean, std)
        self.labels = [int(s.label) for s in self.samples]
        k = max(self.labels, default=-1) + 1
        self.classes = list(classes) if classes is not None else [str(i) for i in range(k)]
        self.names = list(names) if names is not None else [s.path for s in self.samples]
        self._counts: dict[int, int] = {}  # corrected frame counts, per process

    @property
    def views(self) -> int:
        """Views per sample this dataset returns (1 in training)."""
        return 1 if self.training else self.test_clips * self.test_crops

    def __len__(self) -> int:
        return len(self.samples)

    def describe(self, index: int) -> str:
        s = self.samples[index]
        where = f" ({self.source}, line {s.meta['line']})" if "line" in s.meta else ""
        return f"sample {index} {self.names[index]!r}{where}"

    # -- sampling
    def clip_indices(self, num_frames: int, rng=None) -> list[np.ndarray]:
        """0-based frame indices of each clip (one in training, ``test_clips`` otherwise)."""
        t, n_len = self.num_segments, self.frames_per_segment
        if self.training:
            starts = [train_segment_starts(num_frames, t, n_len, rng, self.short_video_fallback)]
        else:
            starts = [eval_segment_starts(num_frames, t, n_len, c, self.test_clips)
                      for c in range(self.test_clips)]
        return [segment_frame_indices(s, n_len, num_frames) for s in starts]

    # -- reading
    def _load(self, index: int, choose: Callable[[int], list[np.ndarray]]
              ) -> tuple[list[np.ndarray], np.ndarray]:
        """Count the sample's frames, pick the clips' indices with ``choose(num_frames)`` and
        read them: returns ``(clips, unique, frames)``, the per-clip indices, their sorted
        unique union and the ``(len(unique), H, W, 3)`` uint8 frames at those indices."""
        raise NotImplementedError

    def _resize_short(self, frames: np.ndarray) -> np.ndarray:
        if self.short_side is None or min(frames.shape[1:3]) == self.short_side:
            return frames
        h, w = scaled_short_side(frames.shape[1], frames.shape[2], self.short_side)
        return resize(frames_to_tensor(frames), (h, w)).permute(0, 2, 3, 1).numpy()

    def read_clips(self, index: int) -> list[np.ndarray]:
        """The raw ``(T*L, H, W, 3)`` uint8 frames of each clip of sample ``index``."""
        try:
            clips, unique, frames = self._load(index, self.clip_indices)
        except DataError as e:
            raise DataError(self.samples[index].path, f"{self.describe(index)}: {e}") from None
        frames = self._resize_short(frames)
        pos = {int(u): k for k, u in enumerate(unique)}
        return [frames[[pos[int(i)] for i in idx]] for idx in clips]

    def __getitem__(self, index: int) -> dict:
        clips = self.read_clips(index)
        if self.training:
            video = self.train_transform(clips[0])
        else:
            views = torch.cat([self.eval_transform(c) for c in clips])
            video = views[0] if len(views) == 1 else views
        return {"video": video, "label": self.labels[index], "index": index}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self)} clips from {self.source}, "
                f"training={self.training}, segments={self.num_segments}x"
                f"{self.frames_per_segment}, views={self.views})")


def _check_positive(**values: int) -> None:
    for k, v in values.items():
        if int(v) < 1:
            raise ConfigError(f"{k} must be >= 1, got {v}")


def _unique(clips: list[np.ndarray]) -> np.ndarray:
    return np.unique(np.concatenate(clips))


class RawframeDataset(ClipDataset):
    """Clips from frame folders listed as ``<dir> <num_frames> <label>`` (TSN/MMAction2).

    Args:
        list_file: the list; ``dir`` is relative to ``root`` (or ``root/frames_dir``).
        template: frame file names (``img_{:05d}.jpg`` UCF/Diving48/world, ``{:06d}.jpg``
            SSv2), numbered from ``start_index``.
        num_frames_from: ``"list"`` trusts the list's count (official; a count larger than
            the folder is an error naming the sample) or ``"folder"`` counts the folder's
            contiguous frames (once per sample and process).
        **kwargs: :class:`ClipDataset` options.
    """

    def __init__(self, list_file: str | os.PathLike, root: str | os.PathLike | None = None,
                 frames_dir: str = "", template: str = DEFAULT_TEMPLATE, start_index: int = 1,
                 num_frames_from: str = "list", **kwargs):
        if num_frames_from not in NUM_FRAMES_FROM:
            raise ConfigError(f"num_frames_from must be one of {NUM_FRAMES_FROM}, "
                              f"got {num_frames_from!r}")
        try:
            self.template = FrameTemplate(template)
        except ValueError as e:
            raise ConfigError(f"template: {e}") from None
        self.start_index, self.num_frames_from = int(start_index), num_frames_from
        base = Path(root) / frames_dir if root is not None else (Path(frames_dir) if frames_dir
                                                                 else None)
        samples = read_rawframe_list(list_file, base)
        names = [os.path.relpath(s.path, base) if base is not None else s.path for s in samples]
        kwargs.setdefault("source", list_file)
        super().__init__(samples, names=names, **kwargs)

    def _count(self, index: int) -> int:
        if index in self._counts:
            return self._counts[index]
        s = self.samples[index]
        if self.num_frames_from == "folder" or not s.num_frames:
            from ..io.rawframes import count_frames

            n = count_frames(s.path, self.template.template, self.start_index)
            self._counts[index] = n
            return n
        return int(s.num_frames)

    def _load(self, index, choose):
        s = self.samples[index]
        n = self._count(index)
        clips = choose(n)
        unique = _unique(clips)
        try:
            frames = read_frames(s.path, unique, self.template.template, self.start_index)
        except DataError as e:
            if "missing" not in e.problem or self.num_frames_from == "folder":
                raise
            raise DataError(e.path, f"{e.problem}; {self._mismatch(s, n)}") from None
        return clips, unique, frames

    def _mismatch(self, s: Sample, n: int) -> str:
        nums = self.template.scan(Path(s.path))
        if not nums:
            return f"the folder has no frames named like {self.template.name(self.start_index)}"
        k = len(nums)
        contiguous = nums[-1] - nums[0] + 1 == k and nums[0] == self.start_index
        have = f"{k} frames" + ("" if contiguous else f" numbered {nums[0]}..{nums[-1]} with gaps")
        return (f"the list says {n} frames, the folder has {have}; fix the list or set "
                f"data.args.num_frames_from=folder")


class VideoDataset(ClipDataset):
    """Clips from video files listed as ``path,label`` (PySlowFast/MP CSVs), decoded by PyAV.

    The frame count is the number of video packets actually in the file. A file whose header
    claims more frames than it holds (cut short) is sampled within the frames it has, with a
    warning naming the file and both counts; frames that still fail to decode (a corrupt tail)
    make the sample fall back to its decodable frames, with a warning. ``strict=True``
    (``data.args.strict``) makes both a :class:`DataError` instead.

    Args:
        list_file: the CSV; paths relative to ``root`` (or ``root/videos_dir``).
        sep: the CSV separator. decode_threads: PyAV threads per reader (1 in workers).
        strict: fail on a video that holds or decodes fewer frames than it claims.
        **kwargs: :class:`ClipDataset` options.
    """

    def __init__(self, list_file: str | os.PathLike, root: str | os.PathLike | None = None,
                 videos_dir: str = "", sep: str = ",", decode_threads: int = 1,
                 strict: bool = False, **kwargs):
        base = Path(root) / videos_dir if root is not None else (Path(videos_dir) if videos_dir
                                                                 else None)
        samples = read_video_csv(list_file, base, sep=sep)
        names = [os.path.relpath(s.path, base) if base is not None else s.path for s in samples]
        self.decode_threads = int(decode_threads)
        self.strict = bool(strict)
        kwargs.setdefault("source", list_file)
        super().__init__(samples, names=names, **kwargs)

    def _short(self, path: str, problem: str) -> None:
        """A video with fewer frames than it claims: a warning, or (strict) an error."""
        if self.strict:
            raise DataError(path, problem + " (data.args.strict=true)")
        warnings.warn(f"{path}: {problem}", stacklevel=3)

    def _load(self, index, choose):
        path = self.samples[index].path
        with VideoReader(path, threads=self.decode_threads) as r:
            n = self._counts.get(index)
            if n is None:
                n = len(r)
                if r.header_frames > n:
                    self._short(path, f"the header claims {r.header_frames} frames but the file "
                                      f"holds {n}; sampling from those {n}")
                self._counts[index] = n
            if self.short_side is not None:
                info = r.info
                r.size = scaled_short_side(info.height, info.width, self.short_side)
            clips = choose(n)
            unique = _unique(clips)
            try:
                return clips, unique, r.read(unique)
            except DataError:
                pass
        good = _decodable_frames(path, self.decode_threads)
        if good == 0:
            raise DataError(path, "no frame of the video can be decoded")
        self._short(path, f"only {good} of {n} frames decode; sampling from those {good}")
        self._counts[index] = good
        clips = choose(good)
        unique = _unique(clips)
        with VideoReader(path, threads=self.decode_threads) as r:
            if self.short_side is not None:
                r.size = scaled_short_side(r.info.height, r.info.width, self.short_side)
            frames = np.stack(list(r.iter_frames(0, int(unique.max()) + 1)))
        return clips, unique, frames[unique]


def _decodable_frames(path: str, threads: int = 1) -> int:
    """How many frames decode from the start of a video before the first error."""
    n = 0
    try:
        with VideoReader(path, threads=threads, size=(2, 2)) as r:
            for _ in r.iter_frames(0):
                n += 1
    except DataError:
        pass
    return n


# ----------------------------------------------------------------------------- builders
_COMMON = inspect.signature(ClipDataset.__init__).parameters
_BUILDER_ONLY = ("samples", "training", "names", "source", "self")


def _accepts(*extra: inspect.Parameter) -> Callable:
    """A signature-only function naming every valid ``data.args`` key, for ``check_kwargs``."""
    def args_of():  # pragma: no cover - never called
        pass

    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for n, p in _COMMON.items()
              if n not in _BUILDER_ONLY] + list(extra)
    args_of.__signature__ = inspect.Signature(params)
    return args_of


def _kw(name: str, default=None) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)


_RAWFRAME_ARGS = _accepts(_kw("list", "{split}.txt"), _kw("frames_dir", ""),
                          _kw("template", DEFAULT_TEMPLATE), _kw("start_index", 1),
                          _kw("num_frames_from", "list"))
_VIDEO_ARGS = _accepts(_kw("list", "{split}.csv"), _kw("videos_dir", ""), _kw("sep", ","),
                       _kw("decode_threads", 1), _kw("strict", False))
_WORLD_ARGS = _accepts(_kw("format", "rawframes"), _kw("world", None),
                       _kw("num_frames_from", "list"), _kw("decode_threads", 1), _kw("strict", False))


def clip_segments(args: dict) -> int:
    """The segment count a clip dataset with ``data.args`` = ``args`` samples."""
    return int(args.get("num_segments", _COMMON["num_segments"].default))


def clip_views(args: dict) -> int:
    """Views per evaluation sample (``test_clips x test_crops``): what ``eval.views`` must be."""
    return int(args.get("test_clips", 1)) * int(args.get("test_crops", 1))


def _plain_args(data_cfg) -> dict:
    """``data.args`` as plain Python containers (OmegaConf nodes -> dicts and lists)."""
    from omegaconf import DictConfig, OmegaConf

    args = data_cfg.args
    if isinstance(args, DictConfig):
        return OmegaConf.to_container(args, resolve=True)  # type: ignore[return-value]
    return dict(args or {})


def checked_args(data_cfg, spec: Callable) -> dict:
    """``data.args`` as plain containers, every key checked against ``spec``."""
    args = _plain_args(data_cfg)
    check_kwargs(spec, args, f"data.args for {data_cfg.name!r}")
    for k in ("scales", "mean", "std"):
        if k in args and args[k] is not None:
            args[k] = [float(v) for v in args[k]]
    return args


def _list_path(template: str, split: str, root: Path | None) -> Path:
    p = Path(str(template).replace("{split}", split))
    if not p.is_absolute() and root is not None:
        p = root / p
    if not p.is_file():
        raise DataError(p, f"list file of split {split!r} not found")
    return p


def _classes(value, root: Path | None, num_classes: int) -> list[str]:
    """``data.args.classes``: names, a text file of names (one per line) or None."""
    if value is None:
        return [str(i) for i in range(num_classes)]
    if isinstance(value, str):
        p = Path(value)
        p = root / p if not p.is_absolute() and root is not None else p
        if not p.is_file():
            raise DataError(p, "class-name file not found")
        names = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    else:
        names = [str(v) for v in value]
    if len(names) != num_classes:
        raise ConfigError(f"data.args.classes lists {len(names)} names but "
                          f"data.num_classes={num_classes}")
    return names


def _need_root(data_cfg) -> Path:
    if data_cfg.root is None:
        raise ConfigError(f"dataset {data_cfg.name!r} needs data.root (the folder that holds "
                          "the list files and the frames/videos)")
    return Path(data_cfg.root)


def build_rawframes(data_cfg, split: str, *, training: bool) -> RawframeDataset:
    """``data.name=rawframes``: frame folders under ``data.root`` listed in ``data.args.list``
    (``{split}`` is replaced by the split name; default ``{split}.txt``)."""
    root = _need_root(data_cfg)
    args = checked_args(data_cfg, _RAWFRAME_ARGS)
    lst = _list_path(args.pop("list", "{split}.txt"), split, root)
    classes = _classes(args.pop("classes", None), root, data_cfg.num_classes)
    return RawframeDataset(lst, root, training=training, classes=classes, **args)


def build_videos(data_cfg, split: str, *, training: bool) -> VideoDataset:
    """``data.name=videos``: video files under ``data.root`` listed in the CSV
    ``data.args.list`` (default ``{split}.csv``)."""
    root = _need_root(data_cfg)
    args = checked_args(data_cfg, _VIDEO_ARGS)
    lst = _list_path(args.pop("list", "{split}.csv"), split, root)
    classes = _classes(args.pop("classes", None), root, data_cfg.num_classes)
    return VideoDataset(lst, root, training=training, classes=classes, **args)


# the world a ``world_clips`` run without ``data.root`` generates (and caches)
DEFAULT_WORLD = {"classes": "bmp10", "clips_per_class": 12, "frames": 16, "size": [64, 64],
                 "seed": 0}


def world_root(world: dict | None = None, cache: str | os.PathLike | None = None) -> Path:
    """The folder of a generated embedded world with RGB videos and rawframes, generated once
    into the motionscope cache (``$MOTIONSCOPE_CACHE``) by :func:`~motionscope.synth.cache.cached_world`
    (keyed by the settings and the generator version; concurrent processes wait for one writer).
    ``world`` holds ``generate_world`` arguments (plus ``workers``, default 1)."""
    from ..synth.cache import cached_world

    spec = {**DEFAULT_WORLD, **(world or {})}
    spec.pop("formats", None)
    # one process by default: spawned workers re-import the caller's main module, which
    # hangs a script that has no ``if __name__ == "__main__":`` guard
    workers = int(spec.pop("workers", 1))
    # a dataset builder cannot see train.progress: show the bar only on a terminal
    return cached_world(("rgb", "rawframes"), cache=cache, workers=workers, prefix="rgb",
                        progress=sys.stderr.isatty(), **spec)


def build_world_clips(data_cfg, split: str, *, training: bool) -> ClipDataset:
    """``data.name=world_clips``: the embedded world's clips, ``data.args.format`` =
    ``rawframes`` (JPEG folders) or ``videos`` (mp4). ``data.root`` is a generated world; when
    it is None, ``data.args.world`` (``generate_world`` arguments) names one that is generated
    once into the cache."""
    args = checked_args(data_cfg, _WORLD_ARGS)
    world = args.pop("world", None)
    root = Path(data_cfg.root) if data_cfg.root is not None else world_root(
        dict(world) if world is not None else None)
    manifest = root / "manifest.json"
    if not manifest.is_file():
        raise DataError(root, "not a finished embedded world (no manifest.json); make one "
                              "with `motionscope synth` or leave data.root unset")
    fmt = args.pop("format", "rawframes")
    lists = json.loads(manifest.read_text(encoding="utf-8")).get("lists", {})
    if fmt not in ("rawframes", "videos") or fmt not in lists:
        have = [k for k in ("rawframes", "videos") if k in lists]
        raise ConfigError(f"data.args.format={fmt!r}: this world has {have or 'no RGB clips'} "
                          "(choose rawframes or videos)")
    entry = lists[fmt]
    if split not in entry:
        raise ConfigError(f"the world has no split {split!r} (splits: train, val, test)")
    classes = _classes(args.pop("classes", "classes.txt"), root, data_cfg.num_classes)
    # the manifest's paths stay inside the world (motionscope.io.paths)
    lst = _list_path(str(resolve_under(root, entry[split], source=manifest,
                                       line=f"lists.{fmt}.{split}")), split, None)
    base = resolve_under(root, entry["root"], source=manifest, line=f"lists.{fmt}.root")
    if fmt == "rawframes":
        args.pop("decode_threads", None)
        args.pop("strict", None)
        return RawframeDataset(lst, base, training=training, classes=classes, **args)
    args.pop("num_frames_from", None)
    return VideoDataset(lst, base, training=training, classes=classes, **args)

# the valid ``data.args`` of each clip dataset (single-input readers check against them too)
CLIP_ARGS = {"rawframes": _RAWFRAME_ARGS, "videos": _VIDEO_ARGS, "world_clips": _WORLD_ARGS}
CLIP_BUILDERS = {"rawframes": build_rawframes, "videos": build_videos, "world_clips": build_world_clips}
