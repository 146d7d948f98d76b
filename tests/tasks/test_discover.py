"""``motionscope discover``: train a tiny B-KinD on a tiny world, extract, render, regress."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionscope.errors import CheckpointError, DataError
from motionscope.testing import run_cli


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from motionscope.synth import generate_world

    root = tmp_path_factory.mktemp("bk") / "w"
    generate_world(root, classes="pick_up,throw", clips_per_class=1, frames=16, size=(64, 64),
                   formats=("behavior",), behavior_videos=(1, 1), behavior_segments=2,
                   progress=False)
    return root


@pytest.fixture(scope="module")
def run(world, tmp_path_factory):
    from motionscope.api import discover_train

    rdir = tmp_path_factory.mktemp("run") / "r"
    res = discover_train("bkind_world", [f"data.root={world}", "train.max_steps=2",
                                         "train.epochs=1", "data.batch_size=2",
                                         "model.args.num_keypoints=3", "train.progress=false",
                                         "data.args.frame_gap=2"], run_dir=str(rdir))
    return res["run_dir"]


def test_extract_writes_npz_csv_and_sleap_file_that_read_back(run, world, tmp_path, capsys):
    from motionscope.io.keypoints import read_dlc_csv, read_sleap_analysis
    from motionscope.io.tracks import read_track_npz

    video = world / "behavior" / "train" / "video_000"
    code, out, err = run_cli(capsys, "discover", "extract", run, str(video), "--out",
                             str(tmp_path / "kp"), "--batch-size", "5")
    assert code == 0, err
    t = read_track_npz(tmp_path / "kp" / "video_000.npz")
    assert t.keypoints.shape == (1, 32, 3, 2) and t.confidence.shape == (1, 32, 3)
    assert t.covariance.shape == (1, 32, 3, 3) and np.isfinite(t.keypoints).all()
    assert (t.keypoints >= -1).all() and (t.keypoints <= 64).all()
    dlc = read_dlc_csv(tmp_path / "kp" / "video_000.csv")
    assert np.allclose(dlc.keypoints[0], t.keypoints[0], atol=1e-3)
    sl = read_sleap_analysis(tmp_path / "kp" / "video_000.analysis.h5")
    assert np.allclose(sl.keypoints[0], t.keypoints[0], atol=1e-4)
    assert sl.joint_names == ["kp0", "kp1", "kp2"]
    # batched extraction gives what one frame at a time gives
    from motionscope.data.pairs import input_settings
    from motionscope.tasks.discover import extract_source, load_detector

    model, args = load_detector(run)
    one = extract_source(model, video, input_settings(args), batch_size=1, show_progress=False)
    assert np.allclose(one.keypoints, t.keypoints, atol=1e-3)
    # bf16 autocast: the same keypoints within a fraction of a pixel, said in the summary
    code, _, err = run_cli(capsys, "discover", "extract", run, str(video), "--out",
                           str(tmp_path / "kp16"), "--precision", "bf16")
    assert code == 0, err
    t16 = read_track_npz(tmp_path / "kp16" / "video_000.npz")
    assert np.abs(t16.keypoints - t.keypoints).max() < 1.0
    assert json.loads((tmp_path / "kp16" / "extract.json").read_text())["precision"] == "bf16"
    code, _, err = run_cli(capsys, "discover", "extract", run, str(video), "--out",
                           str(tmp_path / "kpx"), "--precision", "fp16")
    assert code != 0 and "--precision must be one of fp32, bf16" in err
    # render a still and a GIF
    code, _, err = run_cli(capsys, "discover", "render", str(tmp_path / "kp" / "video_000.npz"),
                           str(video), "--out", str(tmp_path / "still.png"))
    assert code == 0 and (tmp_path / "still.png").stat().st_size > 0, err
    from motionscope.api import discover_render

    assert discover_render(str(tmp_path / "kp" / "video_000.npz"), str(video),
                           str(tmp_path / "a.gif"), num=4).is_file()
    # regression against the world's true joints, with the baseline
    from motionscope.api import discover_regress

    res = discover_regress(str(tmp_path / "kp" / "video_000.npz"),
                           str(world / "behavior" / "keypoints" / "video_000.npz"),
                           str(tmp_path / "reg"), folds=2, baseline=True)
    r = res["agents"]["agent0"]
    assert r["discovered"]["frames"] == 32 and r["baseline"]["joints"] == 26
    assert 0 < r["discovered"]["error_image_pct"] < 100


def test_box_mode_one_track_per_agent(run, world, tmp_path):
    from motionscope.api import discover_extract
    from motionscope.io.tracks import read_track_npz

    video = world / "behavior" / "train" / "video_000"
    csv = tmp_path / "b.csv"
    rows = ["frame,track,x,y,w,h"] + [f"{t},left,0,0,32,64" for t in range(32)] + \
        [f"{t},right,32,0,32,64" for t in range(0, 32, 2)]
    csv.write_text("\n".join(rows) + "\n")
    discover_extract(run, str(video), str(tmp_path / "kp"), boxes=str(csv), batch_size=7)
    t = read_track_npz(tmp_path / "kp" / "video_000.npz")
    assert t.track_names == ["left", "right"] and t.keypoints.shape == (2, 32, 3, 2)
    assert np.isfinite(t.keypoints[1, ::2]).all() and np.isnan(t.keypoints[1, 1::2]).all()
    assert (t.keypoints[0, ..., 0] < 32.5).all() and (t.keypoints[1, ::2, :, 0] > 30.5).all()


def test_bad_inputs_are_one_clear_error(run, world, tmp_path, capsys):
    from motionscope.api import discover_extract, discover_regress
    from motionscope.io.tracks import KeypointTrack, write_track_npz

    video = world / "behavior" / "train" / "video_000"
    with pytest.raises(CheckpointError, match="trained with 3 keypoints, 5 were asked"):
        discover_extract(run, str(video), str(tmp_path / "x"), num_keypoints=5)
    tr = KeypointTrack(np.zeros((10, 3, 2)), np.ones((10, 3)), np.zeros((10, 3, 3)),
                       image_size=(64, 64))
    write_track_npz(tmp_path / "short.npz", tr)
    with pytest.raises(DataError, match=r"labels frames up to 31 but the video of the track has "
                                        r"10 frames"):
        discover_regress(str(tmp_path / "short.npz"),
                         str(world / "behavior" / "keypoints" / "video_000.npz"))
    write_track_npz(tmp_path / "full.npz", KeypointTrack(
        np.zeros((32, 3, 2)), np.ones((32, 3)), np.zeros((32, 3, 3)), image_size=(64, 64)))
    with pytest.raises(DataError, match=r"has no keypoints named \['tail'\] \(its names: "):
        discover_regress(str(tmp_path / "full.npz"),
                         str(world / "behavior" / "keypoints" / "video_000.npz"),
                         joints=["tail"])
    code, _, err = run_cli(capsys, "discover", "render", str(tmp_path / "short.npz"), str(video),
                           "--out", str(tmp_path / "r.png"))
    assert code == 2 and "track has 10 frames but" in err and "Traceback" not in err


def test_discover_train_refuses_a_non_bkind_preset():
    from motionscope.errors import ConfigError
    from motionscope.tasks.discover import train

    with pytest.raises(ConfigError, match="B-KinD preset"):
        train("baseline_skeleton")


def test_classify_on_the_worlds_behaviour_videos(run, world, tmp_path):
    from motionscope.api import discover_classify, discover_extract

    discover_extract(run, str(world / "behavior" / "train"), str(tmp_path / "tr"))
    discover_extract(run, str(world / "behavior" / "val"), str(tmp_path / "te"))
    res = discover_classify(str(tmp_path / "tr"), str(tmp_path / "te"), str(tmp_path / "c"),
                            world=str(world), past=24, future=24, gap=1, epochs=2)
    assert res["test_frames"] == 32 and res["window"] == 49
    assert set(res["classes"]) >= {"other"} and (tmp_path / "c" / "classification.json").is_file()
    assert 0 <= res["macro_f1"] <= 1
    with pytest.raises(DataError, match="no discovered keypoints for video_000"):
        discover_classify(str(tmp_path / "te"), str(tmp_path / "te"), world=str(world))


@pytest.mark.parametrize("video, tracks", [("centered_pair_low_quality.mp4", "centered_pair_predictions.h5"),
                                           ("clip.mp4", "clip.slp")])
def test_box_mode_on_the_real_two_fly_clips(run, shared_data, tmp_path, video, tracks):
    """Boxes from SLEAP's tracks of two flies: one track per fly, named as SLEAP named it, each
    fly's keypoints inside its own box in frame pixels, and a pose read-out per fly."""
    from motionscope.api import discover_extract, discover_regress
    from motionscope.io.boxes import check_frames, read_boxes
    from motionscope.io.tracks import read_track_npz

    video, tracks = shared_data("behavior_videos", "sleap", video), shared_data(
        "behavior_videos", "sleap", tracks)
    discover_extract(run, str(video), str(tmp_path / "kp"), boxes=str(tracks), batch_size=64)
    t = read_track_npz(tmp_path / "kp" / f"{video.stem}.npz")
    boxes = read_boxes(str(tracks))
    assert t.track_names == boxes.track_names and len(t.track_names) >= 2
    b = check_frames(boxes, t.keypoints.shape[1], video).boxes  # (M, T, 4) x0, y0, x1, y1
    seen = np.isfinite(b).all(-1)  # NaN where SLEAP did not track the fly
    assert (seen.sum(1) > 100).sum() >= 2  # two flies tracked for most of the clip (and fragments)
    kp = t.keypoints
    assert np.isfinite(kp[seen]).all() and np.isnan(kp[~seen]).all()
    x, y = kp[..., 0], kp[..., 1]
    inside = (x >= b[..., 0:1] - 0.5) & (x <= b[..., 2:3] + 0.5) & \
        (y >= b[..., 1:2] - 0.5) & (y <= b[..., 3:4] + 0.5)
    assert inside[seen].all()
    res = discover_regress(str(tmp_path / "kp" / f"{video.stem}.npz"), str(tracks), None,
                           folds=2, baseline=True)
    per_fly = [r for r in res["agents"].values() if r["discovered"]["frames"] >= 100]
    assert len(per_fly) >= 2
    for r in per_fly:
        assert 0 < r["discovered"]["error_image_pct"] < 50 and r["baseline"]["frames"] > 0


def test_a_finished_run_trains_further_with_resume(run, world, tmp_path, capsys):
    """A finished run is never overwritten; ``--resume`` with a longer schedule continues it."""
    import shutil

    from motionscope.engine.checkpoint import load_checkpoint

    rdir = tmp_path / "r"
    shutil.copytree(run, rdir)
    args = ["discover", "train", "bkind_world", f"data.root={world}", "train.epochs=1",
            "data.batch_size=2", "model.args.num_keypoints=3", "train.progress=false",
            "data.args.frame_gap=2", "--run-dir", str(rdir)]
    code, _, err = run_cli(capsys, *args, "train.max_steps=2")
    assert code != 0 and "already finished" in err and "--resume" in err
    code, _, err = run_cli(capsys, *args, "train.max_steps=3", "--resume", str(rdir))
    assert code == 0, err
    state = load_checkpoint(rdir / "checkpoints" / "last.pt")
    assert state["global_step"] == 3 and state["finished"]
