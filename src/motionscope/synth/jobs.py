"""Generate the embedded world on disk, in the formats users already have.

``generate_world(out)`` plans NTU-style recordings (:func:`.camera.plan_world`), renders each
clip in a worker and writes it through the io writers: NTU ``.skeleton`` files, mp4 videos with
``path,label`` CSVs, rawframe folders with ``dir num_frames label`` lists, masked and full depth
PNG folders, AlphaPose-style Halpe-26 JSON, exact joints (``.npz``), silhouettes, and a
single-agent fixed-camera behaviour layout for keypoint discovery. ``manifest.json`` is written
last; it is what makes a folder a finished world.

Determinism: every clip draws from generators keyed by (seed, its ids) only, and every writer is
deterministic, so a seed gives byte-identical trees for any number of workers. Resumability:
each clip's files are written atomically and a done-marker follows them, so an interrupted run
picks up where it stopped; a finished world is returned at once.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..errors import ConfigError, DataError
from ..fsutil import atomic_write_text
from ..parallel import imap_jobs, zip_sizes
from ..progress import progress as progress_bar
from .actions import get_classes
from .camera import ClipPlan, plan_world
from .plan import (
    ALL_FORMATS,
    DEFAULT_FORMATS,
    WorldConfig,
    _classes_arg,
    _clip_paths,
    render_behavior,
    render_plan,
)
from .write import _manifest, _write_behavior_files, _write_clip_files, _write_lists

__all__ = ["generate_world", "MANIFEST"]

MANIFEST = "manifest.json"
_STATE = ".world-config.json"
_DONE = ".done"


# ----------------------------------------------------------------------------- workers
def _mark_done(root: Path, marker: str, entry: dict) -> dict:
    """Write a finished job's done-marker (its entry as JSON, after its files); returns the
    entry in the same form as one read back when resuming."""
    text = json.dumps(entry, sort_keys=True)
    atomic_write_text(root / _DONE / marker, text)
    return json.loads(text)


def _write_clips(args) -> list[dict]:
    """Worker: the clips of one performance (its cameras), in order; returns their entries."""
    root, cfg, plans = args
    return [_write_clip((root, cfg, plan)) for plan in plans]


def _write_clip(args) -> dict:
    """Worker: render one clip, write its formats, then its done-marker; returns its entry."""
    root, cfg, plan = args
    root = Path(root)
    motion, out, extra = render_plan(cfg, plan)
    crng = extra.pop("crng")
    joints_w = extra.pop("joints_world")
    extra.pop("performer")
    paths = _clip_paths(cfg, plan)
    _write_clip_files(root, cfg, plan, paths, out, crng, joints_w)
    entry = {"name": plan.name, "label": plan.label, "class": get_classes(cfg.classes)[
        plan.label].key, "split": plan.split, "setup": plan.setup, "camera": plan.camera,
        "performer": plan.performer, "replication": plan.replication, "action": plan.action,
        "view": plan.view, "performance": plan.performance, "frames": cfg.frames, "paths": paths,
        "motion": motion.meta, "placement": extra}
    return _mark_done(root, f"{plan.name}.json", entry)


def _behavior_video(args) -> dict:
    """Worker: one single-agent, fixed-camera video of several actions in a row, as frame
    folders plus its true 2D keypoints and per-frame labels."""
    root, cfg, split, k = args
    root = Path(root)
    name = f"video_{k:03d}"
    pid, joints, out, labels, segs = render_behavior(cfg, split, k)
    folder, kp_path = _write_behavior_files(root, cfg, split, name, out, labels)
    entry = {"name": name, "split": split, "performer": pid, "frames": int(len(joints)),
             "frames_dir": folder, "keypoints": kp_path, "segments": segs}
    return _mark_done(root, f"behavior_{name}.json", entry)


# ----------------------------------------------------------------------------- the world
def _check_existing(root: Path, cfg_dict: dict) -> Path | None:
    man = root / MANIFEST
    if man.exists():
        try:
            data = json.loads(man.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise DataError(man, f"unreadable world manifest ({e}); delete the folder to "
                                 "regenerate it") from None
        if data.get("config") == cfg_dict:
            return man
        raise DataError(man, "this folder holds a world made with other settings "
                             f"({_diff(data.get('config') or {}, cfg_dict)}); use another "
                             "output folder or delete this one")
    state = root / _STATE
    if state.exists():
        try:
            old = json.loads(state.read_text(encoding="utf-8"))
        except ValueError:
            old = None
        if old != cfg_dict:
            raise DataError(state, "an unfinished world with other settings is in this folder "
                                   f"({_diff(old or {}, cfg_dict)}); use another output "
                                   "folder or delete this one")
    return None


def _diff(a: dict, b: dict) -> str:
    keys = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys[:4]) or "unknown"


def _progress(total: int, enabled: bool, desc: str):
    return progress_bar(total=total, desc=desc, enabled=enabled, unit="clip", leave=True)


def _run_jobs(fn, jobs: list, workers: int, bar, sizes: list[int] | None = None) -> list:
    """``fn`` over ``jobs`` in order on ``workers`` processes; the bar advances by ``sizes[i]``
    (clips in job i, default 1) as each job finishes."""
    return list(zip_sizes(imap_jobs(fn, jobs, workers, chunksize=1), sizes or [1] * len(jobs),
                          bar))


def generate_world(out: str | os.PathLike, *, classes="bmp10", clips_per_class: int = 10,
                   frames: int = 32, size: tuple[int, int] = (224, 224),
                   formats=DEFAULT_FORMATS, seed: int = 0, workers: int = 1,
                   progress: bool = True, **options) -> Path:
    """Write the embedded world to ``out`` and return the path of its ``manifest.json``.

    ``formats``: any of ``rgb`` (mp4 + split CSVs), ``depth`` (masked and full 16-bit PNG
    folders), ``skeleton`` (NTU ``.skeleton``), ``keypoints`` (AlphaPose Halpe-26 JSON),
    ``rawframes`` (JPEG folders + lists), ``silhouette``, ``behavior`` (keypoint-discovery
    layout); exact joints (``joints/*.npz``) are always written. ``options`` are the other
    :class:`WorldConfig` fields (``performers``, ``setups``, ``duration``, ``distractor``,
    ``jitter``, ``crf``, ``jpeg_quality``, ``behavior_videos``, ``behavior_segments``).

    The same arguments give the same bytes for any ``workers``. A finished world in ``out`` is
    returned without work; an unfinished one with the same settings is resumed.
    """
    if isinstance(formats, str):
        formats = tuple(f.strip() for f in formats.split(",") if f.strip())
    unknown = set(options) - set(WorldConfig.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"unknown world option(s) {sorted(unknown)}; known: "
                          f"{', '.join(sorted(WorldConfig.__dataclass_fields__))}")
    if "behavior_videos" in options:
        options["behavior_videos"] = tuple(int(v) for v in options["behavior_videos"])
    cfg = WorldConfig(classes=_classes_arg(classes), clips_per_class=int(clips_per_class),
                      frames=int(frames), size=(int(size[0]), int(size[1])),
                      formats=tuple(f for f in ALL_FORMATS if f in formats) + tuple(
                          f for f in dict.fromkeys(formats) if f not in ALL_FORMATS),
                      seed=int(seed),
                      **options).validate()
    root = Path(out)
    cfg_dict = cfg.to_dict()
    done_manifest = _check_existing(root, cfg_dict)
    if done_manifest is not None:
        return done_manifest
    root.mkdir(parents=True, exist_ok=True)
    if not (root / _STATE).exists():
        atomic_write_text(root / _STATE, json.dumps(cfg_dict, sort_keys=True))
    cls = get_classes(cfg.classes)
    plans = plan_world(cls, cfg.clips_per_class, performers=cfg.performers, setups=cfg.setups)
    done_dir = root / _DONE
    entries: dict[str, dict] = {}
    for p in plans:
        f = done_dir / f"{p.name}.json"
        if f.exists():
            try:
                entries[p.name] = json.loads(f.read_text(encoding="utf-8"))
            except ValueError:
                pass
    # one job per performance: its cameras share the motion (see _shared_performance)
    groups: dict[tuple[int, int], list[ClipPlan]] = {}
    for p in plans:
        if p.name not in entries:
            groups.setdefault((p.label, p.performance), []).append(p)
    jobs = [(str(root), cfg, g) for g in groups.values()]
    bjobs = []
    behavior = {}
    if "behavior" in cfg.formats:
        ntr, nva = cfg.behavior_videos
        for k in range(ntr + nva):
            split = "train" if k < ntr else "val"
            f = done_dir / f"behavior_video_{k:03d}.json"
            if f.exists():
                try:
                    behavior[k] = json.loads(f.read_text(encoding="utf-8"))
                    continue
                except ValueError:
                    pass
            bjobs.append((str(root), cfg, split, k))
    bar = _progress(sum(len(g) for g in groups.values()) + len(bjobs), progress, "synth world")
    try:
        for es in _run_jobs(_write_clips, jobs, workers, bar, [len(j[2]) for j in jobs]):
            for e in es:
                entries[e["name"]] = e
        for (_, _, _, k), e in zip(bjobs, _run_jobs(_behavior_video, bjobs, workers, bar)):
            behavior[k] = e
    finally:
        if bar is not None:
            bar.close()
    clips = [entries[p.name] for p in plans]
    lists = _write_lists(root, cfg, clips)
    (root / "classes.txt").write_text("".join(f"{c.name}\n" for c in cls), encoding="utf-8")
    manifest = _manifest(cfg, cls, plans, clips, lists,
                         [behavior[k] for k in sorted(behavior)])
    atomic_write_text(root / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(done_dir, ignore_errors=True)
    (root / _STATE).unlink(missing_ok=True)
    return root / MANIFEST

