"""The 10 BMP action classes as procedural motions with styles and per-sample variation.

Each action writes a :class:`~.body.PoseSpec` over a clip of fixed real duration (the frame
count only changes the sampling, so a tiny 8-frame test world shows the same actions as the
32-frame demo). Variation per sample: body shape (from the performer), tempo, amplitude,
onset, start pose (stance, toe-out, arm hang, head tilt, sway), style, position and facing.
Physics where it is cheap to be right: a jump's flight is ballistic (g = 9.81) with the
take-off speed its height needs; feet stay planted unless a style lifts them; a fall ends with
the body resting on the floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from .body import (
    BodyShape,
    PoseSpec,
    chest_frame,
    forward,
    planted_ankle,
    rot_x,
    rot_y,
    rot_z,
    standing_pelvis_height,
    surface_min_y,
)

__all__ = ["ActionClass", "BMP_ACTIONS", "CLASS_SETS", "Motion", "StartPose", "get_classes",
           "sample_start", "generate_motion", "GRAVITY"]

GRAVITY = 9.81
_DEG = np.pi / 180


@dataclass(frozen=True)
class ActionClass:
    """One class: its label index, NTU RGB+D 120 action id (``A006``), name and styles."""

    label: int
    ntu_id: int
    name: str
    key: str
    styles: tuple[str, ...]
    duration: float  # seconds at tempo 1

    @property
    def code(self) -> str:
        return f"A{self.ntu_id:03d}"


#: the BMP protocol's 10 classes, in label order (specs/mp.md section 13.1)
BMP_ACTIONS: tuple[ActionClass, ...] = (
    ActionClass(0, 6, "pick up", "pick_up", ("stoop", "squat", "one_hand", "step_squat"), 2.6),
    ActionClass(1, 7, "throw", "throw", ("overhand", "underhand", "sidearm"), 2.0),
    ActionClass(2, 8, "sit down", "sit_down",
                ("hands_on_thighs", "hands_on_seat", "arms_forward", "lean_back"), 2.6),
    ActionClass(3, 9, "stand up", "stand_up",
                ("push_thighs", "arms_forward", "push_seat", "lean_then_rise"), 2.4),
    ActionClass(4, 24, "kick something", "kick", ("swing_kick", "front_kick", "toe_poke",
                                                  "step_kick"), 1.9),
    ActionClass(5, 27, "jump up", "jump_up", ("arm_swing", "arms_down", "tuck", "double"), 2.2),
    ActionClass(6, 31, "point to something", "point", ("straight_arm", "bent_arm",
                                                      "look_and_point", "point_twice"), 2.6),
    ActionClass(7, 35, "nod head/bow", "nod_bow", ("nod", "bow", "deep_bow", "bow_hands_front"),
                2.2),
    ActionClass(8, 43, "falling", "falling", ("backward", "sideways", "forward", "collapse"), 2.6),
    ActionClass(9, 97, "arm circles", "arm_circles", ("small_forward", "small_backward",
                                                      "big_forward", "big_backward", "one_arm"),
                3.0),
)
CLASS_SETS = {"bmp10": BMP_ACTIONS}


def get_classes(classes: str | tuple | list = "bmp10") -> tuple[ActionClass, ...]:
    """``"bmp10"`` (all ten), or a comma list / sequence of class keys, names or NTU codes,
    relabelled 0..n-1 in the given order."""
    if isinstance(classes, str) and classes.lower() in CLASS_SETS:
        return CLASS_SETS[classes.lower()]
    items = classes.split(",") if isinstance(classes, str) else list(classes)
    out = []
    for it in items:
        key = str(it).strip().lower()
        match = [a for a in BMP_ACTIONS
                 if key in (a.key, a.name, a.code.lower(), str(a.ntu_id), a.name.replace(" ", "_"))]
        if not match:
            raise ConfigError(f"unknown action class {it!r}; choose from "
                              f"{', '.join(a.key for a in BMP_ACTIONS)} or 'bmp10'")
        a = match[0]
        out.append(ActionClass(len(out), a.ntu_id, a.name, a.key, a.styles, a.duration))
    if len({a.key for a in out}) != len(out) or not out:
        raise ConfigError(f"class list {classes!r} is empty or repeats a class")
    return tuple(out)


# ----------------------------------------------------------------------------- helpers
def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _ramp(s: np.ndarray, a: float, b: float) -> np.ndarray:
    return _smooth((s - a) / max(b - a, 1e-6))


def _keys(s: np.ndarray, knots, values) -> np.ndarray:
    """Shape-preserving (PCHIP) interpolation of keyframe ``values`` (K, ...) at phases ``s``.

    The same arithmetic as ``scipy.interpolate.PchipInterpolator`` (Fritsch-Butland slopes,
    Moler's one-sided end slopes, Hermite cubics evaluated low order first), in plain numpy:
    importing scipy.interpolate cost every world worker ~1 s, and building a scipy object per
    call was most of the motion's time.
    """
    x = np.asarray(knots, np.float64)
    y = np.asarray(values, np.float64)
    shape = y.shape[1:]
    y = y.reshape(len(y), -1)
    h = np.diff(x)
    if len(x) < 2 or len(y) != len(x) or not (h > 0).all():
        raise ValueError(f"keyframes need >= 2 strictly increasing knots, got {x.tolist()}")
    hc = h[:, None]
    m = (y[1:] - y[:-1]) / hc
    d = np.empty_like(y)
    if len(x) == 2:
        d[0] = d[1] = m[0]
    else:
        sm = np.sign(m)
        flat = (sm[1:] != sm[:-1]) | (m[1:] == 0) | (m[:-1] == 0)
        w1 = 2 * hc[1:] + hc[:-1]
        w2 = hc[1:] + 2 * hc[:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            whmean = (w1 / m[:-1] + w2 / m[1:]) / (w1 + w2)
            d[1:-1] = np.where(flat, 0.0, 1.0 / whmean)
        d[0] = _end_slope(h[0], h[1], m[0], m[1])
        d[-1] = _end_slope(h[-1], h[-2], m[-1], m[-2])
    t = (d[:-1] + d[1:] - 2 * m) / hc
    c0, c1, c2, c3 = t / hc, (m - d[:-1]) / hc - t, d[:-1], y[:-1]
    xs = np.clip(np.asarray(s, np.float64), x[0], x[-1])
    i = np.clip(np.searchsorted(x, xs, side="right") - 1, 0, len(h) - 1)
    u = (xs - x[i])[..., None]
    u2 = u * u
    out = c3[i] + c2[i] * u + c1[i] * u2 + c0[i] * (u2 * u)
    return out.reshape(xs.shape + shape)


def _end_slope(h0: float, h1: float, m0: np.ndarray, m1: np.ndarray) -> np.ndarray:
    """One-sided three-point end slope, kept shape-preserving (Moler, pchiptx.m)."""
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    wrong = np.sign(d) != np.sign(m0)
    big = (np.sign(m0) != np.sign(m1)) & (np.abs(d) > 3.0 * np.abs(m0))
    return np.where(wrong, 0.0, np.where(big, 3.0 * m0, d))


@dataclass
class StartPose:
    """How a performer stands before acting; part of the per-sample variation."""

    stance: float = 0.11        # ankle distance from the midline (m)
    toe_out: float = 0.15       # rad
    arm_out: float = 0.12       # hanging-arm abduction (rad)
    arm_fwd: float = 0.03       # hanging-arm forward angle (rad)
    elbow: float = 0.25         # hanging-arm elbow flexion (rad)
    weight: float = 0.0         # lateral weight shift of the pelvis (m)
    head: tuple[float, float] = (0.0, 0.0)  # neck flexion, lateral tilt (rad)
    sway: float = 0.008         # idle sway amplitude (m)
    sway_phase: float = 0.0

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else round(float(v), 5))
                for k, v in self.__dict__.items()}


def sample_start(rng: np.random.Generator, shape: BodyShape) -> StartPose:
    u = rng.uniform
    return StartPose(stance=float(shape.hip_half * u(0.85, 1.7)), toe_out=float(u(0.05, 0.3)),
                     arm_out=float(u(0.05, 0.22)), arm_fwd=float(u(-0.04, 0.12)),
                     elbow=float(u(0.1, 0.5)), weight=float(u(-0.02, 0.02)),
                     head=(float(u(-0.08, 0.15)), float(u(-0.07, 0.07))),
                     sway=float(u(0.003, 0.012)), sway_phase=float(u(0, 2 * np.pi)))


@dataclass
class Motion:
    """A generated performance: world joints ``(T, len(BODY_JOINTS), 3)``, the body, the props
    it interacts with, and JSON-able metadata (action, style, timing, variation)."""

    joints: np.ndarray
    shape: BodyShape
    props: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


class _Ctx:
    """The state one action function edits: timing, variation and the spec."""

    def __init__(self, shape, t, rng, amp, tempo, onset, dur, start: StartPose):
        self.shape, self.t, self.rng = shape, t, rng
        self.T = len(t)
        self.amp, self.tempo, self.onset, self.dur = amp, tempo, onset, dur
        self.s = np.clip((t - onset) / dur, 0.0, 1.0)
        self.start = start
        self.H = shape.height
        self.props: dict = {}
        self.meta: dict = {}
        self.post_ground: np.ndarray | None = None  # per-frame weight to rest on the floor
        self.spec = self._standing()

    # the idle stance every action starts from
    def _standing(self) -> PoseSpec:
        sh, st, T, t = self.shape, self.start, self.T, self.t
        y0 = standing_pelvis_height(sh, st.stance)
        self.y0 = y0
        pelvis = np.zeros((T, 3))
        pelvis[:, 1] = y0 + 0.002 * np.sin(2 * np.pi * 0.3 * t)  # breathing
        pelvis[:, 0] = st.weight + st.sway * np.sin(2 * np.pi * 0.22 * t + st.sway_phase)
        pelvis[:, 2] = -0.01 * sh.height
        z = np.zeros(T)
        trunk = np.stack([0.03 + z, -2.0 * pelvis[:, 0], z], -1)
        neck = np.stack([st.head[0] + z, st.head[1] + z, z], -1)
        ball = np.zeros((2, T, 3))
        fy = np.stack([st.toe_out + z, -st.toe_out + z])
        for i, s in enumerate((1.0, -1.0)):
            ball[i, :, 0] = s * st.stance + np.sin(s * st.toe_out) * sh.ball_fwd
            ball[i, :, 2] = np.cos(st.toe_out) * sh.ball_fwd
        spec = PoseSpec(pelvis=pelvis, yaw=z.copy(), pitch=0.02 + z, roll=z.copy(), trunk=trunk,
                        neck=neck, wrist=np.zeros((2, T, 3)), elbow_pole=np.zeros((2, T, 3)),
                        hand_flex=np.full((2, T), 0.15), ball=ball, foot_yaw=fy,
                        foot_pitch=np.zeros((2, T)))
        for i, s in enumerate((1.0, -1.0)):
            spec.elbow_pole[i] = [s * 0.35, -0.25, -1.0]
        spec.wrist[:] = self.hang(spec)
        return spec

    def hang(self, spec: PoseSpec | None = None, elbow: float | None = None) -> np.ndarray:
        """Chest-frame wrist vectors (2, T, 3) of arms hanging along gravity (in the body's yaw
        frame), so arms keep hanging when the trunk bends."""
        spec = self.spec if spec is None else spec
        sh, st = self.shape, self.start
        e = st.elbow if elbow is None else elbow
        l1, l2 = sh.upper_arm, sh.forearm
        dist = np.sqrt(l1 * l1 + l2 * l2 + 2 * l1 * l2 * np.cos(e))
        Rc, _, _ = chest_frame(sh, spec)
        Ry = rot_y(spec.yaw)
        out = np.zeros((2, self.T, 3))
        for i, s in enumerate((1.0, -1.0)):
            v = np.array([s * np.sin(st.arm_out), -np.cos(st.arm_out), np.sin(st.arm_fwd)])
            v = v / np.linalg.norm(v) * dist
            w = np.einsum("tij,j->ti", Ry, v)
            out[i] = np.einsum("tji,tj->ti", Rc, w)  # R^T w
        return out

    def world_to_wrist(self, i: int, target: np.ndarray) -> np.ndarray:
        """Chest-frame wrist vectors (T, 3) that put wrist ``i`` (0 left, 1 right) on world
        ``target`` (3,) or (T, 3), given the spec's current pelvis and trunk."""
        Rc, sh, _ = chest_frame(self.shape, self.spec)
        return np.einsum("tji,tj->ti", Rc, np.broadcast_to(target, (self.T, 3)) - sh[i])

    def step(self, i: int, a: float, b: float, delta, lift: float = 0.05) -> None:
        """Move foot ``i`` by ``delta`` (dx, dz) between phases a and b, lifting it mid-way."""
        s = self.s
        u = np.clip((s - a) / (b - a), 0.0, 1.0)
        w = _smooth(u)
        self.spec.ball[i, :, 0] += w * delta[0]
        self.spec.ball[i, :, 2] += w * delta[1]
        self.spec.ball[i, :, 1] += lift * np.sin(np.pi * u)
        self.spec.foot_pitch[i] += 0.35 * np.sin(np.pi * np.clip(u * 1.6, 0, 1))


def _seated_geometry(ctx: _Ctx, seat_h: float):
    """Pelvis height and depth of a person sitting on a seat of height ``seat_h`` with ankles
    where they stand, and the chair centre depth that supports it."""
    sh = ctx.shape
    y_hip = seat_h + 0.05 * sh.height
    knee_y = sh.ankle_h + sh.shin * np.cos(10 * _DEG)
    dy = y_hip - knee_y
    hip_z = 0.04 - np.sqrt(max(sh.thigh ** 2 - dy ** 2, 0.3 * sh.thigh ** 2))
    return y_hip + 0.01 * sh.height, hip_z


def _chair(ctx: _Ctx, seat_h: float, seat_center_z: float) -> dict:
    r = ctx.rng
    return {"x": 0.0, "z": float(seat_center_z), "yaw": 0.0, "seat_h": float(seat_h),
            "seat_w": float(r.uniform(0.40, 0.48)), "seat_d": float(r.uniform(0.38, 0.44)),
            "back_h": float(r.uniform(0.35, 0.45)), "color": int(r.integers(0, 1 << 24))}


# ----------------------------------------------------------------------------- the actions
def _pick_up(ctx: _Ctx, style: str) -> None:
    sp, s, H, a, r = ctx.spec, ctx.s, ctx.H, ctx.amp, ctx.rng
    knots = [0.0, 0.38, 0.52, 0.88, 1.0]
    hand = int(r.random() < 0.75)  # 1 = right
    step = style == "step_squat"
    obj = np.array([r.uniform(-0.1, 0.1), 0.05, r.uniform(0.25, 0.42) * H / 1.7])
    if step:
        i_step = 1 - hand if r.random() < 0.5 else hand
        d = r.uniform(0.12, 0.2) * H
        ctx.step(i_step, 0.02, 0.3, (0.0, d))
        obj[2] += 0.4 * d
        sp.pelvis[:, 2] += 0.45 * d * _ramp(s, 0.05, 0.32)
    if style == "stoop":
        down, back, flex, neck = 0.04 * H, 0.07 * H, r.uniform(70, 92) * _DEG, -15 * _DEG
    elif style == "squat" or step:
        down, back, flex, neck = r.uniform(0.17, 0.24) * H, 0.06 * H, r.uniform(30, 48) * _DEG, 10 * _DEG
    else:  # one hand
        down, back, flex, neck = 0.05 * H, 0.06 * H, r.uniform(65, 85) * _DEG, -10 * _DEG
        obj[0] += (-1 if hand else 1) * 0.12
    prof = _keys(s, knots, [0, 1, 1, 0.12, 0])
    sp.pelvis[:, 1] -= down * a * prof
    sp.pelvis[:, 2] -= back * prof
    sp.trunk[:, 0] += flex * min(a, 1.1) * prof
    sp.neck[:, 0] += neck * prof
    if style == "one_hand":
        sp.trunk[:, 1] += (1 if hand else -1) * 10 * _DEG * prof
    hang = ctx.hang()
    reach = _ramp(s, 0.12, 0.36) * (1 - _ramp(s, 0.55, 0.78))
    hold = _ramp(s, 0.55, 0.82)
    hands = (hand,) if style == "one_hand" else (0, 1)
    for i in (0, 1):
        side = 1.0 if i == 0 else -1.0
        if i in hands:
            tgt = obj + np.array([side * (0.07 if len(hands) == 2 else 0.0),
                                  0.6 * ctx.shape.hand_len, 0.0])
            v_reach = ctx.world_to_wrist(i, tgt)
            # holding the object in front of the belly, elbows bent
            v_hold = np.array([-side * 0.03 * H, -0.26 * H, 0.1 * H])
            if len(hands) == 1:
                v_hold = np.array([side * 0.05 * H, -0.27 * H, 0.07 * H])
            w = hang[i] * (1 - reach - hold)[:, None] + v_reach * reach[:, None] \
                + v_hold * hold[:, None]
            sp.wrist[i] = w
            sp.hand_flex[i] = 0.15 + 0.5 * reach
        else:
            sp.wrist[i] = hang[i]
    ctx.props["object"] = {"x": float(obj[0]), "z": float(obj[2])}


def _throw(ctx: _Ctx, style: str) -> None:
    sp, s, H, a, r = ctx.spec, ctx.s, ctx.H, ctx.amp, ctx.rng
    hand = int(r.random() < 0.8)
    sd = -1.0 if hand else 1.0  # x sign of the throwing side
    knots = [0.0, 0.40, 0.53, 0.66, 1.0]
    hang = None
    if r.random() < 0.6:  # step into the throw with the other foot
        d = r.uniform(0.1, 0.2) * H * a
        ctx.step(1 - hand, 0.28, 0.52, (0.0, d))
        sp.pelvis[:, 2] += 0.45 * d * _ramp(s, 0.3, 0.6)
        ctx.meta["step"] = True
    twist = _keys(s, knots, [0, sd * 30, -sd * 15, -sd * 25, 0]) * _DEG * a
    sp.trunk[:, 2] += twist
    sp.yaw += 0.35 * twist
    sp.trunk[:, 0] += _keys(s, knots, [0, -8, 20, 28, 0]) * _DEG * a
    sp.neck[:, 2] -= 0.5 * twist
    hang = ctx.hang()
    if style == "overhand":
        cock, rel, fol = (sd * 0.17, 0.10, -0.08), (sd * 0.06, 0.14, 0.24), (-sd * 0.06, -0.18, 0.2)
        pole = [(sd * 1.0, -0.2, -0.6), (sd * 0.6, -0.6, -0.4)]
    elif style == "underhand":
        cock, rel, fol = (sd * 0.08, -0.26, -0.16), (sd * 0.04, -0.16, 0.26), (sd * 0.02, 0.05, 0.27)
        pole = [(sd * 0.3, -0.3, -1.0), (sd * 0.3, -0.5, -1.0)]
    else:  # sidearm
        cock, rel, fol = (sd * 0.26, -0.08, -0.12), (sd * 0.2, -0.04, 0.22), (-sd * 0.12, -0.1, 0.2)
        pole = [(sd * 0.2, -1.0, -0.3), (sd * 0.2, -1.0, -0.2)]
    i_t = hand
    base = hang[i_t][0]
    vals = [base, np.array(cock) * H, np.array(rel) * H, np.array(fol) * H, base]
    v = _keys(s, knots, vals)
    v = hang[i_t] + (v - base) * a  # amplitude scales the excursion
    w_end = _ramp(s, 0.9, 1.0)
    sp.wrist[i_t] = v * (1 - w_end)[:, None] + hang[i_t] * w_end[:, None]
    p = _keys(s, [0, 0.4, 0.6, 1.0], [sp.elbow_pole[i_t][0], pole[0], pole[1],
                                        sp.elbow_pole[i_t][0]])
    sp.elbow_pole[i_t] = p
    sp.hand_flex[i_t] = _keys(s, knots, [0.15, -0.5, 0.3, 0.5, 0.15])
    # the guide arm points at the target, then pulls down
    i_g = 1 - hand
    g_base = hang[i_g][0]
    gv = _keys(s, knots, [g_base, np.array([-sd * 0.1, 0.02, 0.24]) * H,
                          np.array([-sd * 0.12, -0.2, 0.06]) * H, g_base, g_base])
    sp.wrist[i_g] = hang[i_g] + (gv - g_base)
    ctx.meta["hand"] = "right" if hand else "left"


def _sit_down(ctx: _Ctx, style: str) -> None:
    sp, s, H, r = ctx.spec, ctx.s, ctx.H, ctx.rng
    seat_h = r.uniform(0.42, 0.50)
    yf, hz = _seated_geometry(ctx, seat_h)
    ctx.props["chair"] = _chair(ctx, seat_h, hz - 0.02)
    knots = [0.0, 0.28, 0.58, 0.78, 1.0]
    y0 = ctx.y0
    final_flex = (-8 if style == "lean_back" else r.uniform(0, 8)) * _DEG
    sp.pelvis[:, 2] += _keys(s, knots, [0, 0.18 * hz, 0.85 * hz, hz, hz]) + 0.01 * H
    sp.pelvis[:, 1] += _keys(s, knots, [0, -0.05 * H, yf + 0.015 - y0, yf - y0, yf - y0])
    fl = r.uniform(35, 50) * _DEG
    sp.trunk[:, 0] += _keys(s, knots, [0, fl, 0.8 * fl, 15 * _DEG, final_flex])
    sp.neck[:, 0] += _keys(s, knots, [0, -12, -10, 0, 0]) * _DEG
    if style == "lean_back":
        sp.pitch -= 10 * _DEG * _ramp(s, 0.75, 1.0)
    hang = ctx.hang()
    lap = _lap_targets(ctx, seat_h, hz)
    to_lap = _ramp(s, 0.62, 0.9)
    for i in (0, 1):
        side = 1.0 if i == 0 else -1.0
        v = hang[i].copy()
        if style == "hands_on_seat":
            seat_pt = np.array([side * 0.24, seat_h + 0.03 + 0.6 * ctx.shape.hand_len, hz - 0.05])
            w = _ramp(s, 0.25, 0.55) * (1 - _ramp(s, 0.8, 0.97))
            v = v * (1 - w)[:, None] + ctx.world_to_wrist(i, seat_pt) * w[:, None]
        elif style == "arms_forward":
            w = _ramp(s, 0.15, 0.45) * (1 - _ramp(s, 0.6, 0.85))
            v = v * (1 - w)[:, None] + np.array([side * 0.08, -0.1, 0.26]) * H * w[:, None]
        v = v * (1 - to_lap)[:, None] + ctx.world_to_wrist(i, lap[i]) * to_lap[:, None]
        sp.wrist[i] = v
        sp.elbow_pole[i] = [side * 0.5, -0.2, -1.0]


def _lap_targets(ctx: _Ctx, seat_h: float, hz: float) -> np.ndarray:
    sh = ctx.shape
    return np.array([[s * (sh.hip_half + 0.01), seat_h + 0.05 * sh.height + 0.06,
                      hz + 0.55 * sh.thigh] for s in (1.0, -1.0)])


def _stand_up(ctx: _Ctx, style: str) -> None:
    sp, s, H, r = ctx.spec, ctx.s, ctx.H, ctx.rng
    seat_h = r.uniform(0.42, 0.50)
    yf, hz = _seated_geometry(ctx, seat_h)
    ctx.props["chair"] = _chair(ctx, seat_h, hz - 0.02)
    y0 = ctx.y0
    knots = [0.0, 0.3, 0.55, 0.8, 1.0]
    start_flex = r.uniform(-5, 8) * _DEG
    lean = r.uniform(40, 55) * _DEG
    if style == "lean_then_rise":
        knots = [0.0, 0.4, 0.62, 0.84, 1.0]
    sp.pelvis[:, 2] += _keys(s, knots, [hz, hz + 0.04, 0.4 * hz, 0.05 * hz, 0]) + 0.01 * H
    sp.pelvis[:, 1] += _keys(s, knots, [yf - y0, yf - y0 + 0.005, 0.45 * (yf - y0), -0.02 * H, 0])
    sp.trunk[:, 0] += _keys(s, knots, [start_flex, lean, 0.85 * lean, 12 * _DEG, 0])
    sp.neck[:, 0] += _keys(s, knots, [0, -10, -10, 0, 0]) * _DEG
    hang = ctx.hang()
    lap = _lap_targets(ctx, seat_h, hz)
    off_lap = _ramp(s, 0.3, 0.6) if style in ("push_thighs", "lean_then_rise") else \
        _ramp(s, 0.05, 0.3)
    for i in (0, 1):
        side = 1.0 if i == 0 else -1.0
        v = ctx.world_to_wrist(i, lap[i]) * (1 - off_lap)[:, None] + hang[i] * off_lap[:, None]
        if style == "arms_forward":
            w = _ramp(s, 0.15, 0.4) * (1 - _ramp(s, 0.62, 0.9))
            v = v * (1 - w)[:, None] + np.array([side * 0.08, -0.06, 0.27]) * H * w[:, None]
        elif style == "push_seat":
            seat_pt = np.array([side * 0.24, seat_h + 0.03 + 0.6 * ctx.shape.hand_len, hz - 0.05])
            w = _ramp(s, 0.05, 0.25) * (1 - _ramp(s, 0.48, 0.7))
            v = v * (1 - w)[:, None] + ctx.world_to_wrist(i, seat_pt) * w[:, None]
        sp.wrist[i] = v
        sp.elbow_pole[i] = [side * 0.5, -0.2, -1.0]


def _kick(ctx: _Ctx, style: str) -> None:
    sp, s, H, a, r = ctx.spec, ctx.s, ctx.H, ctx.amp, ctx.rng
    ik = int(r.random() < 0.75)  # kicking foot: 1 = right
    isup = 1 - ik
    ssup = 1.0 if isup == 0 else -1.0
    knots = [0.0, 0.15, 0.36, 0.52, 0.68, 0.86, 1.0]
    if style == "step_kick":
        d = r.uniform(0.1, 0.18) * H
        ctx.step(isup, 0.0, 0.14, (0.0, d))
        ctx.spec.ball[ik, :, 2] += d * _ramp(s, 0.0, 0.15)  # the kicking foot starts from there
        sp.pelvis[:, 2] += 0.9 * d * _ramp(s, 0.02, 0.2)
    shift = _keys(s, knots, [0, 1, 1, 1, 1, 0.3, 0])
    sp.pelvis[:, 0] += ssup * ctx.start.stance * 0.75 * shift
    sp.roll += -ssup * 3 * _DEG * shift
    high = r.uniform(0.06, 0.3) * H * a
    if style == "front_kick":
        back, front = (0.08 * H, 0.27 * H), (0.30 * H * a, max(high, 0.2 * H))
    elif style == "toe_poke":
        back, front = (-0.08 * H, 0.05 * H), (0.2 * H * a, 0.04 * H)
    else:
        back, front = (-0.18 * H * a, 0.1 * H), (0.3 * H * a, high)
    dz = _keys(s, knots, [0, 0, back[0], front[0], 0.08 * H, 0.01, 0])
    dy = _keys(s, knots, [0, 0, back[1], front[1], 0.1 * H, 0.01, 0])
    sp.ball[ik, :, 2] += dz
    sp.ball[ik, :, 1] += dy
    sp.ball[ik, :, 0] += -ssup * 0.03 * _ramp(s, 0.15, 0.4) * (1 - _ramp(s, 0.7, 0.9))
    sp.foot_pitch[ik] += _keys(s, knots, [0, 0.3, 0.7, 0.3 if style != "front_kick" else -0.2,
                                          0.3, 0.05, 0]) * 1.0
    sp.foot_yaw[ik] *= 1 - _ramp(s, 0.15, 0.35) * (1 - _ramp(s, 0.7, 0.9))
    lean = _keys(s, knots, [0, 2, 6, -12 * a, -4, 0, 0]) * _DEG
    sp.trunk[:, 0] += lean
    sp.pitch += 0.5 * lean
    hang = ctx.hang()
    swing = _keys(s, knots, [0, 0, -0.6, 1.0, 0.4, 0, 0])
    for i in (0, 1):
        side = 1.0 if i == 0 else -1.0
        sgn = 1.0 if i == isup else -1.0  # support-side arm swings forward with the kick
        v = hang[i] + np.array([side * 0.06, 0.05, sgn * 0.16]) * H * (swing * a)[:, None]
        sp.wrist[i] = v
    ctx.meta["foot"] = "right" if ik else "left"


def _jump_up(ctx: _Ctx, style: str) -> None:
    sp, H, a, r, t = ctx.spec, ctx.H, ctx.amp, ctx.rng, ctx.t
    sh = ctx.shape
    y0 = ctx.y0
    jumps = 2 if style == "double" else 1
    heights = [r.uniform(0.12, 0.32) * a] + ([r.uniform(0.08, 0.16)] if jumps == 2 else [])
    crouch = r.uniform(0.09, 0.16) * H
    lift_pitch = r.uniform(0.7, 0.95)
    lift = planted_ankle(sh, np.zeros((1, 3)), np.zeros(1), np.array([lift_pitch]))[0, 1] \
        - sh.ankle_h
    y_to = y0 + lift + 0.005 * H
    # durations: crouch, push, flight (physics), land, recover; squeezed to fit the clip
    segs = []
    for k, h in enumerate(heights):
        v0 = np.sqrt(2 * GRAVITY * h)
        segs.append({"crouch": (r.uniform(0.35, 0.6) if k == 0 else 0.15) / ctx.tempo,
                     "push": r.uniform(0.18, 0.26), "flight": 2 * v0 / GRAVITY, "v0": v0,
                     "land": r.uniform(0.2, 0.3), "recover": r.uniform(0.3, 0.6) / ctx.tempo,
                     "h": h})
    total = sum(g["crouch"] + g["push"] + g["flight"] + g["land"] for g in segs) \
        + segs[-1]["recover"]
    span = t[-1] - t[0] if ctx.T > 1 else 1.0
    avail = 0.94 * span
    if total > avail:  # squeeze what is not physics
        k = max((avail - sum(g["flight"] for g in segs)) / (total - sum(g["flight"] for g in segs)),
                0.2)
        for g in segs:
            for key in ("crouch", "push", "land", "recover"):
                g[key] *= k
        total = sum(g["crouch"] + g["push"] + g["flight"] + g["land"] for g in segs) \
            + segs[-1]["recover"]
    t0 = t[0] + r.uniform(0.02, 1.0) * max(avail - total, 0.0) + 0.03 * span
    ctx.meta.update(jump_height=[round(float(g["h"]), 4) for g in segs],
                    flight_time=[round(float(g["flight"]), 4) for g in segs], takeoff=[])
    y = np.full(ctx.T, y0)
    lift_w = np.zeros(ctx.T)    # heel lift weight
    air = np.zeros(ctx.T)       # feet follow the pelvis
    arm = np.zeros(ctx.T)       # arm swing phase -1 (back) .. 1 (overhead)
    flex = np.zeros(ctx.T)
    tuck = np.zeros(ctx.T)
    tc = t0
    y_start = y0
    for k, g in enumerate(segs):
        yc = y0 - crouch * (1.0 if k == 0 else 0.6)
        a0, a1 = tc, tc + g["crouch"]
        m = (t >= a0) & (t < a1)
        u = _smooth((t[m] - a0) / g["crouch"])
        y[m] = y_start + (yc - y_start) * u
        arm[m] = -u
        flex[m] = 0.5 * u
        b0, b1 = a1, a1 + g["push"]
        m = (t >= b0) & (t < b1)
        u = (t[m] - b0) / g["push"]
        dt = g["push"]
        # cubic Hermite: (yc, v 0) -> (y_to, v0)
        h00, h01, h11 = 2 * u**3 - 3 * u**2 + 1, -2 * u**3 + 3 * u**2, u**3 - u**2
        y[m] = h00 * yc + h01 * y_to + h11 * dt * g["v0"]
        lift_w[m] = _smooth(u * 1.3 - 0.3)
        arm[m] = -1 + 2 * _smooth(u)
        flex[m] = 0.5 * (1 - u)
        c0, c1 = b1, b1 + g["flight"]
        m = (t >= c0) & (t < c1)
        tau = t[m] - c0
        y[m] = y_to + g["v0"] * tau - 0.5 * GRAVITY * tau**2
        air[m] = 1.0
        lift_w[m] = 1.0 - 0.5 * _smooth(tau / g["flight"])
        arm[m] = 1.0
        if style == "tuck":
            tuck[m] = np.sin(np.pi * tau / g["flight"])
        ctx.meta["takeoff"].append(round(float(c0), 4))
        d0, d1 = c1, c1 + g["land"]
        m = (t >= d0) & (t < d1)
        u = (t[m] - d0) / g["land"]
        yl = y0 - 0.5 * crouch
        h00, h01, h10 = 2 * u**3 - 3 * u**2 + 1, -2 * u**3 + 3 * u**2, u**3 - 2 * u**2 + u
        y[m] = h00 * y_to + h01 * yl + h10 * g["land"] * (-g["v0"])
        lift_w[m] = 0.5 * (1 - _smooth(u * 2))
        arm[m] = 0.3 - 0.6 * _smooth(u)
        flex[m] = 0.6 * _smooth(u)
        tc = d1
        y_start = yl
    e0, e1 = tc, tc + segs[-1]["recover"]
    m = (t >= e0) & (t < e1)
    u = _smooth((t[m] - e0) / segs[-1]["recover"])
    y[m] = y_start + (y0 - y_start) * u
    arm[m] = -0.3 * (1 - u)
    flex[m] = 0.6 * (1 - u)
    sp.pelvis[:, 1] += y - y0
    sp.trunk[:, 0] += flex * r.uniform(35, 50) * _DEG
    sp.pitch += flex * 10 * _DEG
    for i in (0, 1):
        sp.ball[i, :, 1] += air * (y - y_to) + tuck * 0.16 * H
        sp.ball[i, :, 2] += tuck * 0.1 * H
        sp.foot_pitch[i] += lift_w * lift_pitch
    hang = ctx.hang()
    amp_arm = 0.25 if style == "arms_down" else 1.0
    for i in (0, 1):
        side = 1.0 if i == 0 else -1.0
        back = np.array([side * 0.08, -0.27, -0.17]) * H
        up = np.array([side * 0.1, 0.3, 0.12]) * H if style != "tuck" else \
            np.array([side * 0.08, -0.02, 0.28]) * H
        wb = np.clip(-arm, 0, 1)[:, None] * amp_arm
        wu = np.clip(arm, 0, 1)[:, None] * amp_arm
        sp.wrist[i] = hang[i] * (1 - wb - wu) + back * wb + up * wu
        sp.elbow_pole[i] = [side * 0.4, -0.6, -1.0]


def _point(ctx: _Ctx, style: str) -> None:
    sp, s, H, r = ctx.spec, ctx.s, ctx.H, ctx.rng
    hand = int(r.random() < 0.75)
    sd = -1.0 if hand else 1.0
    targets = 2 if style == "point_twice" else 1
    dirs = []
    for _ in range(targets):
        az = r.uniform(-80, 30) if hand else r.uniform(-30, 80)
        el = r.uniform(-15, 40)
        dirs.append((az * _DEG, el * _DEG))
    ext = 0.8 if style == "bent_arm" else 0.985
    dist = ctx.shape.arm_reach * ext
    look = 0.15 if style == "look_and_point" else 0.0
    if targets == 1:
        w = _ramp(s, 0.08 + look, 0.32 + look) * (1 - _ramp(s, 0.76, 0.98))
        az = np.full(ctx.T, dirs[0][0])
        el = np.full(ctx.T, dirs[0][1])
    else:
        w = _ramp(s, 0.05, 0.25) * (1 - _ramp(s, 0.8, 0.98))
        m = _ramp(s, 0.42, 0.58)
        az = dirs[0][0] * (1 - m) + dirs[1][0] * m
        el = dirs[0][1] * (1 - m) + dirs[1][1] * m
    head_w = _ramp(s, 0.0, 0.2 + look) * (1 - _ramp(s, 0.8, 1.0))
    sp.neck[:, 2] += np.clip(0.7 * az, -60 * _DEG, 60 * _DEG) * head_w
    sp.neck[:, 0] += -0.4 * el * head_w
    sp.trunk[:, 2] += 0.2 * az * w
    hang = ctx.hang()
    shoulder_dir = np.stack([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)], -1)
    # wrist relative to the shoulder: reach along the pointing direction, a little inwards
    tremor = 0.004 * H * np.sin(2 * np.pi * 1.7 * ctx.t + r.uniform(0, 6))[:, None]
    v = shoulder_dir * dist + np.array([-sd * 0.0, 0.0, 0.0]) + tremor
    i = hand
    sp.wrist[i] = hang[i] * (1 - w)[:, None] + v * w[:, None]
    sp.elbow_pole[i] = np.array([sd * 0.3, -1.0, -0.3]) * w[:, None] + \
        sp.elbow_pole[i] * (1 - w)[:, None]
    sp.hand_flex[i] = 0.15 * (1 - w)
    sp.wrist[1 - i] = hang[1 - i]
    ctx.meta.update(hand="right" if hand else "left",
                    direction_deg=[[round(float(d[0] / _DEG), 2), round(float(d[1] / _DEG), 2)]
                                   for d in dirs])


def _nod_bow(ctx: _Ctx, style: str) -> None:
    sp, s, H, a, r = ctx.spec, ctx.s, ctx.H, ctx.amp, ctx.rng
    if style == "nod":
        n = int(r.integers(2, 5))
        amp = r.uniform(14, 26) * _DEG * a
        sp.neck[:, 0] += amp * 0.5 * (1 - np.cos(2 * np.pi * n * s))
        sp.trunk[:, 0] += 0.1 * amp * 0.5 * (1 - np.cos(2 * np.pi * n * s))
        ctx.meta["nods"] = n
        sp.wrist[:] = ctx.hang()
        return
    deep = style == "deep_bow"
    B = (r.uniform(50, 72) if deep else r.uniform(20, 42)) * _DEG * min(a, 1.1)
    knots = [0.0, 0.35, 0.6, 1.0]
    prof = _keys(s, knots, [0, 1, 1, 0])
    sp.trunk[:, 0] += B * prof
    sp.neck[:, 0] += r.uniform(5, 20) * _DEG * prof
    sp.pelvis[:, 2] -= 0.1 * H * np.sin(B) * prof
    sp.pelvis[:, 1] -= 0.04 * H * np.sin(B) * prof  # soften the knees to stay on the feet
    hang = ctx.hang()
    if style == "bow_hands_front":
        for i in (0, 1):
            side = 1.0 if i == 0 else -1.0
            w = _ramp(s, 0.0, 0.25) * (1 - _ramp(s, 0.8, 1.0))
            v = np.array([-side * 0.02, -0.27, 0.14]) * H
            sp.wrist[i] = hang[i] * (1 - w)[:, None] + v * w[:, None]
            sp.elbow_pole[i] = [side * 0.8, -0.3, -0.6]
    else:
        sp.wrist[:] = hang


def _falling(ctx: _Ctx, style: str) -> None:
    sp, s, H, r = ctx.spec, ctx.s, ctx.H, ctx.rng
    sh = ctx.shape
    knots = [0.0, 0.2, 0.45, 0.7, 1.0]
    L = sh.thigh + sh.shin
    y0 = ctx.y0
    legs_rel = None  # pelvis-frame ankle vectors (K, 2, 3) at the knots
    side = r.choice([-1.0, 1.0])
    if style == "backward":
        dz = [0, -0.06 * H, -0.28 * H, -0.34 * H, -0.34 * H]
        dy = [0, -0.06 * H, 0.1 * H - y0, 0.07 * H - y0, 0.07 * H - y0]
        dx = [0, 0, 0, 0, 0]
        pitch = np.array([0, 5, -25, -86, -86]) * _DEG
        roll = np.zeros(5)
        flex = np.array([0, 18, 15, -3, -3]) * _DEG
        neck = np.array([0, 5, 15, 25, 20]) * _DEG
        legs_rel = [None, None, None, [(0.02, -0.95 * L, 0.08 * H)], [(0.02, -0.95 * L, 0.08 * H)]]
        w_rel = _ramp(s, 0.45, 0.68)
        arms = [None, (0.1, -0.05, 0.26), ("floor", -0.14), (0.14, -0.26, 0.03),
                (0.14, -0.26, 0.03)]
    elif style == "sideways":
        dz = [0, 0, 0.0, 0.0, 0.0]
        dx = [0, side * 0.05 * H, side * 0.22 * H, side * 0.38 * H, side * 0.38 * H]
        dy = [0, -0.06 * H, 0.12 * H - y0, 0.075 * H - y0, 0.075 * H - y0]
        pitch = np.array([0, 0, 5, 0, 0]) * _DEG
        roll = -side * np.array([0, 5, 45, 84, 84]) * _DEG
        flex = np.array([0, 10, 20, 10, 10]) * _DEG
        neck = np.array([0, 0, 0, 0, 0]) * _DEG
        legs_rel = [None, None, [(0.02, -0.55 * L, 0.45 * L)], [(0.02, -0.8 * L, 0.3 * L)],
                    [(0.02, -0.8 * L, 0.3 * L)]]
        w_rel = _ramp(s, 0.3, 0.5)
        arms = [None, (0.2, -0.05, 0.15), (0.22, -0.1, 0.12), (0.1, -0.25, 0.12),
                (0.1, -0.25, 0.12)]
        ctx.step(0 if side > 0 else 1, 0.05, 0.22, (side * 0.1 * H, 0.0))
    elif style == "forward":
        dz = [0, 0.05 * H, 0.1 * H, 0.3 * H, 0.3 * H]
        dx = [0, 0, 0, 0, 0]
        dy = [0, -0.05 * H, 0.27 * H - y0, 0.075 * H - y0, 0.075 * H - y0]
        pitch = np.array([0, 10, 20, 85, 85]) * _DEG
        roll = np.zeros(5)
        flex = np.array([0, 25, 40, 0, 0]) * _DEG
        neck = np.array([0, -10, -20, -35, -30]) * _DEG
        legs_rel = [None, None, [(0.02, -0.245 * H * sh.leg, -0.2 * H * sh.leg)],
                    [(0.02, -0.95 * L, 0.0)], [(0.02, -0.95 * L, 0.0)]]
        w_rel = _ramp(s, 0.25, 0.45)
        arms = [None, (0.12, -0.05, 0.25), ("floor", 0.3), (0.2, 0.1, 0.05), (0.2, 0.1, 0.05)]
        ctx.step(int(r.random() < 0.5), 0.05, 0.22, (0.0, 0.12 * H))
    else:  # collapse: the knees give way, a deep squat, then slumped sitting on the floor
        dz = [0, 0.0, -0.05 * H, -0.22 * H, -0.24 * H]
        dx = [0, 0, 0, side * 0.03 * H, side * 0.04 * H]
        dy = [0, -0.08 * H, 0.3 * H - y0, 0.08 * H - y0, 0.08 * H - y0]
        pitch = np.array([0, 5, 10, -5, -8]) * _DEG
        roll = -side * np.array([0, 0, 3, 10, 14]) * _DEG
        flex = np.array([0, 15, 30, 35, 42]) * _DEG
        neck = np.array([0, 10, 20, 30, 35]) * _DEG
        legs_rel = [None, None, None, None, None]  # the feet stay where they stood
        w_rel = np.zeros(ctx.T)
        arms = [None, (0.12, -0.1, 0.12), (0.12, -0.2, 0.15), ("floor", -0.05),
                ("floor", -0.05)]
    sp.pelvis[:, 0] += _keys(s, knots, dx)
    sp.pelvis[:, 1] += _keys(s, knots, dy)
    sp.pelvis[:, 2] += _keys(s, knots, dz)
    sp.pitch += _keys(s, knots, pitch)
    sp.roll += _keys(s, knots, roll)
    sp.trunk[:, 0] += _keys(s, knots, flex)
    sp.neck[:, 0] += _keys(s, knots, neck)
    # legs: planted until the body leaves its feet, then carried in the pelvis frame
    filled = []
    last = None
    for k in range(5):
        if legs_rel[k] is not None:
            last = legs_rel[k][0]
        filled.append(last)
    first = next((v for v in filled if v is not None), (0.0, -L, 0.0))
    vals = np.array([v if v is not None else first for v in filled])
    rel = _keys(s, knots, vals)  # (T, 3)
    Rp = rot_y(sp.yaw) @ rot_x(sp.pitch) @ rot_z(sp.roll)
    for i in (0, 1):
        sgn = 1.0 if i == 0 else -1.0
        hip = sp.pelvis + np.einsum("tij,j->ti", Rp, [sgn * sh.hip_half, -0.01 * H, 0.0])
        v = rel * np.array([sgn, 1.0, 1.0])
        ankle = hip + np.einsum("tij,tj->ti", Rp, v)
        fyaw = sp.foot_yaw[i]
        fpitch = sp.pitch + 0.5  # a relaxed foot, plantarflexed from perpendicular
        ball_rel = ankle + np.einsum("tij,j->ti", rot_y(fyaw) @ rot_x(fpitch),
                                     [0.0, -sh.ankle_h, sh.ball_fwd])
        sp.ball[i] = sp.ball[i] * (1 - w_rel)[:, None] + ball_rel * w_rel[:, None]
        sp.foot_pitch[i] = sp.foot_pitch[i] * (1 - w_rel) + fpitch * w_rel
    hang = ctx.hang()
    for i in (0, 1):
        sgn = 1.0 if i == 0 else -1.0
        vals = []
        for arm in arms:
            if arm is None:
                vals.append(None)
            elif arm[0] == "floor":
                vals.append("floor")
            else:
                vals.append(np.array([sgn * arm[0], arm[1], arm[2]]) * H)
        vs = np.zeros((5, ctx.T, 3))
        for k, v in enumerate(vals):
            if v is None:
                vs[k] = hang[i]
            elif isinstance(v, str):
                tgt = np.zeros((ctx.T, 3))
                tgt[:, 0] = sp.pelvis[:, 0] + sgn * 0.2 * H
                tgt[:, 1] = 0.02 + 0.6 * sh.hand_len
                tgt[:, 2] = sp.pelvis[:, 2] + arms[k][1] * H
                vs[k] = ctx.world_to_wrist(i, tgt)
            else:
                vs[k] = v
        # interpolate per frame between the keyframe vectors
        idx = np.clip(np.searchsorted(knots, s, side="right") - 1, 0, 3)
        k0 = np.asarray(knots)[idx]
        k1 = np.asarray(knots)[idx + 1]
        u = _smooth((s - k0) / (k1 - k0))[:, None]
        tt = np.arange(ctx.T)
        sp.wrist[i] = vs[idx, tt] * (1 - u) + vs[idx + 1, tt] * u
        sp.elbow_pole[i] = [sgn * 0.6, -0.3, -1.0]
    ctx.post_ground = _ramp(s, 0.3, 0.45)
    ctx.meta["side"] = "left" if side > 0 else "right"


def _arm_circles(ctx: _Ctx, style: str) -> None:
    sp, s, a, r = ctx.spec, ctx.s, ctx.amp, ctx.rng
    big = style.startswith("big")
    direction = -1.0 if style.endswith("backward") else (1.0 if style != "one_arm" else
                                                         r.choice([-1.0, 1.0]))
    cone = (r.uniform(35, 50) if big else r.uniform(10, 20)) * _DEG * min(a, 1.15)
    freq = (r.uniform(0.6, 1.0) if big else r.uniform(0.9, 1.6)) * ctx.tempo
    fwd = r.uniform(5, 25) * _DEG
    arms = (0, 1) if style != "one_arm" else (int(r.random() < 0.7),)
    raise_w = _ramp(s, 0.0, 0.15) * (1 - _ramp(s, 0.86, 1.0))
    circ_w = _ramp(s, 0.08, 0.22) * (1 - _ramp(s, 0.78, 0.92))
    dur_t = ctx.t - ctx.onset
    phase = 2 * np.pi * freq * np.clip(dur_t, 0, None) * direction
    hang = ctx.hang()
    dist = ctx.shape.arm_reach * 0.985
    for i in (0, 1):
        if i not in arms:
            sp.wrist[i] = hang[i]
            continue
        side = 1.0 if i == 0 else -1.0
        axis = np.array([side * np.cos(fwd), 0.0, np.sin(fwd)])
        up = np.array([0.0, 1.0, 0.0])
        w = np.cross(axis, up) * side  # forward-ish, same sense for both arms
        c = cone * circ_w
        # top of the circle first; 'forward' circles go up, forward, down, back
        dirv = (np.cos(c)[:, None] * axis
                + np.sin(c)[:, None] * (np.cos(phase)[:, None] * up + np.sin(phase)[:, None] * w))
        v = dirv * dist
        sp.wrist[i] = hang[i] * (1 - raise_w)[:, None] + v * raise_w[:, None]
        sp.elbow_pole[i] = [side * 0.2, -1.0, -0.4]
        sp.hand_flex[i] = 0.05
    ctx.meta.update(frequency_hz=round(float(freq), 4), cone_deg=round(float(cone / _DEG), 2),
                    arms=["left" if i == 0 else "right" for i in arms])


_ACTION_FNS = {"pick_up": _pick_up, "throw": _throw, "sit_down": _sit_down, "stand_up": _stand_up,
               "kick": _kick, "jump_up": _jump_up, "point": _point, "nod_bow": _nod_bow,
               "falling": _falling, "arm_circles": _arm_circles}


def generate_motion(action: ActionClass | str, shape: BodyShape, rng: np.random.Generator, *,
                    frames: int = 32, duration: float = 3.2, style: str | None = None,
                    start: StartPose | None = None, tempo: float | None = None,
                    amplitude: float | None = None, onset: float | None = None) -> Motion:
    """One performance of ``action`` by ``shape``, sampled at ``frames`` frames over
    ``duration`` seconds, in the stage frame (performer starts at the origin facing +Z).

    Everything not given is drawn from ``rng``: style, tempo (0.8-1.25), amplitude (0.8-1.2),
    onset (the action fits inside the clip), start pose.
    """
    if isinstance(action, str):
        action = get_classes(action)[0]
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    style = style if style is not None else str(rng.choice(action.styles))
    if style not in action.styles:
        raise ConfigError(f"action {action.key!r} has no style {style!r}; "
                          f"choose from {', '.join(action.styles)}")
    start = start if start is not None else sample_start(rng, shape)
    tempo = float(tempo if tempo is not None else rng.uniform(0.8, 1.25))
    amp = float(amplitude if amplitude is not None else rng.uniform(0.8, 1.2))
    t = np.arange(frames) * (duration / frames)
    dur = min(action.duration / tempo, 0.9 * duration)
    if onset is None:
        slack = duration - dur - 0.06 * duration
        onset = 0.03 * duration + float(rng.uniform(0, 1)) * max(slack, 0.0)
    ctx = _Ctx(shape, t, rng, amp, tempo, float(onset), dur, start)
    _ACTION_FNS[action.key](ctx, style)
    joints = forward(shape, ctx.spec)
    if ctx.post_ground is not None:  # a fall ends resting on the floor
        low = surface_min_y(joints, shape)
        shift = np.maximum(-low, ctx.post_ground * -low)
        joints[..., 1] += shift[:, None]
    meta = {"action": action.key, "ntu_action": action.code, "label": action.label,
            "style": style, "tempo": round(tempo, 5), "amplitude": round(amp, 5),
            "onset_s": round(float(onset), 4), "duration_s": round(float(dur), 4),
            "start": start.to_dict(), **ctx.meta}
    return Motion(joints=joints, shape=shape, props=ctx.props, meta=meta)

