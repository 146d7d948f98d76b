"""A procedural 3D humanoid: body shapes, a pose specification and its kinematics (numpy only).

The body is a small kinematic tree (pelvis, two spine joints, neck, head; arms and legs solved
as two-bone chains) whose own joints map onto the ``ntu25``, ``halpe26``, ``coco17`` and
``kinect20`` layouts, face points and toes included. Actions (:mod:`.actions`) do not write
joint positions: they write a :class:`PoseSpec` (pelvis path and orientation, trunk and neck
angles, wrist targets, foot placements), and :func:`forward` turns it into positions while
enforcing what makes a motion plausible: clamped joint ranges (:data:`JOINT_LIMITS`), knees and
elbows that bend the anatomical way, constant bone lengths, and feet that never go through the
floor. The world frame is right-handed: X the body's left at rest, Y up, Z forward, floor y = 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..layouts import get_layout

__all__ = [
    "BODY_JOINTS", "JOINT_LIMITS", "LAYOUT_MAPS", "BodyShape", "PoseSpec", "sample_shape",
    "forward", "chest_frame", "to_layout", "body_capsules", "rot_x", "rot_y", "rot_z",
    "standing_pelvis_height", "planted_ankle", "surface_min_y",
]

#: the body's own joints (world positions from :func:`forward`), then auxiliary points used
#: for rendering (chest sides, sole capsule ends)
BODY_JOINTS = (
    "pelvis", "spine_mid", "spine_shoulder", "neck", "head", "head_top",
    "nose", "l_eye", "r_eye", "l_ear", "r_ear",
    "l_shoulder", "l_elbow", "l_wrist", "l_hand", "l_hand_tip", "l_thumb",
    "r_shoulder", "r_elbow", "r_wrist", "r_hand", "r_hand_tip", "r_thumb",
    "l_hip", "l_knee", "l_ankle", "l_heel", "l_foot", "l_big_toe", "l_small_toe",
    "r_hip", "r_knee", "r_ankle", "r_heel", "r_foot", "r_big_toe", "r_small_toe",
    "l_chest", "r_chest", "l_sole_back", "l_sole_front", "r_sole_back", "r_sole_front",
)
J = {n: i for i, n in enumerate(BODY_JOINTS)}

#: layout joint name -> body joint name (identity for names not listed)
_ALIASES = {
    "ntu25": {"spine_base": "pelvis"},
    "halpe26": {"head": "head_top", "neck": "spine_shoulder", "hip": "pelvis"},
    "coco17": {},
    "kinect20": {"hip_center": "pelvis", "spine": "spine_mid", "shoulder_center": "spine_shoulder",
                 "l_hand": "l_hand", "r_hand": "r_hand"},
}
#: layout name -> index array into BODY_JOINTS
LAYOUT_MAPS: dict[str, np.ndarray] = {
    name: np.array([J[aliases.get(j, j)] for j in get_layout(name).joints])
    for name, aliases in _ALIASES.items()
}

_DEG = np.pi / 180
#: clamped ranges (radians) of the angles a PoseSpec sets, and the two-bone flexion ranges;
#: the plausibility tests measure these from the 3D positions
JOINT_LIMITS = {
    "trunk_flex": (-30 * _DEG, 100 * _DEG),   # lumbar + thoracic flexion (negative = extension)
    "trunk_lateral": (-35 * _DEG, 35 * _DEG),
    "trunk_twist": (-45 * _DEG, 45 * _DEG),
    "neck_flex": (-50 * _DEG, 60 * _DEG),
    "neck_lateral": (-35 * _DEG, 35 * _DEG),
    "neck_twist": (-70 * _DEG, 70 * _DEG),
    "knee_flex": (0.0, 150 * _DEG),
    "elbow_flex": (0.0, 145 * _DEG),
    "ankle_dorsi": (-55 * _DEG, 35 * _DEG),  # foot pitch relative to the shin (+ = toes up)
}


def rot_x(a: np.ndarray) -> np.ndarray:
    """(T,) angles -> (T, 3, 3) rotations about X (positive tilts +Y towards +Z: a forward bend)."""
    a = np.asarray(a, np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1),
                     np.stack([z, s, c], -1)], -2)


def rot_y(a: np.ndarray) -> np.ndarray:
    """Rotations about Y (positive turns +Z towards +X: a turn to the body's left)."""
    a = np.asarray(a, np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1),
                     np.stack([-s, z, c], -1)], -2)


def rot_z(a: np.ndarray) -> np.ndarray:
    """Rotations about Z (positive tilts +Y towards -X: a lean to the body's right)."""
    a = np.asarray(a, np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1),
                     np.stack([z, z, o], -1)], -2)


def _mv(R: np.ndarray, v) -> np.ndarray:
    """Apply (T,3,3) rotations to (3,) or (T,3) vectors."""
    v = np.asarray(v, np.float64)
    if v.ndim == 1:
        return R @ v
    return np.einsum("tij,tj->ti", R, v)


def _unit(v: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def _length(frac: float, factor: str | None = None, doc: str | None = None) -> property:
    """A read-only segment length of :class:`BodyShape`: ``frac * height`` (times the
    proportion factor field named ``factor``)."""
    if factor is None:
        return property(lambda self: frac * self.height, doc=doc)
    return property(lambda self: frac * self.height * getattr(self, factor), doc=doc)


# ----------------------------------------------------------------------------- shapes
@dataclass(frozen=True)
class BodyShape:
    """Segment lengths and girths in metres; derived from height and proportion factors."""

    height: float = 1.72
    leg: float = 1.0        # leg-length factor
    arm: float = 1.0        # arm-length factor
    trunk: float = 1.0      # trunk-length factor
    shoulders: float = 1.0  # shoulder-width factor
    hips: float = 1.0       # hip-width factor
    girth: float = 1.0      # trunk girth factor (thin 0.85 ... broad 1.35)
    limb_girth: float = 1.0

    # lengths: Drillis-Contini proportions of height, times a factor above
    thigh = _length(0.245, "leg")
    shin = _length(0.246, "leg")
    ankle_h = _length(0.039)
    lumbar = _length(0.115, "trunk")
    thoracic = _length(0.165, "trunk")
    neck_len = _length(0.045)
    head_c = _length(0.062)
    upper_arm = _length(0.186, "arm")
    forearm = _length(0.146, "arm")
    hand_len = _length(0.108, "arm")
    shoulder_half = _length(0.105, "shoulders")
    hip_half = _length(0.052, "hips")
    ball_fwd = _length(0.085,
                       doc="Ankle to the ball of the foot (the pivot of a heel lift), horizontally.")

    @property
    def arm_reach(self) -> float:
        return self.upper_arm + self.forearm

    def radii(self) -> dict[str, float]:
        h, g, lg = self.height, self.girth, self.limb_girth
        return {
            "head": 0.058 * h, "hair": 0.057 * h, "nose": 0.011 * h, "neck": 0.032 * h,
            "chest": 0.062 * h * g, "abdomen": 0.072 * h * g, "pelvis": 0.068 * h * g,
            "upper_arm": 0.029 * h * lg, "elbow": 0.024 * h * lg, "wrist": 0.018 * h * lg,
            "hand": 0.017 * h, "finger": 0.011 * h,
            "thigh": 0.048 * h * lg, "knee": 0.034 * h * lg, "ankle": 0.024 * h * lg,
            "foot": 0.022 * h,
        }


def sample_shape(rng: np.random.Generator, height_range=(1.52, 1.92),
                 girth_range=(0.85, 1.35)) -> BodyShape:
    """A random adult body: height, limb/trunk proportions within about +-5 %, girth."""
    u = rng.uniform
    g = float(u(*girth_range))
    return BodyShape(height=float(u(*height_range)), leg=float(u(0.95, 1.05)),
                     arm=float(u(0.95, 1.05)), trunk=float(u(0.95, 1.05)),
                     shoulders=float(u(0.92, 1.1)), hips=float(u(0.9, 1.12)) * (0.9 + 0.1 * g),
                     girth=g, limb_girth=float(g ** 0.5 * u(0.92, 1.08)))


def standing_pelvis_height(shape: BodyShape, stance_half: float, knee_bend: float = 8 * _DEG
                           ) -> float:
    """Pelvis height when both feet are flat with ankles ``stance_half`` from the midline."""
    l1, l2 = shape.thigh, shape.shin
    reach = np.sqrt(l1 * l1 + l2 * l2 + 2 * l1 * l2 * np.cos(knee_bend))
    dx = max(stance_half - shape.hip_half, 0.0)
    return float(shape.ankle_h + np.sqrt(reach ** 2 - dx ** 2) + 0.01 * shape.height)


def planted_ankle(shape: BodyShape, ball: np.ndarray, yaw: np.ndarray, pitch: np.ndarray
                  ) -> np.ndarray:
    """Ankle positions (T, 3) of a foot whose ball is at ``ball`` (T, 3), turned by ``yaw`` and
    pitched toes-down by ``pitch`` about the ball (a heel lift)."""
    Rf = rot_y(yaw) @ rot_x(pitch)
    return ball + _mv(Rf, np.array([0.0, shape.ankle_h, -shape.ball_fwd]))


# ----------------------------------------------------------------------------- pose spec
@dataclass
class PoseSpec:
    """Everything an action sets, per frame (T). Angles in radians; positions in metres.

    ``wrist``: wrist target relative to its shoulder, in the chest frame (L, R); the arm is solved
    as a two-bone chain with the elbow towards ``elbow_pole`` (chest frame). ``ball``: where the
    ball of each foot is (world); ``foot_yaw``/``foot_pitch`` turn the foot about it (pitch > 0
    lifts the heel). Knees point where the feet point.
    """

    pelvis: np.ndarray                       # (T, 3)
    yaw: np.ndarray                          # (T,)
    pitch: np.ndarray                        # (T,) pelvis forward tilt
    roll: np.ndarray                         # (T,) pelvis lean to the right
    trunk: np.ndarray                        # (T, 3) flex, lateral, twist
    neck: np.ndarray                         # (T, 3) flex, lateral, twist
    wrist: np.ndarray                        # (2, T, 3)
    elbow_pole: np.ndarray                   # (2, T, 3)
    hand_flex: np.ndarray                    # (2, T)
    ball: np.ndarray                         # (2, T, 3)
    foot_yaw: np.ndarray                     # (2, T)
    foot_pitch: np.ndarray                   # (2, T)
    extra: dict = field(default_factory=dict)

    @property
    def T(self) -> int:
        return self.pelvis.shape[0]

    def copy(self) -> PoseSpec:
        return PoseSpec(**{k: (v.copy() if isinstance(v, np.ndarray) else dict(v))
                           for k, v in self.__dict__.items()})


def _clamp(x: np.ndarray, lim: str) -> np.ndarray:
    lo, hi = JOINT_LIMITS[lim]
    return np.clip(x, lo, hi)


def _trunk_rotations(spec: PoseSpec):
    flex = _clamp(spec.trunk[:, 0], "trunk_flex")
    lat = _clamp(spec.trunk[:, 1], "trunk_lateral")
    tw = _clamp(spec.trunk[:, 2], "trunk_twist")
    Rp = rot_y(spec.yaw) @ rot_x(spec.pitch) @ rot_z(spec.roll)
    Rl = rot_y(0.45 * tw) @ rot_x(0.45 * flex) @ rot_z(0.45 * lat)
    Rt = rot_y(0.55 * tw) @ rot_x(0.55 * flex) @ rot_z(0.55 * lat)
    return Rp, Rp @ Rl, Rp @ Rl @ Rt


def chest_frame(shape: BodyShape, spec: PoseSpec):
    """(R_chest (T,3,3), shoulders (2,T,3), spine_shoulder (T,3)): lets actions turn world
    targets (a point on the floor to pick up) into the chest-frame wrist vectors of the spec."""
    _, Rl, Rc = _trunk_rotations(spec)
    mid = spec.pelvis + _mv(Rl, [0.0, shape.lumbar, 0.0])
    ss = mid + _mv(Rc, [0.0, shape.thoracic, 0.0])
    sh = np.stack([ss + _mv(Rc, [s * shape.shoulder_half, -0.012 * shape.height, 0.0])
                   for s in (1.0, -1.0)])
    return Rc, sh, ss


def _two_bone(root: np.ndarray, target: np.ndarray, pole: np.ndarray, l1: float, l2: float,
              max_flex: float):
    """Solve a two-bone chain: (mid joint, end) positions (T,3) reaching towards ``target``.

    The reach is clamped to what the segment lengths and the flexion limit allow, and the middle
    joint lies in the plane of the target and ``pole`` on the pole's side, so a knee whose pole is
    the foot's forward direction can only flex, never hyperextend.
    """
    d = target - root
    L = np.linalg.norm(d, axis=-1)
    lmin = np.sqrt(l1 * l1 + l2 * l2 - 2 * l1 * l2 * np.cos(np.pi - max_flex)) + 1e-6
    L = np.clip(L, lmin, l1 + l2 - 1e-6)
    dh = _unit(d)
    end = root + dh * L[:, None]
    cos_a = np.clip((l1 * l1 + L * L - l2 * l2) / (2 * l1 * L), -1.0, 1.0)
    sin_a = np.sqrt(1.0 - cos_a ** 2)
    p = pole - (pole * dh).sum(-1, keepdims=True) * dh
    pn = np.linalg.norm(p, axis=-1, keepdims=True)
    # a pole parallel to the chain: fall back to any perpendicular (keeps the bone length exact)
    alt = np.cross(dh, np.array([0.0, 0.0, 1.0]))
    alt = np.where(np.linalg.norm(alt, axis=-1, keepdims=True) < 1e-6,
                   np.cross(dh, np.array([1.0, 0.0, 0.0])), alt)
    p = np.where(pn > 1e-6, p / np.maximum(pn, 1e-12), _unit(alt))
    mid = root + l1 * (cos_a[:, None] * dh + sin_a[:, None] * p)
    return mid, end


def _foot_points(shape: BodyShape, ankle: np.ndarray, Rf: np.ndarray, side: float):
    h, ah = shape.height, shape.ankle_h
    rf = shape.radii()["foot"]
    off = {
        "heel": [0.0, -0.72 * ah, -0.036 * h],
        "foot": [side * 0.004 * h, -0.78 * ah, 0.072 * h],
        "big_toe": [-side * 0.012 * h, -0.84 * ah, 0.118 * h],
        "small_toe": [side * 0.026 * h, -0.86 * ah, 0.094 * h],
        "sole_back": [0.0, -ah + rf, -0.036 * h + 0.6 * rf],
        "sole_front": [0.0, -ah + rf, 0.112 * h - rf],
    }
    return {k: ankle + _mv(Rf, v) for k, v in off.items()}


def forward(shape: BodyShape, spec: PoseSpec, ankle_iters: int = 6) -> np.ndarray:
    """Joint positions ``(T, len(BODY_JOINTS), 3)`` in world metres for a pose spec.

    Feet: each foot is turned about its ball; where a foot would go through the floor it is
    raised, and where the shin would exceed the ankle's dorsiflexion limit the heel is lifted
    (the foot pivots on its ball, as people do in a deep squat).
    """
    T = spec.T
    h = shape.height
    Rp, Rl, Rc = _trunk_rotations(spec)
    out = np.zeros((T, len(BODY_JOINTS), 3))
    P = spec.pelvis
    out[:, J["pelvis"]] = P
    mid = P + _mv(Rl, [0.0, shape.lumbar, 0.0])
    ss = mid + _mv(Rc, [0.0, shape.thoracic, 0.0])
    out[:, J["spine_mid"]] = mid
    out[:, J["spine_shoulder"]] = ss
    # neck and head: the neck angles are split between the neck base and the head joint
    nf = _clamp(spec.neck[:, 0], "neck_flex")
    nl = _clamp(spec.neck[:, 1], "neck_lateral")
    nt = _clamp(spec.neck[:, 2], "neck_twist")
    Rn = Rc @ rot_y(0.5 * nt) @ rot_x(0.5 * nf) @ rot_z(0.5 * nl)
    Rh = Rn @ rot_y(0.5 * nt) @ rot_x(0.5 * nf) @ rot_z(0.5 * nl)
    neck = ss + _mv(Rn, [0.0, shape.neck_len, 0.0])
    head = neck + _mv(Rh, [0.0, shape.head_c, 0.0])
    out[:, J["neck"]] = neck
    out[:, J["head"]] = head
    face = {"head_top": [0.0, 0.078 * h, -0.006 * h], "nose": [0.0, -0.012 * h, 0.058 * h],
            "l_eye": [0.019 * h, 0.012 * h, 0.048 * h], "r_eye": [-0.019 * h, 0.012 * h, 0.048 * h],
            "l_ear": [0.046 * h, 0.0, -0.004 * h], "r_ear": [-0.046 * h, 0.0, -0.004 * h]}
    for k, v in face.items():
        out[:, J[k]] = head + _mv(Rh, v)
    # arms
    for i, (s, side) in enumerate(((1.0, "l"), (-1.0, "r"))):
        sh = ss + _mv(Rc, [s * shape.shoulder_half, -0.012 * h, 0.0])
        target = sh + _mv(Rc, spec.wrist[i])
        pole = _mv(Rc, spec.elbow_pole[i])
        elbow, wrist = _two_bone(sh, target, pole, shape.upper_arm, shape.forearm,
                                 JOINT_LIMITS["elbow_flex"][1])
        f = _unit(wrist - elbow)
        palm = _unit(-(pole - (pole * f).sum(-1, keepdims=True) * f) + 1e-9)
        fl = spec.hand_flex[i][:, None]
        hd = _unit(np.cos(fl) * f + np.sin(fl) * palm)
        up = _mv(Rc, [0.0, 0.3, 1.0])
        th = _unit(up - (up * hd).sum(-1, keepdims=True) * hd)
        out[:, J[f"{side}_shoulder"]] = sh
        out[:, J[f"{side}_elbow"]] = elbow
        out[:, J[f"{side}_wrist"]] = wrist
        out[:, J[f"{side}_hand"]] = wrist + 0.42 * shape.hand_len * hd
        out[:, J[f"{side}_hand_tip"]] = wrist + shape.hand_len * hd
        out[:, J[f"{side}_thumb"]] = wrist + 0.5 * shape.hand_len * _unit(hd + 1.1 * th)
        # the chest sides: a point under the shoulder, inside the trunk
        out[:, J[f"{side}_chest"]] = ss + _mv(Rc, [s * 0.55 * shape.shoulder_half,
                                                   -0.06 * h, 0.0])
    # legs: where a planted foot is out of reach, soften the knees (lower the whole body)
    drop = _reach_drop(shape, spec, Rp)
    if drop.any():
        out[:, :J["l_hip"]] -= drop[:, None, None] * np.array([0.0, 1.0, 0.0])
        out[:, J["l_chest"]:J["l_sole_back"]] -= drop[:, None, None] * np.array([0.0, 1.0, 0.0])
        P = P - drop[:, None] * np.array([0.0, 1.0, 0.0])
    for i, (s, side) in enumerate(((1.0, "l"), (-1.0, "r"))):
        hip = P + _mv(Rp, [s * shape.hip_half, -0.01 * h, 0.0])
        yaw, pitch = spec.foot_yaw[i], spec.foot_pitch[i].copy()
        rf = shape.radii()["foot"]
        for it in range(ankle_iters + 1):
            Rf = rot_y(yaw) @ rot_x(pitch)
            ankle = planted_ankle(shape, spec.ball[i], yaw, pitch)
            # never through the floor: raise the foot by its deepest sole point
            fp = _foot_points(shape, ankle, Rf, s)
            low = np.minimum(fp["sole_back"][:, 1], fp["sole_front"][:, 1]) - rf
            ankle[:, 1] += np.maximum(-low, 0.0)
            # the knee points forward-up of the pelvis (so it flexes the anatomical way for a
            # standing, sitting, kneeling or lying body) and tracks the foot's direction
            pole = _unit(_mv(Rp, [s * 0.12, 0.5, 1.0])) + 0.6 * _mv(Rf, [0.0, 0.0, 1.0])
            knee, ankle2 = _two_bone(hip, ankle, pole, shape.thigh, shape.shin,
                                     JOINT_LIMITS["knee_flex"][1])
            dorsi = _ankle_dorsiflexion(knee, ankle2, Rf)
            excess = dorsi - (JOINT_LIMITS["ankle_dorsi"][1] - 2 * _DEG)
            plantar = (JOINT_LIMITS["ankle_dorsi"][0] + 2 * _DEG) - dorsi
            if it == ankle_iters or ((excess <= 0).all() and (plantar <= 0).all()):
                break
            pitch = pitch + 1.2 * np.maximum(excess, 0.0) - 1.2 * np.maximum(plantar, 0.0)
        # keep the foot rigid on the solved ankle (the reach clamp may have moved it)
        fp = _foot_points(shape, ankle2, Rf, s)
        out[:, J[f"{side}_hip"]] = hip
        out[:, J[f"{side}_knee"]] = knee
        out[:, J[f"{side}_ankle"]] = ankle2
        for k in ("heel", "foot", "big_toe", "small_toe", "sole_back", "sole_front"):
            out[:, J[f"{side}_{k}"]] = fp[k]
    return out


def _reach_drop(shape: BodyShape, spec: PoseSpec, Rp: np.ndarray) -> np.ndarray:
    """How far (T,) to lower the pelvis so that every foot on the floor stays reachable with
    a knee bent at least a little (a straight-kneed stretch would lift the foot)."""
    l1, l2 = shape.thigh, shape.shin
    R = np.sqrt(l1 * l1 + l2 * l2 + 2 * l1 * l2 * np.cos(4 * _DEG))
    drop = np.zeros(spec.T)
    for i, s in enumerate((1.0, -1.0)):
        planted = spec.ball[i, :, 1] < 0.02
        if not planted.any():
            continue
        hip = spec.pelvis + _mv(Rp, [s * shape.hip_half, -0.01 * shape.height, 0.0])
        d = planted_ankle(shape, spec.ball[i], spec.foot_yaw[i], spec.foot_pitch[i]) - hip
        n2 = (d * d).sum(-1)
        dy = d[:, 1]
        disc = dy * dy - n2 + R * R
        # lower by x so that |d + x e_y| = R (the smaller root), when the foot is out of reach
        x = np.where(disc >= 0, -dy - np.sqrt(np.maximum(disc, 0.0)), np.sqrt(n2) - R)
        drop = np.maximum(drop, np.where(planted & (n2 > R * R), x, 0.0))
    return drop


def _ankle_dorsiflexion(knee: np.ndarray, ankle: np.ndarray, Rf: np.ndarray) -> np.ndarray:
    """Dorsiflexion (rad): how far the shin leans towards the toes past perpendicular."""
    shin = _unit(knee - ankle)
    fwd = _mv(Rf, [0.0, 0.0, 1.0])
    return np.pi / 2 - np.arccos(np.clip((shin * fwd).sum(-1), -1.0, 1.0))


def to_layout(joints: np.ndarray, layout: str) -> np.ndarray:
    """Select a layout's joints from body joints ``(..., len(BODY_JOINTS), C)``."""
    return joints[..., LAYOUT_MAPS[get_layout(layout).name], :]


#: parts (materials) of the capsules
PARTS = ("skin", "hair", "shirt", "trousers", "shoes", "sleeve")


def body_capsules(joints: np.ndarray, shape: BodyShape, long_sleeves: bool = True):
    """The body as tapered capsules: ends ``a, b (T, K, 3)``, radii ``ra, rb (K,)``, material
    index ``part (K,)`` into :data:`PARTS`. Shared by the renderer and the floor-contact test."""
    r = shape.radii()
    jt = joints
    head, top, nose = jt[:, J["head"]], jt[:, J["head_top"]], jt[:, J["nose"]]
    up = top - head
    fwd = nose - head
    caps = [
        (head - 0.12 * up, head + 0.18 * up, r["head"], r["head"], "skin"),
        (head + 0.34 * up - 0.22 * fwd, head + 0.34 * up - 0.22 * fwd, r["hair"], r["hair"],
         "hair"),
        (nose, nose, r["nose"], r["nose"], "skin"),
        (jt[:, J["spine_shoulder"]], jt[:, J["neck"]] + 0.3 * (head - jt[:, J["neck"]]),
         r["neck"], r["neck"], "skin"),
        (jt[:, J["l_chest"]], jt[:, J["l_hip"]], r["chest"], 0.9 * r["pelvis"], "shirt"),
        (jt[:, J["r_chest"]], jt[:, J["r_hip"]], r["chest"], 0.9 * r["pelvis"], "shirt"),
        (jt[:, J["spine_shoulder"]], jt[:, J["spine_mid"]], r["abdomen"], r["abdomen"], "shirt"),
        (jt[:, J["spine_mid"]], jt[:, J["pelvis"]], r["abdomen"], r["pelvis"], "shirt"),
        (jt[:, J["l_hip"]], jt[:, J["r_hip"]], r["pelvis"], r["pelvis"], "trousers"),
    ]
    for s in ("l", "r"):
        caps += [
            (jt[:, J[f"{s}_shoulder"]], jt[:, J[f"{s}_elbow"]], r["upper_arm"], r["elbow"],
             "shirt"),
            (jt[:, J[f"{s}_elbow"]], jt[:, J[f"{s}_wrist"]], r["elbow"], r["wrist"],
             "sleeve" if long_sleeves else "skin"),
            (jt[:, J[f"{s}_wrist"]], jt[:, J[f"{s}_hand_tip"]], r["hand"], r["finger"], "skin"),
            (jt[:, J[f"{s}_hip"]], jt[:, J[f"{s}_knee"]], r["thigh"], r["knee"], "trousers"),
            (jt[:, J[f"{s}_knee"]], jt[:, J[f"{s}_ankle"]], r["knee"], r["ankle"], "trousers"),
            (jt[:, J[f"{s}_sole_back"]], jt[:, J[f"{s}_sole_front"]], r["foot"], r["foot"],
             "shoes"),
        ]
    a = np.stack([c[0] for c in caps], 1)
    b = np.stack([c[1] for c in caps], 1)
    ra = np.array([c[2] for c in caps])
    rb = np.array([c[3] for c in caps])
    part = np.array([PARTS.index(c[4]) for c in caps])
    return a, b, ra, rb, part


def surface_min_y(joints: np.ndarray, shape: BodyShape) -> np.ndarray:
    """Lowest point of the body surface per frame (T,): 0 means touching the floor."""
    a, b, ra, rb, _ = body_capsules(joints, shape)
    return np.minimum((a[..., 1] - ra).min(1), (b[..., 1] - rb).min(1))
