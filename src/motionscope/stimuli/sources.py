"""Where stimuli come from: the embedded world, NTU RGB+D, any 2D keypoint file, plus videos.

:func:`discover` turns a source folder (and optionally a split list) into :class:`SampleSource`
entries; :func:`load_pose` and :func:`load_video` read one of them. Three kinds of folder:

* an **embedded world** (``manifest.json`` of ``motionscope synth``): exact Halpe-26 joints
  (``joints/<name>.npz``; ``pose="keypoints"`` uses its AlphaPose-style JSON with detector
  noise instead, ``pose="skeleton"`` its NTU files) and its mp4 videos; the test split by
  default, as BMP is made from test videos.
* an **NTU RGB+D root**: ``.skeleton`` files (``nturgb+d_skeletons/``) and RGB videos
  (``nturgb+d_rgb/*_rgb.avi``) anywhere below it, matched by sample name; AlphaPose JSON files
  named after the sample (``<name>*.json`` or ``<name>/alphapose-results.json``) are used
  instead of the Kinect skeleton when present, as the official stimuli were AlphaPose's.
* any folder of **keypoint files** the io layer reads (AlphaPose / COCO JSON, DeepLabCut
  CSV/H5, SLEAP .slp/.h5), with videos of the same stem when present.

A split list (``path,label`` lines such as the official ``Protocols/test_RGB.csv``) selects the
samples, gives their labels and the output paths, and is read as it is (``AXXX/<name>_rgb.mp4``
and ``AlphaPose_`` prefixes are understood). Its paths are output paths below each condition's
``videos/`` folder: an absolute path or one with ``..`` that leaves it is refused
(:mod:`motionscope.io.paths`), as is a world manifest path that leaves the world.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..io.paths import check_relative
from .conditions import BMP_ACTIONS, Condition
from .halpe import Pose, from_keypoint_set, from_ntu_skeleton, from_world_npz

__all__ = ["SampleSource", "discover", "load_pose", "load_video", "sample_key",
           "BMP_CLASS_NAMES", "NTU_FRAME_SIZE", "NTU_FPS"]

#: BMP class names, label order (specs/mp.md 13.1)
BMP_CLASS_NAMES = ("pick up", "throw", "sit down", "stand up", "kick something", "jump up",
                   "point to something", "nod head/bow", "falling", "arm circles")
#: NTU RGB+D colour frames (H, W) and frame rate
NTU_FRAME_SIZE = (1080, 1920)
NTU_FPS = 30.0

_VIDEO_EXT = {".mp4", ".avi", ".mkv", ".mov", ".webm"}
_KP_EXT = {".json", ".csv", ".h5", ".hdf5", ".slp"}
_NTU_RE = re.compile(r"S\d{3}C\d{3}P\d{3}R\d{3}A\d{3}")
_SKIP_JSON = {"manifest.json", "stimuli.json", "classes.json"}


@dataclass
class SampleSource:
    """One sample: its name, label, output path and the files it is made from."""

    key: str
    label: int
    rel: str  # output path of its RGB clip below a condition's video root (AXXX/<name>_rgb.mp4)
    pose: str | None = None
    pose_kind: str | None = None  # world | skeleton | keypoints
    video: str | None = None
    camera: int | None = None
    replication: int | None = None
    fps: float | None = None
    image_size: tuple[int, int] | None = None
    meta: dict = field(default_factory=dict)

    def rel_for(self, cond: Condition) -> str:
        """Output path for ``cond``: the official names prefix J and SP files with
        ``AlphaPose_`` (``A024/AlphaPose_S007C002P001R002A024_rgb.mp4``)."""
        head, tail = os.path.split(self.rel)
        return os.path.join(head, cond.output_prefix + tail) if head else (
            cond.output_prefix + tail)


def sample_key(path: str | os.PathLike) -> str:
    """The sample a file belongs to: its NTU name when it has one, else its stem without the
    suffixes pose tools add (``x.mp4.labels.slp``, ``xDLC_resnet50...csv``, ``AlphaPose_x``,
    ``x/alphapose-results.json`` -> ``x``)."""
    p = Path(path)
    m = _NTU_RE.search(p.name)
    if m:
        return m.group(0)
    stem = p.name
    while True:
        base, ext = os.path.splitext(stem)
        if ext.lower() in _VIDEO_EXT | _KP_EXT | {".labels", ".predictions", ".analysis"}:
            stem = base
        else:
            break
    if "DLC_" in stem:
        stem = stem[: stem.index("DLC_")]
    if stem.lower() in ("alphapose-results", "results", "keypoints", "alphapose_results"):
        parent = p.parent.name
        m = _NTU_RE.search(parent)
        stem = m.group(0) if m else parent
    if stem.startswith("AlphaPose_"):
        stem = stem[len("AlphaPose_"):]
    if stem.endswith("_rgb"):
        stem = stem[: -len("_rgb")]
    return stem


def _ntu_ids(key: str) -> dict | None:
    m = _NTU_RE.fullmatch(key)
    if not m:
        return None
    s = key
    return {"setup": int(s[1:4]), "camera": int(s[5:8]), "performer": int(s[9:12]),
            "replication": int(s[13:16]), "action": int(s[17:20])}


def _is_dlc_csv(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline().lower().startswith("scorer")
    except OSError:
        return False


# ----------------------------------------------------------------------------- discovery
def _world_samples(root: Path, manifest: dict, split: str | None, pose: str) -> list:
    man = root / "manifest.json"
    clips = manifest.get("clips") or []
    for i, c in enumerate(clips):  # every file the manifest names stays inside the world
        for k, v in (c.get("paths") or {}).items():
            if v:
                check_relative(v, source=man, line=f"clips[{i}].paths.{k}", root=root)
    if split is None:
        split = "test" if any(c.get("split") == "test" for c in clips) else "all"
    if split != "all":
        clips = [c for c in clips if c.get("split") == split]
    cfg = manifest.get("config", {})
    size = tuple(int(v) for v in cfg.get("size", (224, 224)))
    fps = float(manifest.get("fps") or cfg.get("frames", 32) / cfg.get("duration", 3.2))
    out = []
    for c in clips:
        paths = c.get("paths", {})
        kind, p = "world", paths.get("joints")
        if pose == "keypoints" and paths.get("keypoints"):
            kind, p = "keypoints", paths["keypoints"]
        elif pose == "skeleton" and paths.get("skeleton"):
            kind, p = "skeleton", paths["skeleton"]
        video = paths.get("video")
        rel = video[len("videos/"):] if video and video.startswith("videos/") else (
            f"A{int(c.get('action', 0)):03d}/{c['name']}_rgb.mp4")
        out.append(SampleSource(
            key=c["name"], label=int(c["label"]), rel=rel, pose=str(root / p) if p else None,
            pose_kind=kind if p else None, video=str(root / video) if video else None,
            camera=c.get("camera"), replication=c.get("replication"), fps=fps,
            image_size=size, meta={"split": c.get("split")}))
    return out


def _scan(root: Path, pose: str) -> dict[str, dict]:
    """key -> {"skeleton": path, "keypoints": path, "video": path} for files below ``root``."""
    found: dict[str, dict] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if fn.startswith("."):
                continue
            p = Path(dirpath) / fn
            ext = p.suffix.lower()
            kind = None
            if ext == ".skeleton":
                kind = "skeleton"
            elif ext in _VIDEO_EXT:
                kind = "video"
            elif ext in _KP_EXT and fn not in _SKIP_JSON and "splits" not in p.parts:
                if ext == ".csv" and not _is_dlc_csv(p):
                    continue
                kind = "keypoints"
            if kind is None:
                continue
            entry = found.setdefault(sample_key(p), {})
            entry.setdefault(kind, str(p))
    return found


def _labels_for(keys: list[str], entries: dict, root: Path, labels: str) -> tuple[dict, list]:
    """key -> label, and the class names, for samples without a split list."""
    ids = {k: _ntu_ids(k) for k in keys}
    if labels not in ("auto", "bmp10", "ntu", "folder"):
        raise ConfigError(f"labels={labels!r}: choose auto, bmp10, ntu or folder")
    ntu_keys = [k for k in keys if ids[k]]
    mode = labels
    if labels == "auto":
        if ntu_keys and len(ntu_keys) == len(keys):
            mode = "bmp10" if all(ids[k]["action"] in BMP_ACTIONS for k in keys) else "ntu"
        else:
            mode = "folder"
    if mode == "bmp10":
        return ({k: BMP_ACTIONS.index(ids[k]["action"]) for k in keys
                 if ids[k] and ids[k]["action"] in BMP_ACTIONS}, list(BMP_CLASS_NAMES))
    if mode == "ntu":
        return {k: ids[k]["action"] - 1 for k in keys if ids[k]}, None
    folders = {}
    for k in keys:
        e = entries[k]
        p = Path(e.get("keypoints") or e.get("skeleton") or e.get("video"))
        rel = p.parent.relative_to(root) if p.parent != root else Path(".")
        folders[k] = rel.parts[0] if rel.parts else ""
    names = sorted(set(folders.values()))
    return {k: names.index(folders[k]) for k in keys}, names


def _pick_pose(entry: dict, pose: str) -> tuple[str | None, str | None]:
    order = {"auto": ("keypoints", "skeleton"), "keypoints": ("keypoints",),
             "skeleton": ("skeleton",)}.get(pose)
    if order is None:
        raise ConfigError(f"pose={pose!r}: choose auto, keypoints or skeleton")
    for k in order:
        if entry.get(k):
            return entry[k], k
    return None, None


def _read_list(path: str | os.PathLike) -> list[tuple[str, int, str, int]]:
    """(key, label, rel, line number) of each line of a ``path,label`` split list."""
    from ..io.splits import read_video_csv

    out = []
    for s in read_video_csv(path):
        rel = s.path.replace("\\", "/")
        # the listed path is the output path below out/<COND>/videos: it may not leave it
        check_relative(rel, source=path, line=s.meta["line"], root="the condition's videos/")
        head, tail = os.path.split(rel)
        if tail.startswith("AlphaPose_"):
            tail = tail[len("AlphaPose_"):]
        tail = os.path.splitext(tail)[0] + ".mp4"
        out.append((sample_key(tail), int(s.label), f"{head}/{tail}" if head else tail,
                    s.meta["line"]))
    return out


def discover(source: str | os.PathLike, list_path: str | os.PathLike | None = None,
             split: str | None = None, labels: str = "auto", pose: str = "auto"
             ) -> tuple[list[SampleSource], dict]:
    """The samples of ``source`` (see module docstring), optionally selected and labelled by
    the split list ``list_path``; returns ``(samples, info)`` where ``info`` says what kind of
    source it is, the class names when known and the listed samples that were not found."""
    root = Path(source)
    if not root.is_dir():
        raise DataError(root, "stimulus source folder not found")
    info: dict = {"path": str(root), "missing": []}
    man = root / "manifest.json"
    world = None
    if man.is_file():
        try:
            world = json.loads(man.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise DataError(man, f"unreadable manifest ({e})") from None
        if world.get("format") != "motionscope-world":
            world = None
    if world is not None:
        samples = _world_samples(root, world, "all" if list_path else split, pose)
        info.update(kind="world", classes=[c["name"] for c in world.get("classes", [])])
    else:
        found = _scan(root, pose)
        keys = sorted(found)
        if list_path is None:
            lab, classes = _labels_for(keys, found, root, labels)
        else:
            lab, classes = {k: 0 for k in keys}, None
        samples = []
        for k in keys:
            if k not in lab:
                continue
            e = found[k]
            p, kind = _pick_pose(e, pose)
            if p is None and not e.get("video"):
                continue
            ids = _ntu_ids(k)
            if ids:
                rel = f"A{ids['action']:03d}/{k}_rgb.mp4"
            else:
                anchor = Path(p or e["video"])
                parent = anchor.parent.relative_to(root)
                rel = (parent / f"{k}.mp4").as_posix()
            samples.append(SampleSource(
                key=k, label=lab[k], rel=rel, pose=p, pose_kind=kind, video=e.get("video"),
                camera=ids["camera"] if ids else None,
                replication=ids["replication"] if ids else None))
        kinds = sorted({s.pose_kind for s in samples if s.pose_kind})
        info.update(kind="+".join(kinds) or "videos", classes=classes)
    if list_path is not None:
        listed = _read_list(list_path)
        by_key = {s.key: s for s in samples}
        chosen = []
        for key, label, rel, line in listed:
            s = by_key.get(key)
            if s is None:
                info["missing"].append(key)
                continue
            s.label, s.rel = label, rel
            s.meta.update(list=str(list_path), line=line)
            chosen.append(s)
        samples = chosen
        info["list"] = str(list_path)
        if world is None and info.get("classes") is None and all(
                _ntu_ids(k) for k, *_ in listed) and {
                _ntu_ids(k)["action"] for k, *_ in listed} <= set(BMP_ACTIONS):
            info["classes"] = list(BMP_CLASS_NAMES)
    info["samples"] = len(samples)
    return samples, info


# ----------------------------------------------------------------------------- loading
def _video_meta(path: str) -> tuple[tuple[int, int], float]:
    from ..io.video import video_info

    vi = video_info(path)
    return (vi.height, vi.width), vi.fps


def load_pose(s: SampleSource) -> Pose:
    """The sample's Halpe-26 :class:`Pose` (frame size and rate from the sample, its video,
    or NTU's 1920x1080 at 30 fps for NTU-named samples)."""
    if s.pose is None:
        raise DataError(None, f"sample {s.key}: no skeleton or keypoint file found")
    size, fps = s.image_size, s.fps
    if (size is None or fps is None) and s.video:
        vsize, vfps = _video_meta(s.video)
        size, fps = size or vsize, fps or vfps
    if _ntu_ids(s.key):
        size, fps = size or NTU_FRAME_SIZE, fps or NTU_FPS
    fps = fps or NTU_FPS
    if s.pose_kind == "world":  # the manifest's size and rate: no extra reads from the npz
        return from_world_npz(s.pose, size=s.image_size, fps=s.fps)
    if s.pose_kind == "skeleton":
        from ..io.ntu import read_skeleton

        skel = read_skeleton(s.pose)
        skel.name = s.pose
        return from_ntu_skeleton(skel, size or NTU_FRAME_SIZE, fps)
    from ..io.keypoints import read_keypoints

    kps = read_keypoints(s.pose)
    pose = from_keypoint_set(kps, size, fps, path=s.pose)
    if kps.frame_names:
        pose.frame_ids = _frame_numbers(kps.frame_names)
    return pose


def _frame_numbers(names: list[str]) -> np.ndarray:
    """Frame numbers parsed from image names as the official SP renderer does (first digit
    run of the name); falls back to positions when names carry no distinct numbers."""
    nums = []
    for n in names:
        m = re.search(r"(\d+)", n or "")
        nums.append(int(m.group(1)) if m else -1)
    arr = np.asarray(nums, np.int64)
    if (arr < 0).any() or len(np.unique(arr)) != len(arr) or (np.diff(arr) <= 0).any():
        return np.arange(len(names), dtype=np.int64)
    return arr


def load_video(s: SampleSource, size: tuple[int, int] | None = None
               ) -> tuple[np.ndarray, float]:
    """All frames of the sample's video as ``(T, H, W, 3)`` uint8 RGB (resized to ``size``
    while decoding) and its frame rate."""
    if s.video is None:
        raise DataError(None, f"sample {s.key}: no video found for the RGB conditions")
    from ..io.video import VideoReader

    with VideoReader(s.video, size=size) as r:
        fps = r.info.fps or s.fps or NTU_FPS
        frames = list(r.iter_frames())
    if not frames:
        raise DataError(s.video, "the video has no decodable frame")
    return np.stack(frames), float(fps)
