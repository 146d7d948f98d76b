"""Discovered keypoint tracks on disk: what ``motionscope discover extract`` writes per video.

* ``<video>.npz`` (the project's keypoint-track contract): ``keypoints (T, K, 2)`` float32 (x, y)
  frame pixels with pixel centres at integers, ``confidence (T, K)``, ``covariance (T, K, 3)``
  (xx, xy, yy) in frame pixels^2, plus ``frames (T,)`` (frame indices), ``fps``,
  ``image_size`` (H, W), ``video`` (path), ``num_keypoints``. With several agents (box mode)
  every array gains a leading agent axis, ``(M, T, K, ...)``, and ``track_names (M,)`` keeps the
  identities of the given tracks; an agent without a box in a frame is NaN there (confidence 0).
* ``<video>.csv``: a DeepLabCut CSV (``scorer`` ``motionscope-bkind``; bodyparts ``kp0`` ...;
  ``likelihood`` = confidence; multi-animal header with ``individuals`` in box mode), which
  DeepLabCut's ``analyze_videos`` readers and every DLC-CSV tool open.
* ``<video>.analysis.h5``: a SLEAP analysis HDF5 in SLEAP's own (transposed) layout
  (``tracks (M, 2, K, T)``, ``track_occupancy (T, M)``, ``point_scores (M, K, T)``,
  ``node_names``, ``track_names``, ``video_path`` ...), which SLEAP imports ("SLEAP Analysis
  HDF5") and :func:`motionscope.io.keypoints.read_sleap_analysis` reads.

No torch; files are written atomically and read without unpickling.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataError
from ..fsutil import atomic_path
from .keypoints import KeypointSet, write_dlc_csv

__all__ = ["KeypointTrack", "write_track_npz", "read_track_npz", "write_track_dlc_csv",
           "write_sleap_analysis", "write_track_files"]


@dataclass
class KeypointTrack:
    """Discovered keypoints of M agents over T frames (M = 1 for whole-frame discovery)."""

    keypoints: np.ndarray  # (M, T, K, 2)
    confidence: np.ndarray  # (M, T, K)
    covariance: np.ndarray  # (M, T, K, 3)
    track_names: list[str] | None = None  # None: one agent, whole frames
    frames: np.ndarray | None = None  # (T,) frame indices
    fps: float | None = None
    image_size: tuple[int, int] | None = None  # (H, W)
    video: str | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.keypoints = np.asarray(self.keypoints, np.float32)
        if self.keypoints.ndim == 3:
            self.keypoints = self.keypoints[None]
        self.confidence = np.asarray(self.confidence, np.float32).reshape(self.keypoints.shape[:3])
        self.covariance = np.asarray(self.covariance, np.float32).reshape(
            *self.keypoints.shape[:3], 3)
        if self.frames is None:
            self.frames = np.arange(self.keypoints.shape[1])
        self.frames = np.asarray(self.frames, np.int64)

    @property
    def num_agents(self) -> int:
        return self.keypoints.shape[0]

    @property
    def num_frames(self) -> int:
        return self.keypoints.shape[1]

    @property
    def num_keypoints(self) -> int:
        return self.keypoints.shape[2]

    def names(self) -> list[str]:
        return list(self.track_names) if self.track_names else \
            [f"agent{m}" for m in range(self.num_agents)]

    def features(self, with_confidence: bool = True, with_covariance: bool = True) -> np.ndarray:
        """``(M, T, K * (2 [+ 1] [+ 3]))`` per-frame features for the read-outs."""
        parts = [self.keypoints]
        if with_confidence:
            parts.append(self.confidence[..., None])
        if with_covariance:
            parts.append(self.covariance)
        f = np.concatenate(parts, -1)
        return f.reshape(*f.shape[:2], -1)

    def as_keypoint_set(self) -> KeypointSet:
        return KeypointSet(self.keypoints, np.where(np.isfinite(self.keypoints[..., 0]),
                                                    self.confidence, 0.0),
                           None, self.image_size, None,
                           [f"kp{k}" for k in range(self.num_keypoints)], self.names())


def write_track_npz(path: str | os.PathLike, track: KeypointTrack) -> None:
    """The ``.npz`` of the module docstring (one agent: no agent axis)."""
    one = track.track_names is None and track.num_agents == 1
    arrays = {"keypoints": track.keypoints[0] if one else track.keypoints,
              "confidence": track.confidence[0] if one else track.confidence,
              "covariance": track.covariance[0] if one else track.covariance,
              "frames": track.frames, "num_keypoints": np.int64(track.num_keypoints),
              "fps": np.float64(track.fps or 0.0),
              "image_size": np.array(track.image_size or (0, 0), np.int64),
              "video": np.array(track.video or "")}
    if not one:
        arrays["track_names"] = np.array(track.names())
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def read_track_npz(path: str | os.PathLike) -> KeypointTrack:
    """A track written by :func:`write_track_npz` (or any npz with ``keypoints`` (T, K, 2) /
    (M, T, K, 2) and optional ``confidence`` / ``covariance``), read without unpickling."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as d:
            data = {k: d[k] for k in d.files}
    except FileNotFoundError:
        raise DataError(path, "keypoint track file not found") from None
    except (OSError, ValueError) as e:
        raise DataError(path, f"not a readable .npz keypoint track ({e})") from None
    if "keypoints" not in data:
        raise DataError(path, f"no 'keypoints' array (has {sorted(data)})")
    kp = np.asarray(data["keypoints"], np.float32)
    if kp.ndim not in (3, 4) or kp.shape[-1] != 2:
        raise DataError(path, f"'keypoints' must be (T, K, 2) or (M, T, K, 2), got {kp.shape}")
    multi = kp.ndim == 4
    kp4 = kp if multi else kp[None]
    conf = data.get("confidence", np.ones(kp4.shape[:3], np.float32))
    cov = data.get("covariance", np.zeros((*kp4.shape[:3], 3), np.float32))
    try:
        conf = np.asarray(conf, np.float32).reshape(kp4.shape[:3])
        cov = np.asarray(cov, np.float32).reshape(*kp4.shape[:3], 3)
    except ValueError:
        raise DataError(path, f"'confidence' {np.shape(conf)} / 'covariance' {np.shape(cov)} do "
                              f"not fit 'keypoints' {kp.shape}") from None
    size = tuple(int(v) for v in data["image_size"]) if "image_size" in data else None
    names = [str(n) for n in data["track_names"]] if multi and "track_names" in data else (
        [f"agent{m}" for m in range(kp4.shape[0])] if multi else None)
    fps = float(data["fps"]) if "fps" in data and float(data["fps"]) > 0 else None
    return KeypointTrack(kp4, conf, cov, names, data.get("frames"), fps,
                         size if size and all(size) else None,
                         str(data["video"]) if "video" in data else None, {"path": str(path)})


def write_track_dlc_csv(path: str | os.PathLike, track: KeypointTrack) -> None:
    """A DeepLabCut CSV of the track (multi-animal header in box mode)."""
    kps = track.as_keypoint_set()
    kps.frame_names = [str(int(t)) for t in track.frames]
    write_dlc_csv(path, kps, scorer="motionscope-bkind", likelihood=True,
                  multi=track.track_names is not None)


def write_sleap_analysis(path: str | os.PathLike, track: KeypointTrack) -> None:
    """A SLEAP analysis HDF5 in SLEAP's transposed layout (see the module docstring)."""
    M, T, K = track.keypoints.shape[:3]
    present = np.isfinite(track.keypoints).all(-1)  # (M, T, K)
    strs = h5py.string_dtype("utf-8")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("tracks", data=track.keypoints.astype(np.float64).transpose(0, 3, 2, 1),
                         compression="gzip", compression_opts=1)
        f.create_dataset("track_occupancy", data=present.any(-1).T.astype(np.uint8))
        f.create_dataset("point_scores", data=np.where(present, track.confidence, np.nan)
                         .astype(np.float64).transpose(0, 2, 1))
        n = present.sum(-1)
        inst = np.where(n > 0, np.where(present, track.confidence, 0.0).sum(-1)
                        / np.maximum(n, 1), np.nan)
        f.create_dataset("instance_scores", data=inst.astype(np.float64))
        f.create_dataset("tracking_scores", data=np.zeros((M, T), np.float64))
        f.create_dataset("node_names", data=np.array([f"kp{k}".encode() for k in range(K)],
                                                     dtype="S"))
        f.create_dataset("track_names", data=np.array([n.encode() for n in track.names()],
                                                      dtype="S"))
        f.create_dataset("edge_names", data=np.zeros((0, 2), dtype="S1"))
        f.create_dataset("edge_inds", data=np.zeros((0, 2), np.int64))
        f.create_dataset("video_path", data=track.video or "", dtype=strs)
        f.create_dataset("video_ind", data=0)
        f.create_dataset("labels_path", data="", dtype=strs)
        f.create_dataset("provenance", data='{"software": "motionscope discover extract"}',
                         dtype=strs)


def write_track_files(out_dir: str | os.PathLike, name: str, track: KeypointTrack) -> dict:
    """All three files for one video into ``out_dir``; returns their paths by kind."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"npz": out / f"{name}.npz", "dlc_csv": out / f"{name}.csv",
             "sleap_h5": out / f"{name}.analysis.h5"}
    write_track_npz(paths["npz"], track)
    write_track_dlc_csv(paths["dlc_csv"], track)
    write_sleap_analysis(paths["sleap_h5"], track)
    return {k: str(v) for k, v in paths.items()}
