"""Renders: consistent RGB, depth, silhouettes and 2D/3D joints for one clip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from motionscope.synth.actions import get_classes
from motionscope.synth.camera import plan_world
from motionscope.synth.export import WorldConfig, render_plan
from motionscope.synth.render import JITTER_PAD


@pytest.fixture(scope="module")
def clip():
    cfg = WorldConfig(classes="arm_circles", clips_per_class=3, frames=8, size=(96, 128))
    plans = plan_world(get_classes(cfg.classes), 3)
    return cfg, plans, [render_plan(cfg, p) for p in plans]


def test_shapes_and_depth(clip):
    cfg, plans, outs = clip
    _, out, _ = outs[0]
    T, (H, W) = cfg.frames, cfg.size
    assert out.rgb.shape == (T, H, W, 3) and out.rgb.dtype == np.uint8
    assert out.depth.shape == (T, H, W) and out.depth.dtype == np.uint16
    assert out.mask.shape == (T, H, W) and out.mask.any(axis=(1, 2)).all()
    # millimetres: the room is everywhere (full depth) and the person is 1.5-6 m away
    assert (out.depth > 0).all() and out.depth.max() < 20000
    person = out.depth[out.mask]
    assert 1500 < person.min() and person.max() < 6000
    dm = out.depth_masked
    assert (dm[~out.mask] == 0).all() and (dm[out.mask] == out.depth[out.mask]).all()
    # the person is in front of the room behind it
    assert np.median(person) < np.median(out.depth[~out.mask])


def test_joints_agree_with_the_pixels(clip):
    cfg, plans, outs = clip
    _, out, _ = outs[0]
    H, W = cfg.size
    uv, vis = out.joints_2d, out.visible
    assert vis.mean() > 0.5
    u, v = np.round(uv[..., 0]).astype(int), np.round(uv[..., 1]).astype(int)
    t = np.broadcast_to(np.arange(cfg.frames)[:, None], vis.shape)
    ok = vis & (u >= 1) & (u < W - 1) & (v >= 1) & (v < H - 1)
    # a visible joint sits on the person's silhouette (3x3 neighbourhood)
    near = np.zeros_like(ok)
    for du in (-1, 0, 1):
        for dv in (-1, 0, 1):
            near |= out.mask[t, np.clip(v + dv, 0, H - 1), np.clip(u + du, 0, W - 1)]
    assert near[ok].mean() > 0.95
    # where it lands on the person, nothing is in front of it by more than the body's
    # thickness, and mostly the surface is right at its 3D position (thin limbs may show the
    # body behind them)
    on = ok & out.mask[t, np.clip(v, 0, H - 1), np.clip(u, 0, W - 1)]
    dz = out.depth[t[on], v[on], u[on]] / 1000 - out.joints_cam[..., 2][on]
    assert dz.min() > -0.35 and np.median(np.abs(dz)) < 0.1
    # an in-frame joint flagged hidden has a surface well in front of it
    hid = ~vis & (u >= 0) & (u < W) & (v >= 0) & (v < H)
    if hid.any():
        dzh = out.depth[t[hid], v[hid], u[hid]] / 1000 - out.joints_cam[..., 2][hid]
        assert (dzh < -0.02).all()
    # 2D = projection of the camera-space 3D joints + the frame's jitter
    cam_z = out.joints_cam[..., 2]
    assert (cam_z > 1.0).all()
    assert (np.abs(out.jitter) <= JITTER_PAD).all()


def test_three_cameras_see_one_performance(clip):
    cfg, plans, outs = clip
    assert [p.camera for p in plans] == [1, 2, 3]
    w = [o[2]["joints_world"] for o in outs]
    np.testing.assert_array_equal(w[0], w[1])
    np.testing.assert_array_equal(w[0], w[2])
    # but the pictures differ (different views)
    assert np.abs(outs[0][1].rgb.astype(int) - outs[1][1].rgb.astype(int)).mean() > 5


def test_fixed_camera_and_determinism():
    cfg = WorldConfig(classes="nod_bow", clips_per_class=1, frames=6, size=(64, 64), jitter=0.0,
                      distractor=0.0)
    plan = plan_world(get_classes(cfg.classes), 1)[0]
    _, a, _ = render_plan(cfg, plan)
    _, b, _ = render_plan(cfg, plan)
    np.testing.assert_array_equal(a.rgb, b.rgb)
    np.testing.assert_array_equal(a.depth, b.depth)
    assert (a.jitter == 0).all()
    # with a fixed camera and no distractor, the room away from the person (and from its
    # floor shadow: the upper part of the frame) never changes
    near = cv2.dilate(np.any(a.mask, axis=0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    far = ~near
    far[32:] = False
    stable = (a.rgb[1:] == a.rgb[:1]).all(-1).all(0)
    assert far.sum() > 500 and stable[far].all()
