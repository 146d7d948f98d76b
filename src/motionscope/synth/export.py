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

import io
import json
import os
import shutil
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..fsutil import atomic_path, atomic_write_text
from ..layouts import get_layout
from ..parallel import imap_jobs, zip_sizes
from ..progress import progress as progress_bar
from .actions import BMP_ACTIONS, generate_motion, get_classes, sample_start
from .body import BODY_JOINTS, LAYOUT_MAPS, J, rot_y
from .camera import (
    CAMERA_AZIMUTH_DEG,
    ClipPlan,
    clip_rng,
    facing_yaw,
    performer,
    performer_pools,
    plan_world,
    setup_params,
)
from .render import appearance, render_clip

__all__ = ["WorldConfig", "generate_world", "DEFAULT_FORMATS", "ALL_FORMATS", "render_plan",
           "save_npz", "MANIFEST"]

DEFAULT_FORMATS = ("rgb", "depth", "skeleton", "keypoints", "rawframes")
ALL_FORMATS = DEFAULT_FORMATS + ("silhouette", "behavior")
MANIFEST = "manifest.json"
_STATE = ".world-config.json"
_DONE = ".done"
_LAYOUTS = ("ntu25", "halpe26", "coco17", "kinect20")
_KINECT_BODY_ID = 72057594037927936  # 2**56, the base of Kinect v2 tracking ids
_DEG = np.pi / 180


@dataclass(frozen=True)
class WorldConfig:
    """Everything that determines a world's bytes (stored in the manifest)."""

    classes: str = "bmp10"
    clips_per_class: int = 10
    frames: int = 32
    size: tuple[int, int] = (224, 224)
    formats: tuple[str, ...] = DEFAULT_FORMATS
    seed: int = 0
    performers: int = 10
    setups: int = 8
    duration: float = 3.2        # seconds of action per clip (fps = frames / duration)
    distractor: float = 0.3      # probability of a moving distractor in a clip
    jitter: float = 1.0          # camera jitter scale (0 = fixed camera)
    crf: int = 18
    jpeg_quality: int = 90
    behavior_videos: tuple[int, int] = (4, 2)  # (train, val) videos of the behaviour layout
    behavior_segments: int = 6                 # actions per behaviour video

    @property
    def fps(self) -> float:
        return self.frames / self.duration

    def to_dict(self) -> dict:
        d = asdict(self)
        d["size"] = list(self.size)
        d["formats"] = list(self.formats)
        d["behavior_videos"] = list(self.behavior_videos)
        return d

    def validate(self) -> WorldConfig:
        get_classes(self.classes)
        bad = [f for f in self.formats if f not in ALL_FORMATS]
        if bad:
            raise ConfigError(f"unknown world format(s) {bad}; choose from {', '.join(ALL_FORMATS)}")
        if self.frames < 2:
            raise ConfigError(f"frames must be >= 2, got {self.frames}")
        H, W = self.size
        if H < 16 or W < 16 or H % 2 or W % 2:
            raise ConfigError(f"size must be even and >= 16 (H.264 needs even sizes), got {H}x{W}")
        if self.clips_per_class < 1:
            raise ConfigError(f"clips_per_class must be >= 1, got {self.clips_per_class}")
        if self.duration <= 0.5:
            raise ConfigError(f"duration must be > 0.5 s, got {self.duration}")
        performer_pools(self.performers)
        return self


def _classes_arg(classes) -> str:
    return classes if isinstance(classes, str) else ",".join(str(c) for c in classes)


# ----------------------------------------------------------------------------- npz
def save_npz(path: str | os.PathLike, arrays: dict, compress: bool = True) -> None:
    """``np.savez_compressed`` with fixed zip timestamps (so equal arrays give equal bytes),
    written atomically; read it with ``np.load``."""
    with atomic_path(path) as tmp, zipfile.ZipFile(
            tmp, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        for k, v in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(v), allow_pickle=False)
            info = zipfile.ZipInfo(f"{k}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zf.compression
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


# ----------------------------------------------------------------------------- one clip
def _placement(rng: np.random.Generator, motion, replication: int):
    """Facing (rad), stage centre shift and world position of a performance."""
    pel = motion.joints[:, J["pelvis"], :]
    centre = np.array([0.5 * (pel[:, 0].min() + pel[:, 0].max()), 0.0,
                       0.5 * (pel[:, 2].min() + pel[:, 2].max())])
    yaw = facing_yaw(replication) + rng.uniform(-12, 12) * _DEG
    pos = np.array([rng.uniform(-0.25, 0.25), 0.0, rng.uniform(-0.25, 0.25)])
    return float(yaw), centre, pos


def _place_chair(rng: np.random.Generator, motion) -> dict:
    """A chair for classes that do not use one, somewhere the body never goes: behind the
    performer about half the time (as in sit down / stand up), otherwise to a side."""
    pts = motion.joints[..., [0, 2]].reshape(-1, 2)
    lo, hi = pts.min(0) - 0.18, pts.max(0) + 0.18
    seat_d, seat_w = rng.uniform(0.38, 0.44), rng.uniform(0.40, 0.48)
    chair = {"seat_h": float(rng.uniform(0.42, 0.5)), "seat_w": float(seat_w),
             "seat_d": float(seat_d), "back_h": float(rng.uniform(0.35, 0.45)),
             "color": int(rng.integers(0, 1 << 24))}
    for _ in range(12):
        if rng.random() < 0.5:
            x = rng.uniform(-0.15, 0.15)
            z = pts[:, 1].min() - rng.uniform(0.05, 0.6) - seat_d / 2
            yaw = rng.uniform(-0.3, 0.3)
        else:
            x = rng.choice([-1, 1]) * rng.uniform(0.9, 1.6)
            z = rng.uniform(-1.0, 0.4)
            yaw = rng.uniform(-np.pi, np.pi)
        r = 0.5 * np.hypot(seat_d, seat_w) + 0.05
        if x + r < lo[0] or x - r > hi[0] or z + r < lo[1] or z - r > hi[1]:
            break
    else:
        x, z, yaw = 2.2, -1.0, 0.0
    chair.update(x=float(x), z=float(z), yaw=float(yaw))
    return chair


_LAST_PERFORMANCE: dict = {}


def _shared_performance(cfg: WorldConfig, cls, plan_perf: int, pid: int, replication: int):
    """:func:`_performance`, remembered for the next call: the three cameras of a performance
    are rendered one after the other by one worker (see :func:`generate_world`), and the
    motion is the same for all of them. The cached arrays are read-only so that no caller can
    change what the next camera sees."""
    key = (cfg, cls.label, cls.ntu_id, plan_perf, pid, replication)
    hit = _LAST_PERFORMANCE.get(key)
    if hit is None:
        hit = _performance(cfg, cls, plan_perf, pid, replication)
        for a in (hit[1].joints, hit[3], hit[4]):
            a.setflags(write=False)
        _LAST_PERFORMANCE.clear()
        _LAST_PERFORMANCE[key] = hit
    return hit


def _performance(cfg: WorldConfig, cls, plan_perf: int, pid: int, replication: int):
    """The motion of one performance and its placement (shared by its three cameras)."""
    perf = performer(cfg.seed, pid)
    rng = clip_rng(cfg.seed, 3, cls.ntu_id, plan_perf)
    motion = generate_motion(cls, perf.shape, rng, frames=cfg.frames, duration=cfg.duration)
    if "chair" not in motion.props:
        motion.props["chair"] = _place_chair(rng, motion)
    yaw, centre, pos = _placement(rng, motion, replication)
    return perf, motion, yaw, centre, pos


def _to_world_fn(yaw: float, centre: np.ndarray, pos: np.ndarray):
    R = rot_y(np.array([yaw]))[0]

    def to_world(p):
        return (np.asarray(p) - centre) @ R.T + pos
    return to_world


def _orientations(j3: np.ndarray) -> np.ndarray:
    """Kinect-style joint orientations (T, 25, 4) as quaternions (w, x, y, z) in camera space:
    y along the bone to the joint's main child, x towards the body's left; 0 for leaves."""
    T = j3.shape[0]
    child = {0: 1, 1: 20, 20: 2, 2: 3, 4: 5, 5: 6, 6: 7, 7: 21, 8: 9, 9: 10, 10: 11, 11: 23,
             12: 13, 13: 14, 14: 15, 16: 17, 17: 18, 18: 19}
    q = np.zeros((T, 25, 4))
    idx = np.array(sorted(child))
    y = j3[:, [child[i] for i in idx]] - j3[:, idx]
    y /= np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-9)
    left_up = j3[:, 4] - j3[:, 8]
    left_lo = j3[:, 12] - j3[:, 16]
    ref = np.where(np.isin(idx, [12, 13, 14, 16, 17, 18, 0])[None, :, None],
                   left_lo[:, None], left_up[:, None])
    x = ref - (ref * y).sum(-1, keepdims=True) * y
    x /= np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)
    z = np.cross(x, y)
    R = np.stack([x, y, z], -1)  # columns
    w = np.sqrt(np.maximum(1 + R[..., 0, 0] + R[..., 1, 1] + R[..., 2, 2], 1e-12)) / 2
    qx = (R[..., 2, 1] - R[..., 1, 2]) / (4 * w)
    qy = (R[..., 0, 2] - R[..., 2, 0]) / (4 * w)
    qz = (R[..., 1, 0] - R[..., 0, 1]) / (4 * w)
    q[:, idx] = np.stack([w, qx, qy, qz], -1)
    return q


def _layout_arrays(out, layout: str):
    m = LAYOUT_MAPS[layout]
    return (out.joints_cam[:, m].astype(np.float32), out.joints_2d[:, m].astype(np.float32),
            out.visible[:, m])


def _detector_keypoints(rng, out, layout: str, size):
    """Halpe-26 2D keypoints as a pose detector reports them: small pixel noise (more when
    occluded) and scores (high when visible, low when occluded, missing out of frame)."""
    _, uv, vis = _layout_arrays(out, layout)
    H, W = size
    T, V = vis.shape
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < W) & (uv[..., 1] >= 0) & (uv[..., 1] < H)
    span = np.ptp(uv[..., 1], axis=1).clip(20, None)[:, None, None]  # body height in pixels
    noise = rng.normal(0, 1, uv.shape) * 0.006 * span * np.where(vis, 1.0, 3.0)[..., None]
    kp = (uv + noise).astype(np.float32)
    scores = np.where(vis, rng.uniform(0.82, 0.97, (T, V)), rng.uniform(0.35, 0.65, (T, V)))
    scores = np.where(inside, scores, 0.0).astype(np.float32)
    kp[~inside] = np.nan
    return kp, scores


def render_plan(cfg: WorldConfig, plan: ClipPlan):
    """Generate and render one planned clip: ``(motion, RenderOut, extras)``."""
    cls = get_classes(cfg.classes)[plan.label]
    perf, motion, yaw, centre, pos = _shared_performance(cfg, cls, plan.performance,
                                                         plan.performer, plan.replication)
    to_world = _to_world_fn(yaw, centre, pos)
    joints_w = to_world(motion.joints)
    setup = setup_params(cfg.seed, plan.setup)
    crng = clip_rng(cfg.seed, 4, cls.ntu_id, plan.performance, plan.camera)
    distract = bool(crng.random() < cfg.distractor)
    out = render_clip(joints_w, perf.shape, appearance(perf, plan.setup), setup, plan.camera,
                      cfg.size, crng, props=motion.props, to_world=to_world, jitter=cfg.jitter,
                      distractor=distract)
    extra = {"yaw_deg": round(float(yaw / _DEG), 3),
             "position": [round(float(v), 4) for v in pos], "distractor": distract,
             "crng": crng, "joints_world": joints_w, "performer": perf}
    return motion, out, extra


def _clip_paths(cfg: WorldConfig, plan: ClipPlan) -> dict:
    n = plan.name
    f = set(cfg.formats)
    p = {"joints": f"joints/{n}.npz"}
    if "skeleton" in f:
        p["skeleton"] = f"skeleton/{n}.skeleton"
    if "rgb" in f:
        p["video"] = f"videos/A{plan.action:03d}/{n}_rgb.mp4"
    if "rawframes" in f:
        p["rawframes"] = f"rawframes/{n}"
    if "depth" in f:
        p["depth_masked"] = f"depth_masked/{n}"
        p["depth"] = f"depth/{n}"
    if "keypoints" in f:
        p["keypoints"] = f"keypoints/{n}.json"
    if "silhouette" in f:
        p["silhouette"] = f"silhouettes/{n}.npz"
    return p


def _write_clips(args) -> list[dict]:
    """Worker: the clips of one performance (its cameras), in order; returns their entries."""
    root, cfg, plans = args
    return [_write_clip((root, cfg, plan)) for plan in plans]


def _write_clip(args) -> dict:
    """Worker: render one clip, write its formats, then its done-marker; returns its entry."""
    root, cfg, plan = args
    from ..io import depth as io_depth
    from ..io import keypoints as io_kp
    from ..io import ntu as io_ntu
    from ..io import rawframes as io_raw
    from ..io import video as io_video

    root = Path(root)
    motion, out, extra = render_plan(cfg, plan)
    crng = extra.pop("crng")
    joints_w = extra.pop("joints_world")
    extra.pop("performer")
    paths = _clip_paths(cfg, plan)
    T = cfg.frames
    arrays = {"label": np.int64(plan.label), "fps": np.float64(cfg.fps),
              "image_size": np.array(cfg.size, np.int64)}
    for lay in _LAYOUTS:
        j3, j2, vis = _layout_arrays(out, lay)
        arrays[f"{lay}_3d"], arrays[f"{lay}_2d"], arrays[f"{lay}_vis"] = j3, j2, vis
    cam = setup_params(cfg.seed, plan.setup).camera(plan.camera, cfg.size)
    arrays.update(body_world=joints_w.astype(np.float32), body_joints=np.array(BODY_JOINTS),
                  K=cam.K, R=cam.R, C=cam.C, jitter=out.jitter.astype(np.int64))
    save_npz(root / paths["joints"], arrays)
    if "skeleton" in paths:
        j3, j2, vis = _layout_arrays(out, "ntu25")
        spine = j3[:, 20] - j3[:, 0]
        spine /= np.linalg.norm(spine, axis=-1, keepdims=True)
        info = np.zeros((1, T, 9))
        info[0, :, 6], info[0, :, 7], info[0, :, 8] = spine[:, 0], spine[:, 2] * -1, 2
        io_ntu.write_skeleton(
            root / paths["skeleton"], j3[None], j2[None], j2[None],
            body_ids=[str(_KINECT_BODY_ID + 1000 * plan.performer + 10 * plan.replication
                          + plan.camera)],
            orientation=_orientations(j3.astype(np.float64))[None],
            tracking=np.where(vis, 2, 1)[None], info=info)
    if "video" in paths:
        io_video.write_video(root / paths["video"], out.rgb, fps=cfg.fps, crf=cfg.crf)
    if "rawframes" in paths:
        io_raw.write_frames(root / paths["rawframes"], out.rgb, quality=cfg.jpeg_quality)
    if "depth" in paths:
        io_depth.write_depth_folder(root / paths["depth_masked"], out.depth_masked)
        io_depth.write_depth_folder(root / paths["depth"], out.depth, template="Depth-{:08d}.png")
    if "keypoints" in paths:
        kp, sc = _detector_keypoints(crng, out, "halpe26", cfg.size)
        io_kp.write_alphapose_json(root / paths["keypoints"], io_kp.KeypointSet(
            kp[None], sc[None], layout="halpe26", image_size=tuple(cfg.size)))
    if "silhouette" in paths:
        save_npz(root / paths["silhouette"], {"mask": out.mask.astype(np.uint8)})
    entry = {"name": plan.name, "label": plan.label, "class": get_classes(cfg.classes)[
        plan.label].key, "split": plan.split, "setup": plan.setup, "camera": plan.camera,
        "performer": plan.performer, "replication": plan.replication, "action": plan.action,
        "view": plan.view, "performance": plan.performance, "frames": T, "paths": paths,
        "motion": motion.meta, "placement": extra}
    text = json.dumps(entry, sort_keys=True)
    atomic_write_text(root / _DONE / f"{plan.name}.json", text)
    return json.loads(text)  # the same form as an entry read back when resuming


# ----------------------------------------------------------------------------- behaviour
_BEHAVIOR_ACTIONS = ("pick_up", "throw", "kick", "jump_up", "point", "nod_bow", "arm_circles")


def _behavior_video(args) -> dict:
    """Worker: one single-agent, fixed-camera video of several actions in a row, as frame
    folders plus its true 2D keypoints and per-frame labels."""
    root, cfg, split, k = args
    from ..io import rawframes as io_raw

    root = Path(root)
    name = f"video_{k:03d}"
    rng = clip_rng(cfg.seed, 5, k)
    pools = performer_pools(cfg.performers)
    pool = pools["train"] if split == "train" else pools["val"] + pools["test"]
    pid = pool[k % len(pool)]
    perf = performer(cfg.seed, pid)
    start = sample_start(rng, perf.shape)
    classes = get_classes(cfg.classes)
    usable = [c for c in classes if c.key in _BEHAVIOR_ACTIONS] or [BMP_ACTIONS[0]]
    parts, labels, segs = [], [], []
    offset = np.zeros(2)  # where the previous segment ended (x, z)
    pel = J["pelvis"]
    for s in range(cfg.behavior_segments):
        cls = usable[int(rng.integers(len(usable)))]
        m = generate_motion(cls, perf.shape, rng, frames=cfg.frames, duration=cfg.duration,
                            start=start)
        j = m.joints.copy()
        j[..., 0] += offset[0]
        j[..., 2] += offset[1]
        offset = offset + m.joints[-1, pel, [0, 2]] - m.joints[0, pel, [0, 2]]
        if parts:  # cross-fade 3 frames into the new segment
            n = min(3, len(j))
            w = np.linspace(0, 1, n + 2)[1:-1, None, None]
            j[:n] = parts[-1][-1] * (1 - w) + j[:n] * w
        t = np.arange(cfg.frames) * (cfg.duration / cfg.frames)
        on, du = m.meta["onset_s"], m.meta["duration_s"]
        lab = np.where((t >= on) & (t <= on + du), cls.label, -1)
        parts.append(j)
        labels.append(lab)
        segs.append({"class": cls.key, "label": cls.label, "style": m.meta["style"],
                     "start_frame": s * cfg.frames, "frames": cfg.frames})
    joints = np.concatenate(parts)
    labels = np.concatenate(labels)
    setup = setup_params(cfg.seed, 1)
    yaw = np.deg2rad(CAMERA_AZIMUTH_DEG[1]) + rng.uniform(-0.5, 0.5)
    pel = joints[:, J["pelvis"]]
    centre = np.array([0.5 * (pel[:, 0].min() + pel[:, 0].max()), 0.0,
                       0.5 * (pel[:, 2].min() + pel[:, 2].max())])
    to_world = _to_world_fn(yaw, centre, np.zeros(3))
    jw = to_world(joints)
    out = render_clip(jw, perf.shape, appearance(perf, 1), setup, 1, cfg.size, rng,
                      props=None, to_world=to_world, jitter=0.0, distractor=False)
    folder = f"behavior/{split}/{name}"
    io_raw.write_frames(root / folder, out.rgb, quality=cfg.jpeg_quality)
    kp_path = f"behavior/keypoints/{name}.npz"
    j3, j2, vis = _layout_arrays(out, "halpe26")
    save_npz(root / kp_path, {"keypoints": j2, "visible": vis, "joints_3d": j3,
                              "labels": labels.astype(np.int64),
                              "image_size": np.array(cfg.size, np.int64),
                              "layout": np.array("halpe26"),
                              "joint_names": np.array(get_layout("halpe26").joints)})
    entry = {"name": name, "split": split, "performer": pid, "frames": int(len(joints)),
             "frames_dir": folder, "keypoints": kp_path, "segments": segs}
    text = json.dumps(entry, sort_keys=True)
    atomic_write_text(root / _DONE / f"behavior_{name}.json", text)
    return json.loads(text)


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


def _write_lists(root: Path, cfg: WorldConfig, clips: list[dict]) -> dict:
    from ..io import rawframes as io_raw
    from ..io import splits as io_splits

    f = set(cfg.formats)
    lists: dict = {}
    for split in ("train", "val", "test"):
        cs = [c for c in clips if c["split"] == split]
        T = cfg.frames
        if "rgb" in f:
            p = f"splits/{split}_videos.csv"
            io_splits.write_video_csv(root / p, [(c["paths"]["video"][len("videos/"):],
                                                  c["label"]) for c in cs])
            lists.setdefault("videos", {"root": "videos"})[split] = p
        for key, fmt, root_dir, suffix in (
                ("rawframes", "rawframes", "rawframes", ""),
                ("depth", "depth", "depth_masked", ""),
                ("skeleton", "skeleton", "skeleton", ".skeleton"),
                ("keypoints", "keypoints", "keypoints", ".json")):
            if fmt not in f:
                continue
            p = f"splits/{split}_{key}.txt"
            io_raw.write_rawframe_list(root / p, [(c["name"] + suffix, T, c["label"])
                                                  for c in cs])
            lists.setdefault(key, {"root": root_dir})[split] = p
    if "depth" in f:
        lists["depth"]["root_full"] = "depth"
    return lists


def _manifest(cfg: WorldConfig, cls, plans, clips, lists, behavior) -> dict:
    setups = sorted({p.setup for p in plans} | ({1} if behavior else set()))
    pools = performer_pools(cfg.performers)
    perfs = []
    for pid in range(1, cfg.performers + 1):
        sh = performer(cfg.seed, pid).shape
        split = next(k for k, v in pools.items() if pid in v)
        perfs.append({"id": pid, "pool": split, "height": round(sh.height, 4),
                      "girth": round(sh.girth, 4)})
    return {
        "format": "motionscope-world", "version": 1, "config": cfg.to_dict(),
        "fps": cfg.fps,
        "classes": [{"label": c.label, "name": c.name, "key": c.key, "ntu_action": c.code,
                     "styles": list(c.styles)} for c in cls],
        "layouts": {k: list(get_layout(k).joints) for k in _LAYOUTS},
        "splits": {"default": "by performer: pools below; test = NTU cross-subject test "
                              "performers", "pools": pools,
                   "ntu_rules": "names follow NTU RGB+D 120: use io.splits.ntu_split(name, "
                                "'ntu120_xsub' | 'ntu120_xset'); cross-view: camera 1 test"},
        "counts": {s: sum(c["split"] == s for c in clips) for s in ("train", "val", "test")},
        "cameras": {f"S{s:03d}C{c:03d}": setup_params(cfg.seed, s).camera(c, cfg.size).to_dict()
                    for s in setups for c in (1, 2, 3)},
        "performers": perfs,
        "lists": lists,
        "clips": clips,
        "behavior": behavior,
    }
