"""Plausibility of the generated motion, measured from the 3D joint positions alone."""

from __future__ import annotations

import numpy as np
import pytest

from motionscope.synth.actions import BMP_ACTIONS, GRAVITY, generate_motion, get_classes
from motionscope.synth.body import JOINT_LIMITS, J, body_capsules, sample_shape, surface_min_y

DEG = np.pi / 180
CASES = [(a, s) for a in BMP_ACTIONS for s in a.styles]


def _angle(u, v):
    c = (u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
    return np.arccos(np.clip(c, -1, 1))


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _motions(action, style, n=2, frames=40):
    rng = np.random.default_rng(hash((action.key, style)) % 2**32)
    for _ in range(n):
        shape = sample_shape(rng)
        yield shape, generate_motion(action, shape, rng, frames=frames, style=style)


def _sole_heights(jt, shape):
    """Height of the lowest point of each foot (2, T)."""
    a, b, ra, rb, _ = body_capsules(jt, shape)
    # the last capsule of each side's group is its foot (see body_capsules)
    feet = []
    for k in (-7, -1):
        feet.append(np.minimum(a[:, k, 1] - ra[k], b[:, k, 1] - rb[k]))
    return np.stack(feet)


@pytest.mark.parametrize("action,style", CASES, ids=[f"{a.key}-{s}" for a, s in CASES])
def test_physical_plausibility(action, style):
    for shape, m in _motions(action, style):
        jt = m.joints
        assert np.isfinite(jt).all()
        # nothing ever goes through the floor
        assert surface_min_y(jt, shape).min() > -1e-3
        soles = _sole_heights(jt, shape)
        if action.key not in ("jump_up", "falling"):
            # standing on the floor: in every frame a foot touches it
            assert soles.min(0).max() < 0.01, f"both feet off the floor ({soles.min(0).max():.3f} m)"
        # rigid bones: every segment keeps its length
        for a, b in (("l_shoulder", "l_elbow"), ("r_elbow", "r_wrist"), ("l_hip", "l_knee"),
                     ("r_knee", "r_ankle"), ("pelvis", "spine_mid"), ("neck", "head"),
                     ("r_ankle", "r_big_toe"), ("l_heel", "l_small_toe")):
            L = np.linalg.norm(jt[:, J[a]] - jt[:, J[b]], axis=-1)
            assert L.std() < 1e-6, (a, b)
        _check_joint_limits(jt)


def _check_joint_limits(jt):
    tol = 1.5 * DEG
    for s in ("l", "r"):
        hip, knee, ank = jt[:, J[f"{s}_hip"]], jt[:, J[f"{s}_knee"]], jt[:, J[f"{s}_ankle"]]
        thigh, shin = knee - hip, ank - knee
        knee_flex = _angle(thigh, shin)
        assert knee_flex.max() <= JOINT_LIMITS["knee_flex"][1] + tol
        # knees only bend forwards: the bend axis points to the body's left
        left = _unit(jt[:, J["l_hip"]] - jt[:, J["r_hip"]])
        bent = knee_flex > 15 * DEG
        axis = _unit(np.cross(thigh, shin))
        assert ((axis * left).sum(-1)[bent] > 0.3).all(), "a knee bends backwards"
        sh, el, wr = (jt[:, J[f"{s}_{n}"]] for n in ("shoulder", "elbow", "wrist"))
        assert _angle(el - sh, wr - el).max() <= JOINT_LIMITS["elbow_flex"][1] + tol
        # ankle: the shin leans over the foot by at most the dorsiflexion limit
        foot = jt[:, J[f"{s}_big_toe"]] - jt[:, J[f"{s}_heel"]]
        dorsi = np.pi / 2 - _angle(knee - ank, foot)
        lo, hi = JOINT_LIMITS["ankle_dorsi"]
        # the heel-to-toe line is tilted against the foot axis by a few degrees
        assert dorsi.max() <= hi + 8 * DEG and dorsi.min() >= lo - 8 * DEG
    # trunk flexion: chest axis against the pelvis axis, within the limits
    pel_up = _unit(np.cross(jt[:, J["r_hip"]] - jt[:, J["l_hip"]], np.cross(
        jt[:, J["spine_mid"]] - jt[:, J["pelvis"]], jt[:, J["r_hip"]] - jt[:, J["l_hip"]])))
    chest = jt[:, J["spine_shoulder"]] - jt[:, J["spine_mid"]]
    lumbar = jt[:, J["spine_mid"]] - jt[:, J["pelvis"]]
    assert (_angle(lumbar, chest) + _angle(pel_up, lumbar)).max() <= \
        JOINT_LIMITS["trunk_flex"][1] + 3 * tol
    neck = _angle(jt[:, J["head"]] - jt[:, J["neck"]], chest)
    assert neck.max() <= max(-JOINT_LIMITS["neck_flex"][0], JOINT_LIMITS["neck_flex"][1]) + 3 * tol


def test_jump_flight_is_ballistic():
    cls = get_classes("jump_up")[0]
    rng = np.random.default_rng(3)
    shape = sample_shape(rng)
    fps = 300
    m = generate_motion(cls, shape, rng, frames=3 * fps, duration=3.0, style="arm_swing")
    soles = _sole_heights(m.joints, shape)
    air = soles.min(0) > 0.02
    assert air.sum() > 0.1 * fps, "no flight phase"
    # inside the flight the pelvis accelerates at -g (a parabola), not a made-up curve
    y = m.joints[:, J["pelvis"], 1]
    idx = np.flatnonzero(air)
    core = idx[(idx > idx[0] + 3) & (idx < idx[-1] - 3)]
    acc = (y[core + 1] - 2 * y[core] + y[core - 1]) * fps ** 2
    np.testing.assert_allclose(acc, -GRAVITY, atol=0.05)
    # and the flight time matches the height reached: t = 2 sqrt(2 h / g)
    h = m.meta["jump_height"][0]
    assert abs(len(idx) / fps - 2 * np.sqrt(2 * h / GRAVITY)) < 0.08


@pytest.mark.parametrize("style", get_classes("falling")[0].styles)
def test_falls_end_on_the_floor(style):
    for shape, m in _motions(get_classes("falling")[0], style, n=2):
        jt = m.joints
        assert jt[0, J["head"], 1] > 1.3  # starts standing
        assert jt[-1, J["pelvis"], 1] < 0.45 and jt[-1, J["head"], 1] < 0.95
        assert abs(surface_min_y(jt[-1:], shape)[0]) < 2e-3  # resting on the floor


def test_sit_and_stand_use_the_chair():
    sit, stand = get_classes("sit_down,stand_up")
    for cls, first in ((sit, "stand"), (stand, "seat")):
        for shape, m in _motions(cls, cls.styles[0], n=2):
            ch = m.props["chair"]
            pel = m.joints[:, J["pelvis"]]
            seat_y = ch["seat_h"] + 0.06 * shape.height
            ends = {"stand": pel[0] if first == "stand" else pel[-1],
                    "seat": pel[0] if first == "seat" else pel[-1]}
            assert abs(ends["seat"][1] - seat_y) < 0.03
            assert abs(ends["seat"][2] - ch["z"]) < ch["seat_d"] / 2  # above the seat
            assert ends["stand"][1] > 0.45 * shape.height


def test_same_seed_same_motion_and_styles_differ():
    cls = get_classes("throw")[0]
    shape = sample_shape(np.random.default_rng(0))
    a = generate_motion(cls, shape, np.random.default_rng(5), frames=16)
    b = generate_motion(cls, shape, np.random.default_rng(5), frames=16)
    np.testing.assert_array_equal(a.joints, b.joints)
    c = generate_motion(cls, shape, np.random.default_rng(6), frames=16)
    assert np.abs(a.joints - c.joints).max() > 0.05
    # the frame count only changes the sampling of the same motion
    d = generate_motion(cls, shape, np.random.default_rng(5), frames=32)
    np.testing.assert_allclose(d.joints[::2], a.joints, atol=1e-9)
