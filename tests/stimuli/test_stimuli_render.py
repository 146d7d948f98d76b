"""Dot rendering: official discs, anti-aliased discs, opacity, threshold, SP lifetimes."""

from __future__ import annotations

import numpy as np
import pytest

from motionscope.stimuli.conditions import SP_LIMBS
from motionscope.stimuli.halpe import Pose
from motionscope.stimuli.render import dot_radius, draw_dots, joint_dots, sp_dots


def _pose(T=8, score=0.9, seed=0):
    rng = np.random.default_rng(seed)
    kp = rng.uniform(100, 900, (1, T, 26, 2)).astype(np.float32)
    sc = np.full((1, T, 26), score, np.float32)
    return Pose(kp, sc, (1080, 1920), 30.0, np.arange(T))


def test_radius_is_relative_to_frame_height():
    assert dot_radius(1080) == 5
    assert dot_radius(224) == pytest.approx(5 * 224 / 1080)
    assert dot_radius(224, radius=3) == 3


def test_official_disc_is_cv2_circle_with_score_opacity():
    import cv2

    xy = np.array([[[50.7, 40.2]]])
    img = draw_dots(xy, np.array([[0.6]]), (100, 120), 5, antialias=False)[0]
    ref = np.zeros((100, 120), np.uint8)
    cv2.circle(ref, (50, 40), 5, 255, -1)  # centre truncated as int() does
    assert ((img > 0) == (ref > 0)).all() and (img > 0).sum() == 81
    assert set(np.unique(img[img > 0])) == {round(255 * 0.6)}


def test_overlapping_dots_blend_like_repeated_alpha_blending():
    xy = np.array([[[30.0, 30.0], [30.0, 30.0]]])
    img = draw_dots(xy, np.array([[0.5, 0.5]]), (64, 64), 5, antialias=False)[0]
    assert img[30, 30] == round(255 * (1 - 0.25))
    opaque = draw_dots(xy, np.array([[1.0, 1.0]]), (64, 64), 5, antialias=False)[0]
    assert opaque[30, 30] == 255


def test_antialiased_dot_keeps_area_and_subpixel_position():
    r = dot_radius(224)
    a = draw_dots(np.array([[[20.0, 20.0]]]), np.ones((1, 1)), (40, 40), r)[0].astype(float)
    b = draw_dots(np.array([[[20.4, 20.0]]]), np.ones((1, 1)), (40, 40), r)[0].astype(float)
    assert a.sum() / 255 == pytest.approx(np.pi * r * r, rel=0.2)
    cx_a = (a.sum(0) * np.arange(40)).sum() / a.sum()
    cx_b = (b.sum(0) * np.arange(40)).sum() / b.sum()
    assert 0.2 < cx_b - cx_a < 0.6
    nan = draw_dots(np.full((1, 1, 2), np.nan), np.ones((1, 1)), (40, 40), r)
    assert not nan.any()


def test_joint_dots_threshold_and_opacity():
    pose = _pose(T=2)
    pose.scores[0, 0, 9] = 0.4  # at the threshold: not drawn (official: score <= thr skips)
    pose.scores[0, 1, 9] = 1.7  # clipped to opaque
    xy, alpha = joint_dots(pose, (0, 9), threshold=0.4)
    assert xy.shape == (2, 2, 2) and alpha[0, 1] == 0 and alpha[1, 1] == 1.0
    assert alpha[0, 0] == pytest.approx(0.9)


@pytest.mark.parametrize("limbs,lifetime", [(8, 1), (8, 4), (4, 2)])
def test_sp_dots_lie_on_limbs_and_redraw_per_lifetime(limbs, lifetime):
    T = 12
    pose = _pose(T=T)
    xy, alpha = sp_dots(pose, limbs, lifetime, np.random.default_rng(0), threshold=0.4)
    assert xy.shape == (T, limbs, 2) and (alpha == 1).all()
    kp = pose.keypoints[0]
    u = np.full((T, limbs), np.nan)
    for t in range(T):
        for i in range(limbs):
            ok = []
            for a, b in SP_LIMBS:  # which limb carries dot i, and where along it
                d = kp[t, b] - kp[t, a]
                e = xy[t, i] - kp[t, a]
                s = float(np.dot(e, d) / np.dot(d, d))
                if abs(d[0] * e[1] - d[1] * e[0]) / np.linalg.norm(d) < 1e-2 \
                        and -1e-3 <= s <= 1.001:
                    ok.append((a, b, s))
            assert ok, "every SP dot lies on a limb segment"
            u[t, i] = ok[0][2]
    for t in range(1, T):
        same = np.allclose(u[t], u[t - 1], atol=1e-4)
        assert same == (t % lifetime != 0), (t, lifetime)


def test_sp_needs_both_endpoints_above_threshold():
    pose = _pose(T=1)
    pose.scores[0, 0, 7] = 0.1  # left elbow: both left-arm segments vanish
    _, alpha = sp_dots(pose, 8, 1, np.random.default_rng(0), threshold=0.4)
    assert alpha[0].tolist() == [0, 0, 1, 1, 1, 1, 1, 1]


def test_sp_four_points_pick_four_distinct_limbs():
    pose = _pose(T=8)
    xy, alpha = sp_dots(pose, 4, 4, np.random.default_rng(3), threshold=0.4)
    assert xy.shape == (8, 4, 2)
    assert len({tuple(np.round(p, 3)) for p in xy[0]}) == 4
    with pytest.raises(ValueError):
        sp_dots(pose, 6, 1, np.random.default_rng(0))
