"""Cameras, setups, performers and the NTU-style recording plan of the embedded world.

NTU RGB+D films every performance with three Kinect v2 cameras at the same height, at -45, 0
and +45 degrees; the performer faces camera 3 in replication 1 and camera 2 in replication 2,
so camera 1 always sees a 45-degree view and cameras 2/3 see a frontal or a side (90-degree)
view depending on the replication (the BMP view conditions use exactly this; specs/mp.md 13.8).
Setups change the camera height and distance and the room. The world does the same, so NTU's
cross-subject, cross-view and cross-setup rules apply to its file names unchanged.

Camera space is Kinect's: metres, x to the sensor's left, y up, z away from the sensor; pixels
are ``u = cx + fx x / z``, ``v = cy - fy y / z`` (as in the NTU ``.skeleton`` colour and depth
coordinates), which makes images mirror views, as Kinect's are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .body import BodyShape, sample_shape

__all__ = [
    "Camera", "CAMERA_AZIMUTH_DEG", "facing_yaw", "view_angle", "look_at_camera",
    "SetupParams", "setup_params", "Performer", "performer", "performer_pools",
    "ClipPlan", "plan_world", "clip_rng",
]

#: camera id -> azimuth (degrees) around the stage centre; 0 = camera 1 in the middle
CAMERA_AZIMUTH_DEG = {1: 0.0, 2: -45.0, 3: 45.0}


def facing_yaw(replication: int) -> float:
    """Yaw (rad) of a performer facing camera 3 (odd replications) or camera 2 (even)."""
    return np.deg2rad(CAMERA_AZIMUTH_DEG[3 if replication % 2 == 1 else 2])


def view_angle(camera: int, replication: int) -> int:
    """0 (frontal), 45 or 90 degrees: the view a camera has of the performer (BMP ICV table)."""
    faced = 3 if replication % 2 == 1 else 2
    if camera == faced:
        return 0
    return 45 if camera == 1 else 90


def clip_rng(seed: int, *key: int) -> np.random.Generator:
    """An independent generator for one entity of the world (a performer, a clip, a setup...),
    so every clip is reproducible on its own, in any order and in any worker."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *map(int, key)]))


# ----------------------------------------------------------------------------- cameras
@dataclass
class Camera:
    """A pinhole camera: world->camera rotation ``R`` (rows = camera axes in world), centre
    ``C``, intrinsics and image size."""

    R: np.ndarray
    C: np.ndarray
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def to_camera(self, pw: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> Kinect camera space (..., 3), metres."""
        return (np.asarray(pw) - self.C) @ self.R.T

    def project(self, pc: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
        """Camera points (..., 3) -> pixels (..., 2); ``offset`` (..., 2) shifts the principal
        point (camera jitter)."""
        z = np.maximum(pc[..., 2], 1e-6)
        u = self.cx + self.fx * pc[..., 0] / z
        v = self.cy - self.fy * pc[..., 1] / z
        uv = np.stack([u, v], -1)
        return uv if offset is None else uv + offset

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])

    def rays(self, pad: int = 0) -> np.ndarray:
        """World directions (H+2p, W+2p, 3) of pixel rays, scaled so that camera z = 1."""
        us = np.arange(-pad, self.width + pad, dtype=np.float64)
        vs = np.arange(-pad, self.height + pad, dtype=np.float64)
        x = (us[None, :] - self.cx) / self.fx
        y = -(vs[:, None] - self.cy) / self.fy
        d = np.stack(np.broadcast_arrays(x, y, np.ones_like(x * y)), -1)
        return d @ self.R  # camera -> world: R^T d

    def to_dict(self) -> dict:
        return {"R": np.round(self.R, 8).tolist(), "C": np.round(self.C, 6).tolist(),
                "K": np.round(self.K, 6).tolist(), "width": self.width, "height": self.height}


def look_at_camera(position, target, size: tuple[int, int], vfov_deg: float) -> Camera:
    """A camera at ``position`` looking at ``target`` with a vertical field of view."""
    C = np.asarray(position, np.float64)
    fwd = np.asarray(target, np.float64) - C
    fwd /= np.linalg.norm(fwd)
    x = np.cross([0.0, 1.0, 0.0], fwd)  # the sensor's left
    x /= np.linalg.norm(x)
    y = np.cross(fwd, x)
    H, W = size
    f = 0.5 * H / np.tan(np.deg2rad(vfov_deg) / 2)
    return Camera(np.stack([x, y, fwd]), C, f, f, (W - 1) / 2, (H - 1) / 2, W, H)


# ----------------------------------------------------------------------------- setups
@dataclass(frozen=True)
class SetupParams:
    """One recording setup: camera rig geometry, the room and its light."""

    setup: int
    cam_height: float
    cam_distance: float
    look_height: float
    vfov: float
    room: tuple[float, float, float]  # half-width x, half-depth z, ceiling height
    room_seed: int
    light: tuple[float, float, float]  # direction towards the light (world)
    ambient: float

    def camera(self, camera_id: int, size: tuple[int, int]) -> Camera:
        if camera_id not in CAMERA_AZIMUTH_DEG:
            raise ConfigError(f"camera id must be 1, 2 or 3 (NTU), got {camera_id}")
        az = np.deg2rad(CAMERA_AZIMUTH_DEG[camera_id])
        pos = (self.cam_distance * np.sin(az), self.cam_height, self.cam_distance * np.cos(az))
        return look_at_camera(pos, (0.0, self.look_height, 0.0), size, self.vfov)


def setup_params(seed: int, setup: int) -> SetupParams:
    r = clip_rng(seed, 2, setup)
    light = np.array([r.uniform(-0.6, 0.6), r.uniform(0.6, 1.0), r.uniform(0.2, 0.8)])
    light /= np.linalg.norm(light)
    return SetupParams(
        setup=setup, cam_height=float(r.uniform(0.95, 1.35)),
        cam_distance=float(r.uniform(2.8, 3.4)), look_height=float(r.uniform(0.8, 0.95)),
        vfov=float(r.uniform(48.0, 54.0)),
        room=(float(r.uniform(3.9, 5.5)), float(r.uniform(3.9, 5.5)), float(r.uniform(2.7, 3.3))),
        room_seed=int(r.integers(0, 2**31)), light=tuple(float(v) for v in light),
        ambient=float(r.uniform(0.45, 0.6)))


# ----------------------------------------------------------------------------- performers
@dataclass(frozen=True)
class Performer:
    """A person of the world: body shape and look (clothes vary a little between setups)."""

    pid: int
    shape: BodyShape
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    seed: int

    def clothing(self, setup: int) -> dict:
        """Materials of this performer in a setup: colour pairs and patterns per part."""
        r = clip_rng(self.seed, 7, setup // 3)  # the same clothes for a few setups
        pats = ("solid", "hstripes", "vstripes", "checks", "dots", "noise")
        shirt = _color(r)
        trousers = _color(r, dark=r.random() < 0.6)
        long_sleeves = bool(r.random() < 0.6)
        return {
            "shirt": {"color": shirt, "color2": _color(r), "pattern": str(r.choice(pats)),
                      "period": float(r.uniform(0.03, 0.09))},
            "sleeve": None if not long_sleeves else "shirt",
            "trousers": {"color": trousers, "color2": _shade(trousers, 0.8),
                         "pattern": str(r.choice(("solid", "noise", "vstripes", "noise"))),
                         "period": float(r.uniform(0.02, 0.05))},
            "shoes": {"color": _color(r, dark=r.random() < 0.7), "color2": (40, 40, 40),
                      "pattern": "solid", "period": 0.05},
            "long_sleeves": long_sleeves,
        }


def _color(r: np.random.Generator, dark: bool = False) -> tuple[int, int, int]:
    h = r.uniform(0, 1)
    s = r.uniform(0.15, 0.85)
    v = r.uniform(0.15, 0.45) if dark else r.uniform(0.35, 0.95)
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return tuple(int(round(255 * c)) for c in rgb)


def _shade(c, k):
    return tuple(int(min(255, round(v * k))) for v in c)


_SKINS = ((255, 224, 196), (241, 194, 160), (224, 172, 135), (198, 134, 94), (161, 102, 68),
          (120, 76, 52), (92, 58, 40))
_HAIRS = ((25, 20, 18), (60, 40, 28), (110, 75, 45), (170, 130, 80), (200, 180, 140),
          (120, 120, 120), (40, 30, 30))


def performer(seed: int, pid: int) -> Performer:
    """Performer ``pid`` of the world with ``seed``: the same person in every clip."""
    r = clip_rng(seed, 1, pid)
    shape = sample_shape(r)
    return Performer(pid=pid, shape=shape, skin=_SKINS[int(r.integers(len(_SKINS)))],
                     hair=_HAIRS[int(r.integers(len(_HAIRS)))], seed=int(r.integers(0, 2**31)))


# NTU RGB+D 120 cross-subject training performers (specs/mamp.md section 6)
_XSUB_TRAIN = frozenset({1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35,
                         38, 45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80,
                         81, 82, 83, 84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103})


def performer_pools(n_performers: int) -> dict[str, list[int]]:
    """Performers 1..n split into train/val/test: NTU's cross-subject test performers are the
    test pool; the val pool is the last sixth of NTU's training performers (at least one)."""
    if n_performers < 3:
        raise ConfigError(f"the world needs at least 3 performers, got {n_performers}")
    ids = list(range(1, n_performers + 1))
    train = [p for p in ids if p in _XSUB_TRAIN]
    test = [p for p in ids if p not in _XSUB_TRAIN]
    n_val = max(1, len(train) // 6)
    return {"train": train[:-n_val], "val": train[-n_val:], "test": test}


@dataclass(frozen=True)
class ClipPlan:
    """One clip to render: its NTU ids, class label, default split and performance index."""

    setup: int
    camera: int
    performer: int
    replication: int
    action: int      # NTU action id
    label: int
    split: str
    performance: int  # index of the performance within its class

    @property
    def name(self) -> str:
        return (f"S{self.setup:03d}C{self.camera:03d}P{self.performer:03d}"
                f"R{self.replication:03d}A{self.action:03d}")

    @property
    def view(self) -> int:
        return view_angle(self.camera, self.replication)


_SPLIT_FRACTIONS = {"train": 0.6, "val": 0.12, "test": 0.28}


def plan_world(classes, clips_per_class: int, *, performers: int = 10, setups: int = 8,
               ) -> list[ClipPlan]:
    """The recording plan: for each class, performances (setup, performer, replication), each
    filmed by cameras 1-3 in order, until ``clips_per_class`` clips exist.

    Performances are spread over splits in fixed proportions (train/val/test ~ 60/12/28 %,
    every split gets one as soon as a class has three performances), and inside a split over
    its performer pool, setups and replications round-robin *identically for every class*: the
    k-th performance of a split has the same performer, setup (room) and replication whatever
    the class, so none of them correlates with the class, and every (setup, class) pair of val
    and test also occurs in train. (A per-class offset would make the room and the performer
    a shortcut in training that fails on held-out clips.)
    """
    if clips_per_class < 1:
        raise ConfigError(f"clips_per_class must be >= 1, got {clips_per_class}")
    if not 1 <= setups <= 32:
        raise ConfigError(f"setups must be in 1..32 (NTU 120 has 32), got {setups}")
    pools = performer_pools(performers)
    n_perf = -(-clips_per_class // 3)
    order = _split_order(n_perf)
    plans = []
    for cls in classes:
        used = {"train": 0, "val": 0, "test": 0}
        for j in range(n_perf):
            split = order[j]
            k = used[split]
            used[split] += 1
            pool = pools[split]
            pid = pool[k % len(pool)]
            setup = 1 + k % setups
            rep = 1 + (j + k // len(pool)) % 2
            for cam in (1, 2, 3):
                if 3 * j + cam > clips_per_class:
                    break
                plans.append(ClipPlan(setup, cam, pid, rep, cls.ntu_id, cls.label, split, j))
    return plans


def _split_order(n: int) -> list[str]:
    """Which split each of a class's ``n`` performances goes to (deterministic, balanced)."""
    if n == 1:
        return ["train"]
    if n == 2:
        return ["train", "test"]
    counts = {"val": max(1, round(n * _SPLIT_FRACTIONS["val"])),
              "test": max(1, round(n * _SPLIT_FRACTIONS["test"]))}
    counts["train"] = n - counts["val"] - counts["test"]
    # interleave so that a truncated plan still has every split early
    out, got = [], {k: 0 for k in counts}
    for _ in range(n):
        pick = min(counts, key=lambda k: ((got[k] + 0.5) / counts[k] if counts[k] else 9e9, k))
        out.append(pick)
        got[pick] += 1
    return out
