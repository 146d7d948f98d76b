"""What the embedded world is made of: its settings (:class:`WorldConfig`), which files a clip
has, and each planned clip's performance (motion, placement, chair) and rendering
(:func:`render_plan`). Every draw comes from generators keyed by (seed, the clip's ids)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError
from .actions import BMP_ACTIONS, generate_motion, get_classes, sample_start
from .body import J, rot_y
from .camera import (
    CAMERA_AZIMUTH_DEG,
    ClipPlan,
    clip_rng,
    facing_yaw,
    performer,
    performer_pools,
    setup_params,
)
from .render import appearance, render_clip

__all__ = ["WorldConfig", "DEFAULT_FORMATS", "ALL_FORMATS", "render_plan", "render_behavior"]

DEFAULT_FORMATS = ("rgb", "depth", "skeleton", "keypoints", "rawframes")
ALL_FORMATS = DEFAULT_FORMATS + ("silhouette", "behavior")
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



# ----------------------------------------------------------------------------- behaviour
_BEHAVIOR_ACTIONS = ("pick_up", "throw", "kick", "jump_up", "point", "nod_bow", "arm_circles")


def render_behavior(cfg: WorldConfig, split: str, k: int):
    """Generate and render behaviour video ``k``: one performer of ``split``'s pools in front of
    a fixed camera, ``cfg.behavior_segments`` actions in a row. Returns ``(performer id, body
    joints (T, J, 3), RenderOut, per-frame labels (-1 outside an action), segments)``."""
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
    return pid, joints, out, labels, segs
