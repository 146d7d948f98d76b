"""``motionscope stimuli``: render BMP conditions from a source folder into the MP layout.

Output (``out/``), one folder per condition, each readable as a video dataset on its own::

    out/<COND>/videos/AXXX/<prefix><name>_rgb.mp4     one H.264 clip per sample
    out/<COND>/splits/test_videos.csv                 "AXXX/<prefix><name>_rgb.mp4,<label>"
    out/stimuli.json                                  settings, counts, failures, notes
    out/previews/<COND>.gif|mp4, all.gif|mp4          with --preview

``<prefix>`` is ``AlphaPose_`` for the joint and SP conditions, as in the official lists.
Every sample is one job (its pose and video are read once for all its conditions); jobs run
in worker processes, each clip is written atomically, random draws (shuffles, SP dot
positions) come from generators keyed by (seed, sample, condition), so the output does not
depend on the number of workers, and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import zlib
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError, MotionscopeError
from ..fsutil import atomic_path, atomic_write_text
from ..io.paths import resolve_under
from ..parallel import imap_jobs, zip_sizes
from ..progress import progress as progress_bar
from .conditions import (
    CONDITIONS,
    Condition,
    condition_indices,
    parse_conditions,
    replication_indices,
    sample_indices,
    view_of,
)
from .encode import write_gray_mp4, write_rgb_mp4
from .halpe import Pose
from .render import (
    DEFAULT_THRESHOLD,
    dot_radius,
    draw_dots_sparse,
    joint_dots,
    scale_points,
    sp_dots,
)
from .sources import SampleSource, discover, load_pose, load_video

__all__ = ["generate_stimuli", "render_condition", "condition_rng", "STIMULI_JSON",
           "list_path", "video_root", "missing_message"]

STIMULI_JSON = "stimuli.json"
_STATE = ".stimuli-config.json"
SPLIT = "test"


def video_root(cond: str) -> str:
    """A condition's clip folder, relative to the stimuli folder."""
    return f"{cond}/videos"


def list_path(cond: str) -> str:
    """A condition's ``path,label`` list, relative to the stimuli folder."""
    return f"{cond}/splits/{SPLIT}_videos.csv"


def condition_rng(seed: int, key: str, cond: str) -> np.random.Generator:
    """The generator of one (sample, condition): independent of order and worker count."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(key.encode()),
                                  zlib.crc32(cond.encode())])


# ----------------------------------------------------------------------------- rendering
def _even(size: tuple[int, int]) -> tuple[int, int]:
    return (int(size[0]) // 2 * 2, int(size[1]) // 2 * 2)


def render_condition(cond: Condition | str, pose: Pose, *, frames: int | None = 32,
                     size: tuple[int, int] | None = None, threshold: float = DEFAULT_THRESHOLD,
                     radius: float | None = None, antialias: bool | None = None,
                     rng: np.random.Generator | None = None, sparse: bool = False
                     ) -> tuple[np.ndarray, float, list]:
    """Render a joint or SP condition from ``pose``: ``(frames (T, H, W) uint8, fps, notes)``
    (``sparse=True``: the frames as a :class:`~motionscope.stimuli.render.SparseClip`).

    Joint conditions drop the frames in which nobody is detected (the official stimuli have no
    such frames), then take the condition's frame indices over what is left. SP conditions
    first take the 32-frame input video (the official README asks for 32-frame inputs so that
    the lifetime is not changed by later sampling), count lifetime windows over its frames,
    drop the frames without a person and replicate back to 32 frames with the test-time rule.
    """
    cond = CONDITIONS[cond] if isinstance(cond, str) else cond
    if cond.kind == "rgb":
        raise ValueError("render_condition draws point-light conditions; RGB clips come from "
                         "the source video")
    size = tuple(size or pose.image_size)
    r = dot_radius(size[0], radius)
    aa = (r < 2.5 or size != tuple(pose.image_size)) if antialias is None else bool(antialias)
    rng = rng if rng is not None else np.random.default_rng(0)
    notes: list[str] = []
    T = pose.num_frames
    if cond.kind == "joints":
        kept = np.flatnonzero(pose.detected(0.0))
        if kept.size == 0:
            raise DataError(None, "no person is detected in any frame")
        if kept.size < T:
            notes.append("frames without a detected person dropped")
        idx = condition_indices(cond, len(kept), frames, rng)
        p = pose.select(kept[idx])
        xy, alpha = joint_dots(p, cond.points, threshold)
        clip = draw_dots_sparse(scale_points(xy, pose.image_size, size), alpha, size, r, aa)
        return (clip if sparse else clip.dense()), pose.fps * len(idx) / len(kept), notes
    base = sample_indices(T, frames)
    sub = pose.select(base)
    if frames is not None:
        sub.frame_ids = np.arange(len(base))  # frame numbers of the 32-frame input video
    elif cond.lifetime > 1 and T != 32:
        notes.append("SP lifetime counted on the source frames (not a 32-frame video)")
    keep = np.flatnonzero(sub.detected(0.0))
    if keep.size == 0:
        raise DataError(None, "no person is detected in any frame")
    if keep.size < cond.lifetime:
        notes.append("clip shorter than the SP lifetime: dots never move along the limbs")
    sub = sub.select(keep)
    xy, alpha = sp_dots(sub, cond.limbs, cond.lifetime, rng, threshold, integer=not aa)
    clip = draw_dots_sparse(scale_points(xy, pose.image_size, size), alpha, size, r, aa)
    if frames is not None and keep.size < len(base):
        notes.append("frames without a detected person dropped, then replicated to "
                     f"{frames} frames")
        clip = clip.take(replication_indices(keep.size, frames))
    return (clip if sparse else clip.dense()), pose.fps * len(base) / T, notes


def _link_or_copy(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def _make_sample(job) -> dict:
    """Worker: every requested condition of one sample; returns what happened to each."""
    root, cfg, s, names = job
    root = Path(root)
    res: dict = {"key": s.key, "label": s.label, "results": {}, "notes": []}
    view = view_of(s.camera, s.replication)
    size_cfg = tuple(cfg["size"]) if cfg["size"] else None
    state: dict = {}

    def pose():
        if "pose" not in state:
            try:
                state["pose"] = load_pose(s)
            except MotionscopeError as e:
                state["pose"] = e
        if isinstance(state["pose"], Exception):
            raise state["pose"]
        return state["pose"]

    def video():
        if "video" not in state:
            try:
                state["video"] = load_video(s, size_cfg)
            except MotionscopeError as e:
                state["video"] = e
        if isinstance(state["video"], Exception):
            raise state["video"]
        return state["video"]

    for name in names:
        cond = CONDITIONS[name]
        if cond.view is not None and view != cond.view:
            continue  # another camera view: not part of this subset
        rel = s.rel_for(cond)
        # never outside out/<COND>/videos (nor an outside file taken for a cached clip)
        path = resolve_under(root / video_root(name), rel,
                             source=s.meta.get("list"), line=s.meta.get("line"))
        if path.exists():
            res["results"][name] = {"rel": rel, "cached": True}
            continue
        rng = condition_rng(cfg["seed"], s.key, name)
        try:
            if cond.kind == "rgb":
                frames, fps = video()
                idx = condition_indices(cond, len(frames), cfg["frames"], rng)
                original = cond.temporal is None and np.array_equal(idx, np.arange(len(frames)))
                if original and size_cfg is None and s.video.lower().endswith(".mp4"):
                    _link_or_copy(Path(s.video), path)  # the original test video itself
                else:
                    write_rgb_mp4(path, frames[idx], fps * len(idx) / len(frames),
                                  qp=cfg["qp"], preset=cfg["preset"])
                res["results"][name] = {"rel": rel, "frames": int(len(idx))}
                continue
            six = root / video_root("J-6P") / s.rel_for(CONDITIONS["J-6P"])
            if cond.view is not None and six.exists():
                _link_or_copy(six, path)  # the view subsets partition J-6P: same clips
                res["results"][name] = {"rel": rel, "linked": "J-6P"}
                continue
            p = pose()
            size = size_cfg or _even(p.image_size)
            gray, fps, notes = render_condition(
                cond, p, frames=cfg["frames"], size=size, threshold=cfg["threshold"],
                radius=cfg["radius"], antialias=cfg["antialias"], rng=rng, sparse=True)
            write_gray_mp4(path, gray, fps, qp=cfg["qp"], preset=cfg["preset"])
            res["results"][name] = {"rel": rel, "frames": int(len(gray))}
            res["notes"] += [f"{name}: {n}" for n in notes]
        except MotionscopeError as e:
            res["results"][name] = {"error": str(e)}
    if "pose" in state and not isinstance(state["pose"], Exception):
        res["notes"] += state["pose"].notes
    return res


# ----------------------------------------------------------------------------- driver


def _check_state(root: Path, cfg: dict) -> Path | None:
    done = root / STIMULI_JSON
    state = root / _STATE
    for f in (done, state):
        if not f.is_file():
            continue
        try:
            old = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        old = old.get("config", old)
        if old != cfg:
            diff = [k for k in sorted(set(old) | set(cfg)) if old.get(k) != cfg.get(k)]
            raise DataError(f, "this folder holds stimuli made with other settings ("
                               + ", ".join(f"{k}: {old.get(k)!r} -> {cfg.get(k)!r}"
                                           for k in diff[:4])
                               + "); use another output folder or delete this one")
        if f == done:
            return done
    return None


def generate_stimuli(source: str | os.PathLike, out: str | os.PathLike,
                     conditions: str | list[str] = "all", *, list_path: str | None = None,
                     split: str | None = None, labels: str = "auto", pose: str = "auto",
                     frames: int | None = 32, size: tuple[int, int] | None = None,
                     seed: int = 0, workers: int = 1, threshold: float = DEFAULT_THRESHOLD,
                     radius: float | None = None, antialias: bool | None = None,
                     qp: int = 18, preset: str = "ultrafast", preview: str | None = None,
                     limit: int | None = None, progress: bool = True,
                     strict: bool = False) -> Path:
    """Render the BMP ``conditions`` of every sample of ``source`` into ``out``; returns the
    path of ``stimuli.json`` (see the module docstring for the layout).

    ``source``: an embedded world, an NTU RGB+D root or a folder of keypoint files (see
    :func:`motionscope.stimuli.sources.discover`); ``list_path``: a ``path,label`` split list
    that selects and labels the samples (the official ``Protocols/test_RGB.csv``); ``split``:
    the world split (default ``test``); ``frames``: clip length (32; None keeps the source
    length); ``size``: output ``(H, W)`` (default: the source frame size); ``threshold``:
    keypoint visibility threshold; ``radius``: dot radius in pixels (default 5/1080 of the
    frame height); ``antialias``: None chooses (see :mod:`.render`); ``qp``: H.264 constant
    quantiser (0 = lossless); ``preview``: ``gif`` or ``mp4``; ``strict``: raise on the first
    sample that fails instead of recording it.
    """
    t0 = time.time()
    conds = parse_conditions(conditions)
    if frames is not None and int(frames) < 1:
        raise ConfigError(f"frames must be >= 1 (or None to keep the source length), got {frames}")
    if size is not None:
        size = (int(size[0]), int(size[1]))
        if size[0] < 16 or size[1] < 16 or size[0] % 2 or size[1] % 2:
            raise ConfigError(f"size must be even and >= 16 (H.264 4:2:0), got {size[0]}x{size[1]}")
    if not 0.0 <= float(threshold) < 1.0:
        raise ConfigError(f"threshold must be in [0, 1), got {threshold}")
    if preview not in (None, "gif", "mp4"):
        raise ConfigError(f"preview must be 'gif' or 'mp4', got {preview!r}")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    samples, info = discover(source, list_path, split, labels, pose)
    if limit is not None:
        samples = samples[: int(limit)]
    if not samples:
        raise DataError(source, "no sample found (expected an embedded world, NTU .skeleton "
                                "files, keypoint files or videos"
                        + (f" matching {list_path}" if list_path else "") + ")")
    need_pose = any(c.kind != "rgb" for c in conds)
    if need_pose and not any(s.pose for s in samples):
        raise DataError(source, "the joint/SP conditions need skeleton or keypoint files and "
                                "none was found")
    if any(c.kind == "rgb" for c in conds) and not any(s.video for s in samples):
        raise DataError(source, "the RGB conditions need videos and none was found")
    cfg = {"conditions": [c.name for c in conds], "frames": None if frames is None else int(frames),
           "size": list(size) if size else None, "seed": int(seed), "threshold": float(threshold),
           "radius": None if radius is None else float(radius),
           "antialias": None if antialias is None else bool(antialias), "qp": int(qp),
           "preset": str(preset), "pose": pose, "split": split, "labels": labels,
           "list": None if list_path is None else os.path.abspath(list_path),
           "source": os.path.abspath(source), "limit": limit}
    root = Path(out)
    done = _check_state(root, cfg)
    if done is not None and not preview:
        return done
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / _STATE, json.dumps(cfg, sort_keys=True))
    names = [c.name for c in conds]
    jobs = [(str(root), cfg, s, names) for s in samples]

    def clips_per_job(job) -> int:
        v = view_of(job[2].camera, job[2].replication)
        return sum(1 for c in conds if c.view is None or c.view == v)

    results: list[dict] = []
    with progress_bar(total=sum(clips_per_job(j) for j in jobs), desc="stimuli", unit="clip",
                      enabled=progress) as bar:
        for r in zip_sizes(imap_jobs(_make_sample, jobs, int(workers)),
                           map(clips_per_job, jobs), bar):
            results.append(r)
            if strict:
                bad = [(c, v["error"]) for c, v in r["results"].items() if "error" in v]
                if bad:
                    raise DataError(None, f"sample {r['key']}, {bad[0][0]}: {bad[0][1]}")
    manifest = _summarise(root, cfg, conds, samples, results, info)
    manifest["seconds"] = round(time.time() - t0, 2)
    if preview:
        from .preview import write_previews

        manifest["previews"] = write_previews(root, manifest, preview)
    atomic_write_text(root / STIMULI_JSON, json.dumps(manifest, indent=1) + "\n")
    (root / _STATE).unlink(missing_ok=True)
    return root / STIMULI_JSON


def missing_message(manifest: dict, shown: int = 10) -> str | None:
    """One console line naming the listed samples that the source does not have (the first
    ``shown`` and how many more), or None when every listed sample was found."""
    src = manifest.get("source") or {}
    n = int(src.get("missing_from_source") or 0)
    if not n:
        return None
    names = list(src.get("missing_examples") or [])[:shown]
    more = n - len(names)
    where = f" of {src['list']}" if src.get("list") else ""
    return (f"{n} listed sample{'s' if n != 1 else ''}{where} not in the source "
            f"{src.get('path')}: {', '.join(names)}" + (f" and {more} more" if more > 0 else ""))


def _summarise(root: Path, cfg: dict, conds: list[Condition], samples: list[SampleSource],
               results: list[dict], info: dict) -> dict:
    from ..io.splits import write_video_csv

    notes: dict[str, int] = {}
    for r in results:
        for n in dict.fromkeys(r["notes"]):
            notes[n] = notes.get(n, 0) + 1
    per: dict = {}
    for c in conds:
        rows, failed = [], []
        for r in results:
            v = r["results"].get(c.name)
            if v is None:
                continue
            if "error" in v:
                failed.append({"sample": r["key"], "error": v["error"]})
            else:
                rows.append((v["rel"], r["label"]))
        write_video_csv(root / list_path(c.name), rows)
        per[c.name] = {"group": c.group, "kind": c.kind, "root": video_root(c.name),
                       "list": list_path(c.name), "clips": len(rows), "failed": failed}
    missing = info.get("missing", [])
    return {
        "format": "motionscope-stimuli", "version": 1, "config": cfg,
        "source": {k: v for k, v in info.items() if k != "missing"} | {
            "missing_from_source": len(missing), "missing_examples": missing[:20]},
        "classes": info.get("classes"),
        "split": SPLIT,
        "samples": len(samples),
        "conditions": per,
        "notes": notes,
    }
