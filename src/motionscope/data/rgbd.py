"""Paired RGB + depth clips for DRSR: the official layouts, the embedded world, any folder pair.

Samples (the interface of ``models/drsr.py``):

* ``modality="rgb"`` or ``"depth"``: ``{"video": (3, T, S, S), "heat": (1, T, S, S), "label",
  "index"}``, ``video`` normalised ``(x - 127.5) / 128``, ``heat`` the FRP heat map
  (:mod:`motionscope.motion.frp`) of that stream's final frames;
* ``modality="fusion"``: also ``"depth"`` and ``"depth_heat"`` (``video``/``heat`` are RGB).

Each sample reads ``T = sample_duration`` frames (one per equal segment, spec 2.5) and runs them
through :mod:`.rgbd_pipeline` (depth encoding, ROI, rotation, resize, crop, flip, blur). Fused
streams use the same frame indices and, unless ``paired=False``, the same augmentation draw.

Where samples come from (:data:`SOURCES`):

* ``rgbd_official``: ``data.root`` with split files ``<name> <total_frames> <label>`` and the
  per-dataset folders of spec 2.3 (``dataset=NTU``: ``Images/<name>/%06d.jpg`` numbered from 1
  and ``nturgb+d_depth_masked/<name minus _rgb>/MDepth-%08d.png``; NvGesture, IsoGD, THUREAD
  and ``generic`` with their own rules, see :data:`LAYOUTS`);
* ``rgbd_world``: the embedded world's rawframes and masked (or full) 16-bit depth;
* ``rgbd_folders``: a CSV ``rgb,depth,label`` per line, ``rgb`` a video file or a frame folder,
  ``depth`` a folder of 16-bit PNGs (any numbering :mod:`motionscope.io.depth` detects).

Bad input, per sample (one :class:`DataError` naming the sample, its list line and the file):

* a list naming missing folders: all of them are checked when the dataset is built, and the
  error names how many and the first ones (``missing="skip"`` drops them with a warning);
* a missing frame in either stream, or a gap in the numbering: the file that is missing;
* RGB and depth frame counts that differ: an error naming both counts, or with
  ``frame_mismatch="shortest"`` the sample is read within the shorter stream (a warning once
  per sample and process); a list count larger than a folder: an error naming both;
* 8-bit depth where 16-bit millimetres are expected (``depth_format="mm16"``): an error; 8-bit
  or 3-channel depth images (IsoGD, NvGesture) are read with ``depth_format="image8"``;
* depth frames of another size than the RGB frames: allowed, each stream is resized to
  ``resize`` on its own (the official behaviour);
* videos with ``total_frames < min_frames`` (default 17: the official loader drops
  ``<= 16``) are dropped with one warning naming how many; shorter than ``sample_duration``:
  frames repeat (official); ``sample_duration < window`` is refused (every heat map would be 0);
* no subject found by the NTU ROI (no contour > 500 px): the frame centre is used, with a
  warning naming the sample (the released code crashes there, damo-cv/MotionRGBD#10).

FRP cache (``frp_cache=DIR``): the heat maps of deterministic samples (evaluation splits) are
stored as ``.npy`` under a key of everything that changes them (window, T, sizes, crop,
stream, depth encoding, ROI, the frame indices and the size and mtime of every frame file read);
writes are atomic and loads never unpickle. Training samples are random, so they are computed
each time (vectorised: milliseconds per clip).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import ConfigError, DataError
from ..fsutil import atomic_path
from ..io.depth import read_depth_folder
from ..io.paths import read_text, resolve_under
from ..io.rawframes import FrameTemplate, read_frames, read_rawframe_list
from ..motion.frp import heatmap_of_clip
from . import rgbd_pipeline as P

__all__ = ["RGBDSample", "RGBDDataset", "LAYOUTS", "MODALITIES", "official_samples",
           "world_samples", "folder_samples", "build_rgbd_official", "build_rgbd_world",
           "build_rgbd_folders", "official_data_args", "FRPCache", "read_rgbd_input"]

MODALITIES = ("rgb", "depth", "fusion")
FRP_CACHE_VERSION = 1
_VIDEO_EXT = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")


@dataclass
class RGBDSample:
    """One clip: its RGB source (frame folder or video file) and depth folder, either may be
    None when the run does not read it."""

    name: str
    label: int
    num_frames: int | None
    rgb: str | None
    depth: str | None
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Layout:
    """How a dataset's split line becomes the RGB and depth paths (spec 2.3)."""

    rgb_dir: str
    depth_dir: str
    rgb_template: str
    rgb_start: int
    depth_template: str | None
    depth_start: int
    depth_format: str

    def depth_name(self, dataset: str, line: str) -> str:
        if dataset == "NTU":
            return line[:-4] if line.endswith("_rgb") else line
        if dataset == "NvGesture":
            return line.replace("rgb", "depth")
        if dataset == "IsoGD":
            return line.replace("M_", "K_")
        if dataset == "THUREAD":
            head, _, tail = line.replace("RGB", "Depth").rpartition("/")
            tail = tail.replace("Depth", "D")
            return f"{head}/{tail}" if head else tail
        return line


LAYOUTS: dict[str, Layout] = {
    "NTU": Layout("Images", "nturgb+d_depth_masked", "{:06d}.jpg", 1, "MDepth-{:08d}.png", 1, "mm16"),
    "NvGesture": Layout("rgb", "depth", "{:06d}.jpg", 0, "{:06d}.jpg", 0, "image8"),
    "IsoGD": Layout("rgb", "depth", "{:06d}.jpg", 0, "{:06d}.jpg", 0, "image8"),
    "THUREAD": Layout("", "", "{:06d}.jpg", 0, "{:06d}.jpg", 0, "image8"),
    "generic": Layout("rgb", "depth", "{:06d}.jpg", 1, None, 1, "mm16"),
}


# ----------------------------------------------------------------------------- FRP cache
class FRPCache:
    """Heat maps on disk, one ``.npy`` per (sample, stream, frame indices, file stats)."""

    def __init__(self, root: str | os.PathLike, key: dict, dtype: str = "float32"):
        if dtype not in ("float32", "float16"):
            raise ConfigError(f"frp_cache_dtype must be float32 or float16, got {dtype!r}")
        digest = hashlib.sha1(json.dumps({**key, "dtype": dtype, "v": FRP_CACHE_VERSION},
                                         sort_keys=True).encode()).hexdigest()[:16]
        self.root = Path(root) / f"frp-{digest}"
        self.dtype = np.dtype(dtype)
        self.hits = self.misses = 0

    def path(self, parts: dict) -> Path:
        h = hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]
        return self.root / h[:2] / f"{h}.npy"

    def load(self, p: Path, shape: tuple[int, ...]) -> torch.Tensor | None:
        if not p.is_file():
            return None
        try:
            arr = np.load(p, allow_pickle=False)
        except (OSError, ValueError):
            return None  # a damaged entry is recomputed and replaced
        if arr.shape != shape or arr.dtype != self.dtype:
            return None
        return torch.from_numpy(arr.astype(np.float32))

    def store(self, p: Path, heat: torch.Tensor) -> None:
        with atomic_path(p) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, heat.numpy().astype(self.dtype), allow_pickle=False)


def _file_stats(paths: Sequence[Path]) -> list:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append([p.name, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([p.name, None, None])
    return out


# ----------------------------------------------------------------------------- dataset
class RGBDDataset(Dataset):
    """DRSR clips (RGB, depth or both, with their FRP heat maps) from a list of samples.

    Args:
        samples: the index. training: random frames and augmentation, else deterministic.
        modality: ``rgb``, ``depth`` or ``fusion``.
        sample_duration: frames per clip (64; the model's RCM is built for 64).
        sample_size, resize (W, H), crop_size: the geometry of spec 2.6 (THU-READ: crop 200).
        flip, rotated, angle, blur: training augmentation (probabilities, degree range).
        test_crop_offset: fixed evaluation crop corner (NvGesture: (32, 32)); else the centre.
        train_crop_low: lowest training crop corner (NvGesture: 10).
        window: FRP window (10; NvGesture 4).
        depth_format: ``mm16`` (16-bit PNG millimetres) or ``image8`` (8-bit/3-channel images).
        depth_norm: ``range`` (clipped ``depth_range`` mm -> [0, 1], ``depth_invert``: nearer
            brighter) or ``legacy`` (the released ``uint8(255 * d)`` wrap + JET colour map).
        depth_roi: crop ``roi_size`` around the subject in each depth frame (NTU's loader).
        rgb_roi: ``"ntu"`` crops RGB frames around the subject found in the masked depth
            (NTU's pre-processing, for raw full-size frames); ``"none"``.
        paired: one augmentation draw for both streams (False: the released independent draws).
        frame_mismatch: ``error`` or ``shortest`` (see the module doc).
        frp_cache, frp_cache_dtype: heat-map cache folder for deterministic samples.
    """

    def __init__(self, samples: Sequence[RGBDSample], *, training: bool = False,
                 modality: str = "rgb", sample_duration: int = 64, sample_size: int = 224,
                 resize: Sequence[int] = (320, 240), crop_size: int = 224, flip: float = 0.5,
                 rotated: float = 0.5, angle: Sequence[int] = (-10, 10), blur: bool = False,
                 test_crop_offset: Sequence[int] | None = None, train_crop_low: int = 0,
                 window: int = 10, rgb_template: str = "{:06d}.jpg", rgb_start: int = 1,
                 depth_template: str | None = None, depth_start: int = 1,
                 depth_format: str = "mm16", depth_norm: str = "range",
                 depth_range: Sequence[float] = (500.0, 4500.0), depth_invert: bool = True,
                 depth_roi: bool = False, rgb_roi: str = "none",
                 roi_size: Sequence[int] = (320, 240), roi_min_area: float = 500.0,
                 paired: bool = True, frame_mismatch: str = "error",
                 frp_cache: str | os.PathLike | None = None, frp_cache_dtype: str = "float32",
                 classes: Sequence[str] | None = None, source: str | os.PathLike | None = None):
        if modality not in MODALITIES:
            raise ConfigError(f"modality must be one of {MODALITIES}, got {modality!r}")
        if depth_format not in P.DEPTH_FORMATS:
            raise ConfigError(f"depth_format must be one of {P.DEPTH_FORMATS}, got {depth_format!r}")
        if depth_norm not in P.DEPTH_NORMS:
            raise ConfigError(f"depth_norm must be one of {P.DEPTH_NORMS}, got {depth_norm!r}")
        if rgb_roi not in ("none", "ntu"):
            raise ConfigError(f"rgb_roi must be 'none' or 'ntu', got {rgb_roi!r}")
        if frame_mismatch not in ("error", "shortest"):
            raise ConfigError(f"frame_mismatch must be 'error' or 'shortest', got {frame_mismatch!r}")
        if int(window) < 1 or int(sample_duration) < int(window):
            raise ConfigError(f"sample_duration={sample_duration} must be >= the FRP window "
                              f"w={window} (shorter clips give all-zero heat maps)")
        if len(depth_range) != 2 or not float(depth_range[0]) < float(depth_range[1]):
            raise ConfigError(f"depth_range must be [near, far] mm with near < far, got {depth_range}")
        self.samples = list(samples)
        self.training, self.modality = bool(training), modality
        self.T, self.S = int(sample_duration), int(sample_size)
        self.resize = (int(resize[0]), int(resize[1]))
        self.crop_size = int(crop_size)
        if self.crop_size > min(self.resize):
            raise ConfigError(f"crop_size={crop_size} is larger than resize={self.resize}")
        self.aug = {"flip": float(flip), "rotated": float(rotated),
                    "angle": (int(angle[0]), int(angle[1])), "blur": bool(blur),
                    "test_crop_offset": None if test_crop_offset is None else
                    (int(test_crop_offset[0]), int(test_crop_offset[1])),
                    "train_crop_low": int(train_crop_low)}
        P.draw_params(False, self.resize, self.crop_size,
                      test_crop_offset=self.aug["test_crop_offset"])  # validates the offset
        self.window = int(window)
        self.rgb_tpl, self.rgb_start = FrameTemplate(rgb_template), int(rgb_start)
        self.depth_tpl = FrameTemplate(depth_template) if depth_template else None
        self.depth_start = int(depth_start)
        self.depth_format, self.depth_norm = depth_format, depth_norm
        self.depth_range = (float(depth_range[0]), float(depth_range[1]))
        self.depth_invert, self.depth_roi, self.rgb_roi = bool(depth_invert), bool(depth_roi), rgb_roi
        self.roi_size, self.roi_min_area = (int(roi_size[0]), int(roi_size[1])), float(roi_min_area)
        self.paired, self.frame_mismatch = bool(paired), frame_mismatch
        self.source = None if source is None else str(source)
        self.labels = [int(s.label) for s in self.samples]
        k = max(self.labels, default=-1) + 1
        self.classes = list(classes) if classes is not None else [str(i) for i in range(k)]
        self.names = [s.name for s in self.samples]
        self._counts: dict[int, int] = {}
        self._warned: set[tuple[int, str]] = set()
        self.cache = None
        if frp_cache is not None:
            self.cache = FRPCache(frp_cache, self.map_key(), frp_cache_dtype)

    # -- what the maps depend on
    def map_key(self) -> dict:
        """Every dataset setting that changes a heat map (the FRP cache key)."""
        return {"window": self.window, "T": self.T, "S": self.S, "resize": self.resize,
                "crop": self.crop_size, "test_crop_offset": self.aug["test_crop_offset"],
                "depth_format": self.depth_format, "depth_norm": self.depth_norm,
                "depth_range": self.depth_range, "depth_invert": self.depth_invert,
                "depth_roi": self.depth_roi, "rgb_roi": self.rgb_roi, "roi_size": self.roi_size,
                "roi_min_area": self.roi_min_area, "rgb_template": self.rgb_tpl.template,
                "rgb_start": self.rgb_start, "depth_start": self.depth_start,
                "depth_template": self.depth_tpl.template if self.depth_tpl else None}

    @property
    def streams(self) -> tuple[str, ...]:
        return ("rgb", "depth") if self.modality == "fusion" else (self.modality,)

    def __len__(self) -> int:
        return len(self.samples)

    def describe(self, index: int) -> str:
        s = self.samples[index]
        where = f" ({s.meta['list']}, line {s.meta['line']})" if "line" in s.meta else ""
        return f"sample {index} {s.name!r}{where}"

    def _fail(self, index: int, path, problem: str) -> DataError:
        return DataError(path, f"{self.describe(index)}: {problem}")

    def _warn_once(self, index: int, kind: str, message: str) -> None:
        if (index, kind) not in self._warned:
            self._warned.add((index, kind))
            warnings.warn(f"{self.describe(index)}: {message}", stacklevel=3)

    # -- counting
    def _needs(self) -> tuple[bool, bool]:
        rgb = "rgb" in self.streams
        depth = "depth" in self.streams or (rgb and self.rgb_roi == "ntu")
        return rgb, depth

    def _count_rgb(self, s: RGBDSample) -> int:
        p = Path(s.rgb)
        if p.suffix.lower() in _VIDEO_EXT and p.is_file():
            from ..io.video import VideoReader

            with VideoReader(p) as r:
                return len(r)
        return len(self.rgb_tpl.scan(p))

    def _depth_tpl(self, folder: Path) -> tuple[FrameTemplate, int]:
        if self.depth_tpl is not None:
            return self.depth_tpl, self.depth_start
        from ..io.depth import detect_depth_template

        tpl, first = detect_depth_template(folder)
        return FrameTemplate(tpl), first

    def num_frames(self, index: int) -> int:
        """Frames the sample is sampled from (list count, checked against both streams)."""
        if index in self._counts:
            return self._counts[index]
        s = self.samples[index]
        need_rgb, need_depth = self._needs()
        have = {}
        try:
            if need_rgb:
                have["RGB"] = (self._count_rgb(s), s.rgb)
            if need_depth:
                tpl, _ = self._depth_tpl(Path(s.depth))
                have["depth"] = (len(tpl.scan(Path(s.depth))), s.depth)
        except DataError as e:
            raise self._fail(index, e.path, e.problem) from None
        for kind, (n, path) in have.items():
            if n == 0:
                raise self._fail(index, path, f"the {kind} folder has no frames")
        n = int(s.num_frames) if s.num_frames else max(v[0] for v in have.values())
        if len(have) == 2 and have["RGB"][0] != have["depth"][0]:
            msg = f"RGB has {have['RGB'][0]} frames but depth has {have['depth'][0]}"
            if self.frame_mismatch == "error":
                raise self._fail(index, s.depth, msg + " (data.args.frame_mismatch=shortest "
                                                       "samples within the shorter stream)")
            short = min(v[0] for v in have.values())
            if n > short:
                self._warn_once(index, "mismatch", msg + f"; sampling {short} frames")
                n = short
        for kind, (m, path) in have.items():
            if n > m:
                raise self._fail(index, path, f"the list says {n} frames but the {kind} "
                                              f"source has {m}")
        self._counts[index] = n
        return n

    def frame_indices(self, index: int, rng=None) -> np.ndarray:
        """0-based frame indices of the sample's clip (random in training)."""
        return P.drsr_frame_indices(self.num_frames(index), self.T, self.training, rng)

    # -- reading
    def _read_rgb(self, s: RGBDSample, idx: np.ndarray) -> tuple[np.ndarray, list[Path]]:
        p = Path(s.rgb)
        if p.suffix.lower() in _VIDEO_EXT and p.is_file():
            from ..io.video import VideoReader

            uniq, inv = np.unique(idx, return_inverse=True)
            with VideoReader(p) as r:
                return r.read(uniq)[inv], [p]
        frames = read_frames(p, idx, self.rgb_tpl.template, self.rgb_start)
        return frames, [p / self.rgb_tpl.name(self.rgb_start + int(i)) for i in np.unique(idx)]

    def _read_depth(self, s: RGBDSample, idx: np.ndarray) -> tuple[np.ndarray, list[Path]]:
        folder = Path(s.depth)
        tpl, start = self._depth_tpl(folder)
        files = [folder / tpl.name(start + int(i)) for i in np.unique(idx)]
        if self.depth_format == "image8":
            return read_frames(folder, idx, tpl.template, start), files
        return read_depth_folder(folder, tpl.template, idx, start), files

    def _encode_depth(self, index: int, depth: np.ndarray) -> list[np.ndarray]:
        """Per-frame depth images before the geometry (spec 2.7)."""
        out, lost = [], 0
        for d in depth:
            if self.depth_format == "image8":
                img, mask = d, d.max(axis=-1)
            elif self.depth_norm == "legacy":
                img = P.encode_depth(d, "legacy")
                mask = img
            else:
                img = P.encode_depth(d, "range", self.depth_range, self.depth_invert)
                mask = d
            if self.depth_roi:
                img, found = P.depth_roi(img, mask, self.roi_size, self.roi_min_area)
                lost += not found
            if self.depth_format == "mm16" and self.depth_norm == "legacy":
                img = P.legacy_colour(img)
            out.append(img)
        if lost:
            self._warn_once(index, "roi", f"no subject (contour > {self.roi_min_area:g} px) in "
                                          f"{lost} depth frame(s): cropped at the frame centre")
        return out

    def _rgb_frames(self, index: int, rgb: np.ndarray, depth: np.ndarray | None) -> list[np.ndarray]:
        if self.rgb_roi != "ntu":
            return list(rgb)
        out, lost = [], 0
        for f, d in zip(rgb, depth):
            crop, found = P.ntu_rgb_roi(f, d if d.ndim == 2 else d.max(axis=-1), self.roi_min_area)
            out.append(crop)
            lost += not found
        if lost:
            self._warn_once(index, "rgb_roi", f"no subject in {lost} masked depth frame(s): "
                                              "RGB cropped at the frame centre")
        return out

    def _draw(self) -> P.ClipParams:
        return P.draw_params(self.training, self.resize, self.crop_size, **self.aug)

    def _heat(self, index: int, stream: str, frames: torch.Tensor, idx: np.ndarray,
              files: list[Path]) -> torch.Tensor:
        if self.cache is None or self.training:
            return heatmap_of_clip(frames, self.window)
        parts = {"name": self.samples[index].name, "stream": stream,
                 "indices": idx.tolist(), "files": _file_stats(files)}
        p = self.cache.path(parts)
        shape = (1, self.T, self.S, self.S)
        heat = self.cache.load(p, shape)
        if heat is not None:
            self.cache.hits += 1
            return heat
        self.cache.misses += 1
        heat = heatmap_of_clip(frames, self.window)
        self.cache.store(p, heat)
        if self.cache.dtype != np.float32:
            heat = heat.to(torch.float16).float()
        return heat

    def load(self, index: int, rng=None) -> dict:
        """The sample's streams as final frames ``(T, S, S, C)`` + heat maps, before the
        network normalisation (what :meth:`__getitem__` and the fidelity test use)."""
        s = self.samples[index]
        idx = self.frame_indices(index, rng)
        need_rgb, need_depth = self._needs()
        try:
            rgb, rgb_files = self._read_rgb(s, idx) if need_rgb else (None, [])
            depth, depth_files = self._read_depth(s, idx) if need_depth else (None, [])
        except DataError as e:
            raise self._fail(index, e.path, e.problem) from None
        params = self._draw()
        out: dict = {"indices": idx}
        if "rgb" in self.streams:
            frames = P.geometry(self._rgb_frames(index, rgb, depth), params, self.resize,
                                self.crop_size, self.S)
            out["rgb"] = frames
            out["rgb_heat"] = self._heat(index, "rgb", frames, idx, rgb_files)
        if "depth" in self.streams:
            dparams = params if self.paired else self._draw()
            frames = P.geometry(self._encode_depth(index, depth), dparams, self.resize,
                                self.crop_size, self.S)
            out["depth"] = frames
            out["depth_heat"] = self._heat(index, "depth", frames, idx, depth_files)
        return out

    def __getitem__(self, index: int) -> dict:
        streams = self.load(index)
        first = self.streams[0]
        item = {"video": P.to_network(streams[first]), "heat": streams[f"{first}_heat"],
                "label": self.labels[index], "index": index}
        if self.modality == "fusion":
            item["depth"] = P.to_network(streams["depth"])
            item["depth_heat"] = streams["depth_heat"]
        return item

    def __repr__(self) -> str:
        return (f"RGBDDataset({len(self)} clips from {self.source}, modality={self.modality}, "
                f"training={self.training}, T={self.T}, size={self.S})")


# ----------------------------------------------------------------------------- indexes
def _drop_short(samples: list[RGBDSample], min_frames: int, source) -> list[RGBDSample]:
    keep = [s for s in samples if s.num_frames is None or s.num_frames >= min_frames]
    if len(keep) < len(samples):
        first = next(s for s in samples if s not in keep)
        warnings.warn(f"{source}: dropped {len(samples) - len(keep)} clip(s) with fewer than "
                      f"{min_frames} frames (data.args.min_frames; first: {first.name!r}, "
                      f"{first.num_frames} frames)", stacklevel=3)
    return keep


def _check_exists(samples: list[RGBDSample], streams: tuple[bool, bool], missing: str,
                  source) -> list[RGBDSample]:
    """Every listed folder exists, or one error naming how many and the first few."""
    if missing not in ("error", "skip"):
        raise ConfigError(f"missing must be 'error' or 'skip', got {missing!r}")
    bad = []
    for s in samples:
        gone = [p for p, used in ((s.rgb, streams[0]), (s.depth, streams[1]))
                if used and p is not None and not os.path.exists(p)]
        if gone:
            bad.append((s, gone))
    if not bad:
        return samples
    first = "; ".join(f"line {s.meta.get('line', '?')} {s.name!r}: {g[0]}" for s, g in bad[:3])
    if missing == "error":
        raise DataError(source, f"{len(bad)} of {len(samples)} listed clip(s) have no folder/file "
                                f"({first}); fix the list or data.root, or set "
                                "data.args.missing=skip")
    warnings.warn(f"{source}: skipped {len(bad)} listed clip(s) whose folder is missing ({first})",
                  stacklevel=3)
    dropped = {id(s) for s, _ in bad}
    return [s for s in samples if id(s) not in dropped]


def official_samples(root: str | os.PathLike, list_file: str | os.PathLike,
                     dataset: str = "NTU") -> list[RGBDSample]:
    """Samples of an official split file (``name total_frames label``) with spec 2.3's paths."""
    if dataset not in LAYOUTS:
        raise ConfigError(f"unknown DRSR dataset layout {dataset!r} (known: {', '.join(LAYOUTS)})")
    lay = LAYOUTS[dataset]
    root = Path(root)
    out = []
    for s in read_rawframe_list(list_file, None):
        line = s.meta["line"]
        name = s.path.strip()
        rgb = resolve_under(root / lay.rgb_dir if lay.rgb_dir else root, name, source=list_file,
                            line=line)
        dname = lay.depth_name(dataset, name)
        depth = resolve_under(root / lay.depth_dir if lay.depth_dir else root, dname,
                              source=list_file, line=line)
        out.append(RGBDSample(name, int(s.label), s.num_frames, str(rgb), str(depth), dict(s.meta)))
    return out


def world_samples(root: str | os.PathLike, split: str, depth_source: str = "masked"
                  ) -> list[RGBDSample]:
    """The embedded world's clips of ``split``: rawframes + masked (or full) depth folders."""
    root = Path(root)
    manifest = root / "manifest.json"
    if not manifest.is_file():
        raise DataError(root, "not a finished embedded world (no manifest.json); make one with "
                              "`motionscope synth --formats rawframes,depth` or leave data.root unset")
    lists = json.loads(manifest.read_text(encoding="utf-8")).get("lists", {})
    if "rawframes" not in lists or "depth" not in lists:
        raise DataError(manifest, f"this world has no RGB frames and depth together (lists: "
                                  f"{sorted(lists)}); generate it with formats rawframes,depth")
    if depth_source not in ("masked", "full"):
        raise ConfigError(f"depth_source must be 'masked' or 'full', got {depth_source!r}")
    if split not in lists["rawframes"]:
        raise ConfigError(f"the world has no split {split!r} (splits: train, val, test)")
    entry = lists["rawframes"]
    lst = resolve_under(root, entry[split], source=manifest, line=f"lists.rawframes.{split}")
    rgb_root = resolve_under(root, entry["root"], source=manifest, line="lists.rawframes.root")
    dkey = "root" if depth_source == "masked" else "root_full"
    depth_root = resolve_under(root, lists["depth"][dkey], source=manifest, line=f"lists.depth.{dkey}")
    out = []
    for s in read_rawframe_list(lst, None):
        name = s.path
        rgb = resolve_under(rgb_root, name, source=lst, line=s.meta["line"])
        depth = resolve_under(depth_root, name, source=lst, line=s.meta["line"])
        out.append(RGBDSample(name, int(s.label), s.num_frames, str(rgb), str(depth), dict(s.meta)))
    return out


def folder_samples(root: str | os.PathLike, list_file: str | os.PathLike) -> list[RGBDSample]:
    """A CSV of ``rgb,depth,label`` (header optional; ``rgb`` a video or frame folder, ``depth``
    a PNG folder, both relative to ``root``); frame counts come from the folders."""
    text = read_text(list_file, "the RGB-D list")
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = [p.strip() for p in s.split(",")]
        if len(parts) != 3:
            raise DataError(list_file, f"line {n}: expected 'rgb,depth,label', got {s!r}")
        if n == 1 and not parts[2].lstrip("-").isdigit():
            continue  # header
        try:
            label = int(parts[2])
        except ValueError:
            raise DataError(list_file, f"line {n}: label must be an integer, got {parts[2]!r}") from None
        rgb = resolve_under(root, parts[0], source=list_file, line=n)
        depth = resolve_under(root, parts[1], source=list_file, line=n)
        out.append(RGBDSample(parts[0], label, None, str(rgb), str(depth),
                              {"list": str(list_file), "line": n}))
    return out


# ----------------------------------------------------------------------------- builders
def _dataset_params() -> list[str]:
    import inspect

    return [n for n in inspect.signature(RGBDDataset.__init__).parameters
            if n not in ("self", "samples", "training", "source")]


_SOURCE_ARGS = {
    "rgbd_official": {"dataset": "NTU", "list": "{split}.txt", "min_frames": 17, "missing": "error"},
    "rgbd_world": {"world": None, "depth_source": "masked", "min_frames": 17, "missing": "error"},
    "rgbd_folders": {"list": "{split}.csv", "min_frames": 17, "missing": "error"},
}


def _args(data_cfg, source: str) -> tuple[dict, dict]:
    """``data.args`` split into the source's own keys and :class:`RGBDDataset` keys."""
    import difflib

    from omegaconf import DictConfig, OmegaConf

    raw = data_cfg.args
    args = OmegaConf.to_container(raw, resolve=True) if isinstance(raw, DictConfig) else dict(raw or {})
    own = dict(_SOURCE_ARGS[source])
    valid = list(own) + _dataset_params()
    for k in args:
        if k not in valid:
            close = difflib.get_close_matches(k, valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"data.args for {data_cfg.name!r}: unknown argument {k!r}{hint} "
                              f"(valid: {', '.join(valid)})")
    for k in list(args):
        if k in own:
            own[k] = args.pop(k)
    return own, args


def _list_path(template: str, split: str, root: Path) -> Path:
    p = Path(str(template).replace("{split}", split))
    p = p if p.is_absolute() else root / p
    if not p.is_file():
        raise DataError(p, f"split file of split {split!r} not found")
    return p


def _classes(value, root: Path | None, num_classes: int) -> list[str]:
    from .video import _classes as clip_classes

    return clip_classes(value, root, num_classes)


def _finish(samples, own, args, data_cfg, training, source, root) -> RGBDDataset:
    modality = args.get("modality", "rgb")
    if modality not in MODALITIES:
        raise ConfigError(f"data.args.modality must be one of {MODALITIES}, got {modality!r}")
    samples = _drop_short(samples, int(own["min_frames"]), source)
    need_rgb = modality in ("rgb", "fusion")
    need_depth = modality in ("depth", "fusion") or (need_rgb and args.get("rgb_roi") == "ntu")
    samples = _check_exists(samples, (need_rgb, need_depth), own["missing"], source)
    classes = _classes(args.pop("classes", None), root, data_cfg.num_classes)
    return RGBDDataset(samples, training=training, classes=classes, source=source, **args)


def build_rgbd_official(data_cfg, split: str, *, training: bool) -> RGBDDataset:
    """``data.name=rgbd_official``: an official DRSR layout under ``data.root``
    (``data.args.dataset`` = NTU | NvGesture | IsoGD | THUREAD | generic; split files
    ``data.args.list``, default ``{split}.txt``)."""
    if data_cfg.root is None:
        raise ConfigError("rgbd_official needs data.root (the folder with the split files and "
                          "the frame trees)")
    root = Path(data_cfg.root)
    own, args = _args(data_cfg, "rgbd_official")
    dataset = own["dataset"]
    if dataset not in LAYOUTS:
        raise ConfigError(f"data.args.dataset={dataset!r}: known layouts {', '.join(LAYOUTS)}")
    lay = LAYOUTS[dataset]
    args.setdefault("rgb_template", lay.rgb_template)
    args.setdefault("rgb_start", lay.rgb_start)
    args.setdefault("depth_template", lay.depth_template)
    args.setdefault("depth_start", lay.depth_start)
    args.setdefault("depth_format", lay.depth_format)
    lst = _list_path(own["list"], split, root)
    return _finish(official_samples(root, lst, dataset), own, args, data_cfg, training, lst, root)


# the world a ``rgbd_world`` run without ``data.root`` generates (and caches)
DEFAULT_RGBD_WORLD = {"classes": "bmp10", "clips_per_class": 12, "frames": 32, "size": [64, 64],
                      "seed": 0}


def rgbd_world_root(world: dict | None = None, cache: str | os.PathLike | None = None) -> Path:
    """A generated world with rawframes and depth, made once into the motionscope cache."""
    import sys

    from ..synth.cache import cached_world

    spec = {**DEFAULT_RGBD_WORLD, **(world or {})}
    spec.pop("formats", None)
    workers = int(spec.pop("workers", 1))
    return cached_world(("depth", "rawframes"), cache=cache, workers=workers, prefix="rgbd",
                        progress=sys.stderr.isatty(), **spec)


def build_rgbd_world(data_cfg, split: str, *, training: bool) -> RGBDDataset:
    """``data.name=rgbd_world``: the embedded world's RGB frames with masked (``depth_source``
    masked) or full depth; ``data.root`` a world, or None to generate ``data.args.world``."""
    own, args = _args(data_cfg, "rgbd_world")
    root = Path(data_cfg.root) if data_cfg.root is not None else rgbd_world_root(own["world"])
    args.setdefault("rgb_template", "img_{:05d}.jpg")
    args.setdefault("rgb_start", 1)
    full = own["depth_source"] == "full"
    args.setdefault("depth_template", "Depth-{:08d}.png" if full else "MDepth-{:08d}.png")
    args.setdefault("depth_start", 1)
    if (root / "classes.txt").is_file():  # the world's action names, as world_clips reads them
        args.setdefault("classes", "classes.txt")
    samples = world_samples(root, split, own["depth_source"])
    return _finish(samples, own, args, data_cfg, training, root / "manifest.json", root)


def build_rgbd_folders(data_cfg, split: str, *, training: bool) -> RGBDDataset:
    """``data.name=rgbd_folders``: folder pairs listed in ``data.args.list`` (default
    ``{split}.csv``, lines ``rgb,depth,label``) under ``data.root``."""
    if data_cfg.root is None:
        raise ConfigError("rgbd_folders needs data.root (the folder the list's paths are under)")
    root = Path(data_cfg.root)
    own, args = _args(data_cfg, "rgbd_folders")
    lst = _list_path(own["list"], split, root)
    return _finish(folder_samples(root, lst), own, args, data_cfg, training, lst, root)


def official_data_args(args: dict) -> dict:
    """The ``data.args`` of ``rgbd_official`` that reproduce an official DRSR ``args`` namespace
    (``Config(config/<X>.yml)`` keys: dataset, type, Network, sample_duration, sample_size,
    resize, crop_size, w, flip, rotated, angle, Blur)."""
    import ast

    def pair(v):
        return list(ast.literal_eval(v)) if isinstance(v, str) else list(v)

    dataset = args.get("dataset", "NTU")
    modality = "fusion" if args.get("Network") == "FusionNet" else \
        {"M": "rgb", "K": "depth"}.get(args.get("type", "M"))
    if modality is None:
        raise ConfigError(f"official type {args.get('type')!r} is not RGB (M) or depth (K)")
    out = {"dataset": dataset, "modality": modality,
           "sample_duration": int(args.get("sample_duration", 64)),
           "sample_size": int(args.get("sample_size", 224)),
           "resize": pair(args.get("resize", "(320, 240)")),
           "crop_size": int(args.get("crop_size", 224)), "window": int(args.get("w", 10)),
           "flip": float(args.get("flip", 0.5)), "rotated": float(args.get("rotated", 0.5)),
           "angle": pair(args.get("angle", "(-10, 10)")), "blur": bool(args.get("Blur", False)),
           "depth_norm": "legacy", "depth_roi": dataset == "NTU", "paired": False}
    if dataset == "NvGesture":
        out.update(test_crop_offset=[32, 32], train_crop_low=10)
    return out


# ----------------------------------------------------------------------------- predict
def read_rgbd_input(data_cfg, path: Path) -> dict:
    """One input for ``predict``, read as the evaluation split reads a sample: an RGB video or
    frame folder (``modality=rgb``), a depth PNG folder (``depth``), or for ``fusion`` a folder
    holding ``rgb`` (frame folder or ``rgb.<video>``) and ``depth``."""
    src = {"rgbd_official": "rgbd_official", "rgbd_world": "rgbd_world"}.get(data_cfg.name,
                                                                              "rgbd_folders")
    own, args = _args(data_cfg, src)
    if src == "rgbd_official":
        lay = LAYOUTS.get(own["dataset"], LAYOUTS["generic"])
        for k, v in (("rgb_template", lay.rgb_template), ("rgb_start", lay.rgb_start),
                     ("depth_template", lay.depth_template), ("depth_start", lay.depth_start),
                     ("depth_format", lay.depth_format)):
            args.setdefault(k, v)
    elif src == "rgbd_world":
        args.setdefault("rgb_template", "img_{:05d}.jpg")
        args.setdefault("depth_template", "MDepth-{:08d}.png" if own["depth_source"] == "masked"
                        else "Depth-{:08d}.png")
    args.pop("classes", None)
    args.pop("frp_cache", None)
    modality = args.get("modality", "rgb")
    rgb = depth = None
    if modality == "fusion":
        p = Path(path)
        depth = str(p / "depth")
        vids = sorted(q for q in p.glob("rgb.*") if q.suffix.lower() in _VIDEO_EXT)
        rgb = str(vids[0]) if vids else str(p / "rgb")
    elif modality == "depth":
        depth = str(path)
    else:
        rgb = str(path)
    for kind, p in (("RGB", rgb), ("depth", depth)):
        if p is not None and not Path(p).exists():
            raise DataError(p, f"{kind} input not found")
    if modality == "depth" and args.get("depth_template") and depth and \
            not FrameTemplate(args["depth_template"]).scan(Path(depth)):
        args["depth_template"] = None  # another naming: detect it
    ds = RGBDDataset([RGBDSample(Path(rgb or depth).name, 0, None, rgb, depth, {})],
                     training=False, source=path, **args)
    item = ds[0]
    return {k: v[None] for k, v in item.items() if isinstance(v, torch.Tensor)}
