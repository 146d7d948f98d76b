"""Joint layouts: the documented orders, bones that form one skeleton, consistent flip pairs."""

from __future__ import annotations

import numpy as np
import pytest

from motionscope.errors import ConfigError
from motionscope.layouts import LAYOUTS, get_layout
from motionscope.synth.body import BODY_JOINTS, LAYOUT_MAPS


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_bones_connect_one_body(name):
    lay = get_layout(name)
    V = lay.num_joints
    assert len(set(lay.joints)) == V
    edges = {tuple(sorted(b)) for b in lay.bones}
    assert len(edges) == len(lay.bones), "duplicate bone"
    assert all(0 <= a < V and 0 <= b < V and a != b for a, b in lay.bones)
    if name != "coco17":  # COCO's skeleton has cycles (shoulders-hips, face)
        assert len(lay.bones) == V - 1, "a tree: one path between any two joints"
    # connected, so graph models see one body
    seen, todo = {0}, [0]
    while todo:
        j = todo.pop()
        for a, b in lay.bones:
            for u, v in ((a, b), (b, a)):
                if u == j and v not in seen:
                    seen.add(v)
                    todo.append(v)
    assert len(seen) == V


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_flip_pairs_swap_left_and_right(name):
    lay = get_layout(name)
    for a, b in lay.flip_pairs:
        assert lay.joints[a].startswith("l_") and lay.joints[b] == "r_" + lay.joints[a][2:]
    lefts = [j for j in lay.joints if j.startswith("l_")]
    assert len(lay.flip_pairs) == len(lefts), "every left joint has its right partner"
    perm = lay.flip_index()
    assert [perm[p] for p in perm] == list(range(lay.num_joints))
    # bones map to bones under the flip (the skeleton is symmetric)
    bones = {tuple(sorted(b)) for b in lay.bones}
    assert {tuple(sorted((perm[a], perm[b]))) for a, b in lay.bones} == bones


def test_documented_orders():
    ntu = get_layout("ntu25")
    # NTU 1-based: 1 base of spine, 2 middle of spine, 3 neck, 4 head, 21 spine, 25 right thumb
    assert ntu.joints[0] == "spine_base" and ntu.joints[1] == "spine_mid"
    assert ntu.joints[2] == "neck" and ntu.joints[3] == "head"
    assert ntu.joints[20] == "spine_shoulder" and ntu.joints[24] == "r_thumb"
    assert ntu.joints[4:8] == ("l_shoulder", "l_elbow", "l_wrist", "l_hand")
    assert ntu.joints[16:20] == ("r_hip", "r_knee", "r_ankle", "r_foot")
    h = get_layout("halpe26")  # specs/mp.md 13.5
    assert h.index("nose") == 0 and h.index("l_eye") == 1 and h.index("r_ear") == 4
    assert h.index("l_wrist") == 9 and h.index("r_ankle") == 16
    assert (h.index("head"), h.index("neck"), h.index("hip")) == (17, 18, 19)
    assert (h.index("l_big_toe"), h.index("r_small_toe"), h.index("r_heel")) == (20, 23, 25)
    # the BMP SP limb segments are bones of the layout
    for seg in ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16)):
        assert seg in h.bones
    assert get_layout("coco17").joints == h.joints[:17]
    k = get_layout("kinect20")
    assert k.joints[0] == "hip_center" and k.joints[19] == "r_foot"


def test_get_layout_accepts_spellings_and_rejects_unknown():
    assert get_layout("Halpe-26") is LAYOUTS["halpe26"]
    assert get_layout(LAYOUTS["coco17"]) is LAYOUTS["coco17"]
    with pytest.raises(ConfigError, match="unknown joint layout"):
        get_layout("smpl24")
    with pytest.raises(ConfigError, match="no joint"):
        get_layout("ntu25").index("tail")


def test_body_maps_every_layout_to_named_joints():
    for name, idx in LAYOUT_MAPS.items():
        lay = get_layout(name)
        assert len(idx) == lay.num_joints and len(set(idx.tolist())) == lay.num_joints
        names = [BODY_JOINTS[i] for i in idx]
        for lj, bj in zip(lay.joints, names):
            # left stays left, right stays right
            assert lj[:2] == bj[:2] or not (lj.startswith(("l_", "r_")) or
                                          bj.startswith(("l_", "r_")))
    # the same anatomical joint across layouts is the same body point
    assert LAYOUT_MAPS["ntu25"][0] == LAYOUT_MAPS["halpe26"][19] == LAYOUT_MAPS["kinect20"][0]
    np.testing.assert_array_equal(LAYOUT_MAPS["coco17"], LAYOUT_MAPS["halpe26"][:17])
