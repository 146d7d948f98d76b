"""Pose regression (cross-validated least squares / ridge), label matching and the baseline."""

from __future__ import annotations

import numpy as np
import pytest

from motionscope.errors import DataError
from motionscope.io.keypoints import KeypointSet, write_dlc_csv
from motionscope.io.tracks import KeypointTrack
from motionscope.tasks.readouts import (
    fit_least_squares,
    labels_for_track,
    motion_baseline,
    pose_regression,
)


def test_linear_targets_are_recovered_and_noise_is_not():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6))
    A = rng.normal(size=(6, 4))
    Y = (X @ A + 3).reshape(200, 2, 2) * 10 + 50
    r = pose_regression(X, Y, (100, 100), folds=5)
    assert r["error_px"] < 1e-6 and r["frames"] == 200
    noise = pose_regression(rng.normal(size=(200, 6)), Y, (100, 100))
    assert noise["error_image_pct"] > 10
    ridge = pose_regression(X, Y, (100, 100), ridge=10.0)
    assert ridge["error_px"] > r["error_px"]


def test_missing_labels_and_features_are_left_out():
    X = np.tile(np.arange(40.0)[:, None], (1, 2))
    Y = np.stack([X, X], 1)
    Y[::3, 1] = np.nan  # joint 1 labelled on 2/3 of the frames
    X[5] = np.nan
    r = pose_regression(X, Y, (10, 10), folds=4)
    assert r["frames"] == 39 and r["error_px"] < 1e-6
    mu, sd, W = fit_least_squares(X[~np.isnan(X).any(1)], Y[~np.isnan(X).any(1), 0])
    assert W.shape == (3, 2)


def test_agents_match_label_tracks_by_name_or_order(tmp_path):
    kp = np.zeros((2, 5, 1, 2), np.float32) + np.array([1.0, 2.0])
    kp[1] += 10
    p = tmp_path / "labels.csv"
    write_dlc_csv(p, KeypointSet(kp, np.ones((2, 5, 1)), joint_names=["head"],
                                 track_names=["b", "a"]))
    tr = KeypointTrack(np.zeros((2, 5, 3, 2)), np.ones((2, 5, 3)), np.zeros((2, 5, 3, 3)),
                       track_names=["a", "b"])
    per = dict(labels_for_track(tr, p))
    assert per["a"][0, 0, 0] == 11 and per["b"][0, 0, 0] == 1
    other = KeypointTrack(tr.keypoints, tr.confidence, tr.covariance, track_names=["x", "y"])
    with pytest.raises(DataError, match=r"share no name with the discovered agents \['x', 'y'\]"):
        labels_for_track(other, p)
    assert [n for n, _ in labels_for_track(other, p, match="order")] == ["x", "y"]


def test_motion_baseline_follows_the_moving_square(tmp_path):
    from motionscope.data.pairs import FrameSource
    from motionscope.io.rawframes import write_frames

    frames = np.zeros((6, 40, 40, 3), np.uint8)
    for t in range(6):
        frames[t, 10:16, 4 + 5 * t:10 + 5 * t] = 255
    write_frames(tmp_path / "v", frames, quality=100)
    f = motion_baseline(FrameSource(tmp_path / "v"))
    assert f.shape == (1, 6, 6)
    cx = f[0, 1:, 0]
    assert np.all(np.diff(cx) > 3) and np.allclose(f[0, 1:, 1], 12.5, atol=1.0)


def test_dance_labels_read_against_a_track_of_the_video(shared_data):
    p = shared_data("behavior_videos", "sleap", "dance.mp4.labels.slp")
    tr = KeypointTrack(np.zeros((450, 2, 2)), np.ones((450, 2)), np.zeros((450, 2, 3)))
    [(name, Y)] = labels_for_track(tr, p)
    assert Y.shape[0] == 450 and np.isfinite(Y[..., 0]).any(-1).sum() > 10
    short = KeypointTrack(np.zeros((5, 2, 2)), np.ones((5, 2)), np.zeros((5, 2, 3)))
    with pytest.raises(DataError, match="labels frames up to"):
        labels_for_track(short, p)


def test_frame_windows_pad_with_zeros_at_the_ends():
    from motionscope.tasks.readouts import frame_windows

    w = frame_windows(np.arange(1.0, 11.0)[:, None], past=2, future=2, gap=2)
    assert w.shape == (10, 5, 1)
    assert w[0, :, 0].tolist() == [0, 0, 1, 3, 5] and w[9, :, 0].tolist() == [6, 8, 10, 0, 0]


def test_behaviour_classifier_learns_separable_behaviours():
    from motionscope.tasks.readouts import behaviour_classification

    rng = np.random.default_rng(0)

    def seq(n):
        y = np.repeat(rng.integers(0, 3, n // 20), 20)
        f = rng.normal(size=(len(y), 4)).astype(np.float32) * 0.3
        f[:, 0] += y  # the behaviour shows in feature 0
        y[:5] = -1  # unlabelled frames are left out
        return f, y

    r = behaviour_classification([seq(400), seq(400)], [seq(200)], ["a", "b", "other"],
                                 past=48, future=48, gap=1, epochs=25, batch_size=32)
    assert r["window"] == 97 and r["test_frames"] == 195
    assert set(r["classes"]) == {"a", "b", "other"} and r["macro_excludes"] == "other"
    assert r["macro_f1"] > 0.8 and r["macro_ap"] > 0.8


def test_calms21_reader(tmp_path):
    import json

    from motionscope.io.calms21 import read_calms21

    p = tmp_path / "calms21_task1_train.json"
    p.write_text(json.dumps({"annotator-id_0": {"task1/train/mouse001": {
        "keypoints": np.zeros((3, 2, 2, 7)).tolist(), "annotations": [0, 3, 3],
        "metadata": {"vocab": {"attack": 0, "investigation": 1, "mount": 2, "other": 3}}}}}))
    d = read_calms21(p)
    assert d["vocab"]["other"] == 3
    assert d["sequences"]["task1/train/mouse001"]["annotations"].tolist() == [0, 3, 3]
    with pytest.raises(DataError, match="no 'annotator-id_1' group"):
        read_calms21(p, annotator="annotator-id_1")
