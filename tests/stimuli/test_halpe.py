"""Pose sources -> Halpe-26: names, COCO-17, NTU/Kinect (against the world's exact joints and on
real NTU files), real SLEAP labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionscope.errors import DataError
from motionscope.io.keypoints import KeypointSet
from motionscope.stimuli.halpe import (
    HALPE_NAMES,
    canonical_joint_name,
    coco_to_halpe,
    from_keypoint_set,
    from_ntu_skeleton,
    map_names,
    ntu_to_halpe,
)


@pytest.mark.parametrize("name,expected", [
    ("left_wrist", "lwrist"), ("LWrist", "lwrist"), ("wrist_l", "lwrist"),
    ("LeftWrist", "lwrist"), ("R.Big-Toe", "rbigtoe"), ("RBigToe", "rbigtoe"), ("nose", "nose"),
])
def test_canonical_joint_names(name, expected):
    assert canonical_joint_name(name) == expected


def test_map_names_with_aliases():
    m = map_names(["Pelvis", "head_top", "LeftAnkle", "ankle_r", "thorax", "tail"])
    assert m == {19: 0, 17: 1, 15: 2, 16: 3, 18: 4}


def _coco_pose():
    kp = np.full((1, 1, 17, 2), np.nan, np.float32)
    pts = {0: (50, 20), 1: (48, 18), 2: (52, 18), 3: (45, 20), 4: (55, 20), 5: (40, 35),
           6: (60, 35), 11: (44, 70), 12: (56, 70), 9: (35, 60), 10: (65, 60)}
    sc = np.zeros((1, 1, 17), np.float32)
    for k, v in pts.items():
        kp[0, 0, k], sc[0, 0, k] = v, 0.8
    sc[0, 0, 6] = 0.6
    return kp, sc


def test_coco17_gets_neck_pelvis_and_head_top():
    kp17, sc17 = _coco_pose()
    notes: list[str] = []
    kp, sc = coco_to_halpe(kp17, sc17, notes)
    assert kp.shape == (1, 1, 26, 2)
    np.testing.assert_allclose(kp[0, 0, 18], (50, 35))  # neck = mid-shoulders
    assert sc[0, 0, 18] == pytest.approx(0.7)  # mean of the shoulder scores
    np.testing.assert_allclose(kp[0, 0, 19], (50, 70))  # pelvis = mid-hips
    assert kp[0, 0, 17, 1] < kp[0, 0, 3, 1] < kp[0, 0, 18, 1]  # head top above ears above neck
    assert (sc[0, 0, 20:] == 0).all() and np.isnan(kp[0, 0, 20:]).all()
    assert any("toes" in n for n in notes)


def test_named_keypoint_files_are_mapped():
    kp17, sc17 = _coco_pose()
    names = ["Nose", "LEye", "REye", "LEar", "REar", "LeftShoulder", "RightShoulder", "LElbow",
             "RElbow", "wrist_left", "wrist_right", "LHip", "RHip", "LKnee", "RKnee", "LAnkle",
             "RAnkle"]
    order = np.random.default_rng(0).permutation(17)  # any column order
    kps = KeypointSet(kp17[:, :, order], sc17[:, :, order], joint_names=[names[i] for i in order])
    pose = from_keypoint_set(kps, image_size=(100, 100))
    np.testing.assert_allclose(pose.keypoints[0, 0, 9], (35, 60))
    np.testing.assert_allclose(pose.keypoints[0, 0, 19], (50, 70))
    with pytest.raises(DataError, match="image size"):
        from_keypoint_set(kps)
    odd = KeypointSet(np.zeros((1, 2, 20, 2)), np.ones((1, 2, 20)))
    with pytest.raises(DataError, match="20 unnamed joints"):
        from_keypoint_set(odd, image_size=(10, 10))


def test_ntu_mapping_against_the_worlds_exact_halpe_joints(tiny_world):
    """The world writes the same bodies as NTU .skeleton files and as exact Halpe-26 joints:
    shared points must map exactly, built face/feet points to within a few % of body height."""
    from motionscope.io.ntu import read_skeleton

    man = json.loads((tiny_world / "manifest.json").read_text())
    for clip in man["clips"][:6]:
        d = np.load(tiny_world / clip["paths"]["joints"])
        skel = read_skeleton(tiny_world / clip["paths"]["skeleton"])
        pose = from_ntu_skeleton(skel, image_size=(64, 64), fps=10.0)
        assert any("3D" in n for n in pose.notes)
        ref = d["halpe26_2d"]
        height = np.ptp(ref[..., 1], axis=1).mean()
        err = np.nanmedian(np.linalg.norm(pose.keypoints[0] - ref, axis=-1), axis=0) / height
        shared = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19]
        assert err[shared].max() < 1e-3
        assert err[[0, 1, 2, 3, 4, 17]].max() < 0.05, dict(zip(HALPE_NAMES, err.round(3)))
        assert err[20:].max() < 0.08, dict(zip(HALPE_NAMES, err.round(3)))
        # the 2D fallback (no camera-space joints) stays close too
        uv = d["ntu25_2d"][None]
        kp2, _ = ntu_to_halpe(uv, np.ones(uv.shape[:3], np.float32), None)
        err2 = np.nanmedian(np.linalg.norm(kp2[0] - ref, axis=-1), axis=0) / height
        assert err2.max() < 0.12


def test_real_ntu_skeletons_give_plausible_face_and_feet(shared_data):
    from motionscope.io.ntu import read_skeleton

    root = shared_data("ntu_rgbd_skeleton_samples")
    for name in ("S001C001P001R001A011", "S002C001P003R001A003", "S004C002P003R001A017"):
        pose = from_ntu_skeleton(read_skeleton(root / f"{name}.skeleton"))
        assert pose.image_size == (1080, 1920) and any("3D" in n for n in pose.notes)
        kp = pose.keypoints[0]  # NaN where a joint is not tracked
        assert np.isfinite(kp).all(-1).mean() > 0.9
        height = np.nanmedian(np.nanmax(kp[..., 1], 1) - np.nanmin(kp[..., 1], 1))
        assert 150 < height < 1080
        # upright people: head top above nose above neck above pelvis (image y grows down)
        y = np.nanmedian(kp[..., 1], axis=0)
        assert y[17] < y[0] < y[18] < y[19]
        # faces sit on the head and the feet on the ankles
        for pt, anchor, tol in ((0, 18, 0.2), (3, 18, 0.2), (20, 15, 0.12), (24, 15, 0.12),
                                (25, 16, 0.12)):
            d = np.nanmedian(np.linalg.norm(kp[:, pt] - kp[:, anchor], axis=-1)) / height
            assert d < tol, (name, HALPE_NAMES[pt], d)
        # left/right agree with the shoulders wherever the shoulders are seen apart
        apart = np.abs(kp[:, 5, 0] - kp[:, 6, 0]) > 0.08 * height
        side = np.sign(kp[apart, 5, 0] - kp[apart, 6, 0])
        assert (np.sign(kp[apart, 3, 0] - kp[apart, 4, 0]) == side).mean() > 0.9


def test_real_sleap_labels_map_by_name(shared_data):
    from motionscope.io.keypoints import read_keypoints
    from motionscope.io.video import video_info

    root = shared_data("behavior_videos", "sleap")
    kps = read_keypoints(root / "dance.mp4.labels.slp")
    vi = video_info(root / "dance.mp4")
    pose = from_keypoint_set(kps, image_size=(vi.height, vi.width), fps=vi.fps)
    have = pose.detected()
    assert have.any()
    t = int(np.flatnonzero((pose.scores[0, :, [0, 9, 10, 15, 16, 19]] > 0).all(0))[0])
    k = pose.keypoints[0, t]
    names = kps.joint_names
    np.testing.assert_allclose(k[9], kps.keypoints[0, t, names.index("left_wrist")])
    np.testing.assert_allclose(k[19], kps.keypoints[0, t, [names.index("left_hip"),
                                                         names.index("right_hip")]].mean(0))
    assert 0 <= k[:, 0][np.isfinite(k[:, 0])].min() and k[:, 0][np.isfinite(k[:, 0])].max() < vi.width
