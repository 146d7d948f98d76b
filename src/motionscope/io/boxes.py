"""Per-frame bounding boxes of one or more agents: a box CSV, or boxes around the keypoints of a
SLEAP / DeepLabCut / COCO track file (B-KinD's box and multi-agent mode).

Container: :class:`BoxTrack`, ``boxes (M, T, 4)`` float32 as ``(x0, y0, x1, y1)`` in frame
pixels (pixel centres at integers, as SLEAP and DeepLabCut store keypoints, so a box covers
``[x0 - 0.5, x1 + 0.5]``), NaN where the agent has no box in that frame; ``track_names``
(length M) keep the identities of the source (SLEAP tracks, DeepLabCut individuals, the CSV's
``track`` column), in the source's order.

Box CSV (one header line, comma separated, any column order, extra columns ignored)::

    frame,track,x,y,w,h          # top-left corner + size
    frame,track,x1,y1,x2,y2      # two corners

``frame`` is 0-based (``first_frame=1`` for 1-based files); ``track`` is optional (one agent).

Boxes from keypoints: the tight box of the frame's labelled/predicted points, padded by
``padding`` x its larger side on every side (at least ``min_size`` pixels), squared around its
centre when ``square`` (what B-KinD's H36M loader does with the pose box), and smoothed over
``smooth`` frames so that a crop does not jitter with every keypoint.

Bad input: a frame index past the video (``check_frames``) is a :class:`DataError` naming the
file; a box wholly outside the frame is dropped (that agent is missing there) and counted, a box
partly outside is kept (the crop is padded with black).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from .paths import read_text

__all__ = ["BoxTrack", "read_box_csv", "write_box_csv", "boxes_from_keypoints", "read_boxes",
           "check_frames", "drop_outside", "KEYPOINT_SUFFIXES"]

KEYPOINT_SUFFIXES = (".slp", ".h5", ".hdf5", ".json")


@dataclass
class BoxTrack:
    """Boxes ``(M, T, 4)`` of M agents over T frames (see the module docstring)."""

    boxes: np.ndarray
    track_names: list[str]
    source: str | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, np.float32)
        if self.boxes.ndim != 3 or self.boxes.shape[-1] != 4:
            raise ValueError(f"boxes must be (M, T, 4), got {self.boxes.shape}")
        if len(self.track_names) != self.boxes.shape[0]:
            raise ValueError(f"{len(self.track_names)} track names for {self.boxes.shape[0]} "
                             "agents")
        bad = ~np.isfinite(self.boxes).all(-1)
        self.boxes[bad] = np.nan

    @property
    def num_agents(self) -> int:
        return self.boxes.shape[0]

    @property
    def num_frames(self) -> int:
        return self.boxes.shape[1]

    def present(self) -> np.ndarray:
        """``(M, T)`` bool: the agent has a box in the frame."""
        return np.isfinite(self.boxes[..., 0])

    def padded_to(self, num_frames: int) -> BoxTrack:
        """The same boxes over ``num_frames`` frames (missing after the last listed one)."""
        if num_frames <= self.num_frames:
            return self
        extra = np.full((self.num_agents, num_frames - self.num_frames, 4), np.nan, np.float32)
        return BoxTrack(np.concatenate([self.boxes, extra], 1), self.track_names, self.source,
                        dict(self.meta))


# ----------------------------------------------------------------------------- box CSV
_CORNERS = ("x1", "y1", "x2", "y2")
_SIZED = ("x", "y", "w", "h")


def read_box_csv(path: str | os.PathLike, first_frame: int = 0) -> BoxTrack:
    """A box CSV (see the module docstring); rows of one (frame, track) given twice are an
    error naming both lines."""
    path = Path(path)
    text = read_text(path, "box CSV", missing="box file not found")
    rows = [r for r in csv.reader(io.StringIO(text))]
    if not rows:
        raise DataError(path, "empty box CSV")
    head = [h.strip().lower() for h in rows[0]]
    col = {h: i for i, h in enumerate(head)}
    if "frame" not in col:
        raise DataError(path, f"line 1: box CSV needs a 'frame' column (header {rows[0]}); "
                              "expected frame,track,x,y,w,h or frame,track,x1,y1,x2,y2")
    if all(k in col for k in _SIZED):
        keys, sized = _SIZED, True
    elif all(k in col for k in _CORNERS):
        keys, sized = _CORNERS, False
    else:
        raise DataError(path, f"line 1: box CSV needs columns x,y,w,h or x1,y1,x2,y2 "
                              f"(header {rows[0]})")
    entries: list[tuple[int, str, np.ndarray, int]] = []
    for n, r in enumerate(rows[1:], 2):
        if not r or all(not c.strip() for c in r):
            continue
        if len(r) < len(head):
            raise DataError(path, f"line {n}: {len(r)} fields, the header has {len(head)}")
        try:
            frame = int(float(r[col["frame"]])) - int(first_frame)
            vals = np.array([float(r[col[k]]) for k in keys], np.float64)
        except ValueError:
            raise DataError(path, f"line {n}: frame and box values must be numbers, got "
                                  f"{r}") from None
        if frame < 0:
            raise DataError(path, f"line {n}: frame {frame + first_frame} is before the first "
                                  f"frame ({first_frame}; set first_frame for 1-based files)")
        if sized:
            x, y, w, h = vals
            if w <= 0 or h <= 0:
                raise DataError(path, f"line {n}: box width and height must be positive, "
                                      f"got w={w:g} h={h:g}")
            vals = np.array([x, y, x + w, y + h])
        elif vals[2] <= vals[0] or vals[3] <= vals[1]:
            raise DataError(path, f"line {n}: x2 must be > x1 and y2 > y1, got {vals.tolist()}")
        track = r[col["track"]].strip() if "track" in col else "agent0"
        entries.append((frame, track or "agent0", vals, n))
    if not entries:
        raise DataError(path, "box CSV has no boxes")
    names = list(dict.fromkeys(e[1] for e in entries))
    slot = {k: i for i, k in enumerate(names)}
    T = max(e[0] for e in entries) + 1
    boxes = np.full((len(names), T, 4), np.nan, np.float32)
    seen: dict[tuple[int, str], int] = {}
    for frame, track, vals, n in entries:
        if (frame, track) in seen:
            raise DataError(path, f"line {n}: frame {frame + first_frame} of track {track!r} "
                                  f"already has a box (line {seen[frame, track]})")
        seen[frame, track] = n
        boxes[slot[track], frame] = vals
    return BoxTrack(boxes, names, str(path), {"format": "csv"})


def write_box_csv(path: str | os.PathLike, track: BoxTrack) -> None:
    """Write ``track`` as ``frame,track,x,y,w,h`` (present boxes only), atomically."""
    from ..fsutil import atomic_write_text

    lines = ["frame,track,x,y,w,h"]
    for t in range(track.num_frames):
        for m, name in enumerate(track.track_names):
            b = track.boxes[m, t]
            if np.isfinite(b).all():
                lines.append(f"{t},{name},{b[0]:.2f},{b[1]:.2f},{b[2] - b[0]:.2f},"
                             f"{b[3] - b[1]:.2f}")
    atomic_write_text(path, "\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- from keypoints
def boxes_from_keypoints(keypoints: np.ndarray, padding: float = 0.25, min_size: float = 16.0,
                         square: bool = True, smooth: int = 1,
                         min_points: int = 2) -> np.ndarray:
    """``(M, T, V, 2)`` keypoints (NaN = missing) -> ``(M, T, 4)`` boxes (NaN where fewer than
    ``min_points`` points are known). See the module docstring for padding and squaring."""
    kp = np.asarray(keypoints, np.float64)
    ok = np.isfinite(kp).all(-1)
    with np.errstate(invalid="ignore"), _quiet():
        lo = np.nanmin(np.where(ok[..., None], kp, np.nan), axis=2)
        hi = np.nanmax(np.where(ok[..., None], kp, np.nan), axis=2)
    enough = ok.sum(-1) >= int(min_points)
    centre, size = (lo + hi) / 2, hi - lo
    side = np.maximum(size.max(-1) * (1 + 2 * float(padding)), float(min_size))
    if square:
        half = np.stack([side, side], -1) / 2
    else:
        half = np.maximum(size * (1 + 2 * float(padding)), float(min_size)) / 2
    if smooth > 1:
        centre, half = _smooth(centre, enough, smooth), _smooth(half, enough, smooth)
    out = np.concatenate([centre - half, centre + half], -1)
    out[~enough] = np.nan
    return out.astype(np.float32)


class _quiet:
    """Silence numpy's all-NaN slice warnings for frames without points."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def _smooth(x: np.ndarray, ok: np.ndarray, k: int) -> np.ndarray:
    """Moving average over ``k`` frames of the present values of ``(M, T, C)``."""
    w = np.where(ok[..., None], 1.0, 0.0)
    v = np.where(ok[..., None], x, 0.0)
    kern = np.ones(int(k)) / int(k)
    def conv(a):
        return np.apply_along_axis(lambda s: np.convolve(s, kern, mode="same"), 1, a)
    den = conv(w)
    return np.where(den > 0, conv(v) / np.maximum(den, 1e-12), x)


def read_boxes(path: str | os.PathLike, padding: float = 0.25, min_size: float = 16.0,
               square: bool = True, smooth: int = 1, first_frame: int = 0) -> BoxTrack:
    """Boxes from a box CSV, or around the tracks of a keypoint file (SLEAP ``.slp`` /
    analysis ``.h5``, DeepLabCut CSV/H5, COCO/AlphaPose JSON), identities kept."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "box/track file not found")
    if path.suffix.lower() == ".csv":
        first = path.read_text(encoding="utf-8-sig", errors="replace").split(",", 1)[0].strip()
        if first != "scorer":  # a DeepLabCut CSV starts with 'scorer'
            return read_box_csv(path, first_frame=first_frame)
    from .keypoints import read_keypoints

    kps = read_keypoints(path)
    if kps.num_persons == 0:
        raise DataError(path, "the track file holds no instances")
    boxes = boxes_from_keypoints(kps.keypoints, padding, min_size, square, smooth)
    names = kps.track_names or [f"agent{m}" for m in range(kps.num_persons)]
    return BoxTrack(boxes, list(names), str(path),
                    {"format": "keypoints", "keypoints": kps, "padding": padding})


# ----------------------------------------------------------------------------- checks
def check_frames(track: BoxTrack, num_frames: int, video: str | os.PathLike) -> BoxTrack:
    """The track over exactly ``num_frames`` frames: boxes listed for frames past the video are
    an error naming the file, the video and both counts."""
    present = track.present()
    last = int(np.flatnonzero(present.any(0)).max()) if present.any() else -1
    if last >= num_frames:
        raise DataError(track.source, f"has boxes up to frame {last} but the video {video} has "
                                      f"{num_frames} frames (0..{num_frames - 1}): is it the "
                                      "track file of another video?")
    return BoxTrack(track.padded_to(num_frames).boxes[:, :num_frames], track.track_names,
                    track.source, dict(track.meta))


def drop_outside(track: BoxTrack, width: int, height: int) -> tuple[BoxTrack, int]:
    """Drop boxes that lie wholly outside a ``width x height`` frame; returns the track and
    how many were dropped. Boxes partly outside stay (their crop is padded with black)."""
    b = track.boxes
    out = (b[..., 2] < -0.5) | (b[..., 0] > width - 0.5) | (b[..., 3] < -0.5) | \
        (b[..., 1] > height - 0.5)
    out &= np.isfinite(b).all(-1)
    n = int(out.sum())
    if not n:
        return track, 0
    boxes = b.copy()
    boxes[out] = np.nan
    return BoxTrack(boxes, track.track_names, track.source, dict(track.meta)), n
