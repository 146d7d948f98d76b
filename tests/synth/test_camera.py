"""Recording plan: class balance, default splits by performer, NTU rules on the names,
NTU camera geometry (the BMP view table) and the pinhole projection."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from motionscope.errors import ConfigError
from motionscope.io.ntu import parse_ntu_name
from motionscope.io.splits import NTU120_XSUB_TRAIN_SUBJECTS, ntu_split
from motionscope.synth.actions import get_classes
from motionscope.synth.camera import (
    facing_yaw,
    look_at_camera,
    performer,
    performer_pools,
    plan_world,
    setup_params,
    view_angle,
)


@pytest.mark.parametrize("per_class", [1, 4, 9, 100])
def test_plan_is_class_balanced(per_class):
    plans = plan_world(get_classes("bmp10"), per_class)
    counts = Counter(p.label for p in plans)
    assert counts == {k: per_class for k in range(10)}
    assert len({p.name for p in plans}) == len(plans)  # unique NTU names
    for p in plans:
        n = parse_ntu_name(p.name)
        assert (n.setup, n.camera, n.performer, n.replication, n.action) == \
            (p.setup, p.camera, p.performer, p.replication, p.action)


def test_default_splits_hold_out_performers_and_follow_ntu_xsub():
    plans = plan_world(get_classes("bmp10"), 30, performers=10)
    pools = performer_pools(10)
    assert set(pools["test"]) == {3, 6, 7, 10}  # NTU cross-subject test ids among 1..10
    assert not set(pools["train"]) & set(pools["val"])
    by_split = {s: [p for p in plans if p.split == s] for s in ("train", "val", "test")}
    for split, ps in by_split.items():
        assert {p.performer for p in ps} <= set(pools[split])
        assert Counter(p.label for p in ps).keys() == set(range(10)), split  # every class
    for p in plans:
        # the NTU-120 cross-subject rule on the file name agrees with the default split
        assert ntu_split(p.name, "ntu120_xsub") == ("test" if p.split == "test" else "train")
        assert (p.performer in NTU120_XSUB_TRAIN_SUBJECTS) == (p.split != "test")
    # held-out performers are other people: different bodies
    h = {pid: performer(0, pid).shape.height for pid in range(1, 11)}
    assert len(set(h.values())) == 10
    # the proportions are roughly the planned ones
    n = len(plans)
    assert 0.45 < len(by_split["train"]) / n < 0.75 and len(by_split["test"]) / n > 0.2


def test_every_performance_is_filmed_by_three_cameras_and_views_match_bmp():
    plans = plan_world(get_classes("bmp10"), 9)
    perf = Counter((p.label, p.performance) for p in plans)
    assert set(perf.values()) == {3}
    for p in plans:
        assert ntu_split(p.name, "ntu120_xset") == ("train" if p.setup % 2 == 0 else "test")
    # specs/mp.md 13.8: C002R002/C003R001 frontal, C001 45, C002R001/C003R002 90 degrees
    assert (view_angle(2, 2), view_angle(3, 1)) == (0, 0)
    assert (view_angle(1, 1), view_angle(1, 2)) == (45, 45)
    assert (view_angle(2, 1), view_angle(3, 2)) == (90, 90)
    # geometrically: the performer faces camera 3 in replication 1
    sp = setup_params(0, 1)
    for cam_id, rep, expect in ((3, 1, 0), (1, 1, 45), (2, 1, 90), (2, 2, 0)):
        cam = sp.camera(cam_id, (64, 64))
        fwd = np.array([np.sin(facing_yaw(rep)), 0.0, np.cos(facing_yaw(rep))])
        to_cam = cam.C * np.array([1, 0, 1])
        ang = np.degrees(np.arccos(np.clip(fwd @ to_cam / np.linalg.norm(to_cam), -1, 1)))
        assert abs(ang - expect) < 1e-6


def test_projection_is_kinect_like():
    cam = look_at_camera((0.0, 1.0, 3.0), (0.0, 1.0, 0.0), (240, 320), 60.0)
    # a point straight ahead lands on the principal point at its distance
    pc = cam.to_camera(np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(pc, [0, 0, 3.0], atol=1e-12)
    np.testing.assert_allclose(cam.project(pc), [cam.cx, cam.cy])
    # up is +y and smaller v; the sensor's left (world +x here: the camera looks along -z) is +x
    up = cam.to_camera(np.array([0.0, 1.5, 0.0]))
    left = cam.to_camera(np.array([-0.5, 1.0, 0.0]))
    assert up[1] > 0 and cam.project(up)[1] < cam.cy
    assert left[0] > 0 and cam.project(left)[0] > cam.cx
    # rays back-project pixels
    d = cam.rays()[100, 200]
    p = cam.C + d * 2.0
    np.testing.assert_allclose(cam.project(cam.to_camera(p)), [200, 100], atol=1e-9)


def test_plan_rejects_bad_sizes():
    with pytest.raises(ConfigError):
        plan_world(get_classes("bmp10"), 0)
    with pytest.raises(ConfigError):
        plan_world(get_classes("bmp10"), 3, setups=40)
    with pytest.raises(ConfigError):
        performer_pools(2)
    with pytest.raises(ConfigError):
        get_classes("pick_up,dance")
