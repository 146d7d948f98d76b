"""A tiny world on disk: every format read back with the io readers, lists and splits,
determinism across workers, cheap re-runs and resuming after an interruption."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from motionscope.errors import ConfigError, DataError
from motionscope.io import depth as io_depth
from motionscope.io import keypoints as io_kp
from motionscope.io import ntu as io_ntu
from motionscope.io import rawframes as io_raw
from motionscope.io import splits as io_splits
from motionscope.io import video as io_video
from motionscope.synth import jobs
from motionscope.synth.export import ALL_FORMATS, generate_world

TINY = dict(classes="pick_up,jump_up,falling", clips_per_class=9, frames=8, size=(64, 64),
            formats=ALL_FORMATS, seed=3, behavior_videos=(1, 1), behavior_segments=2,
            progress=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    man = generate_world(root, **TINY)
    return root, json.loads(man.read_text())


def _tree_hash(root: Path) -> dict:
    out = {}
    for dp, _, files in os.walk(root):
        for f in files:
            p = Path(dp) / f
            out[str(p.relative_to(root))] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def test_manifest_and_lists(world):
    root, m = world
    assert m["format"] == "motionscope-world" and m["config"]["seed"] == 3
    assert [c["ntu_action"] for c in m["classes"]] == ["A006", "A027", "A043"]
    assert (root / "classes.txt").read_text().splitlines() == ["pick up", "jump up", "falling"]
    clips = m["clips"]
    assert len(clips) == 27 and m["counts"] == {"train": 9, "val": 9, "test": 9}
    for split in ("train", "val", "test"):
        vids = io_splits.read_video_csv(root / m["lists"]["videos"][split],
                                        root=root / m["lists"]["videos"]["root"])
        frames = io_raw.read_rawframe_list(root / m["lists"]["rawframes"][split],
                                           root=root / "rawframes")
        want = [(c["name"], c["label"]) for c in clips if c["split"] == split]
        assert [(Path(s.path).name.split("_")[0], s.label) for s in vids] == want
        assert [(Path(s.path).name, s.label, s.num_frames) for s in frames] == \
            [(n, lab, 8) for n, lab in want]
        assert all(Path(s.path).is_file() for s in vids)
        assert all(io_raw.count_frames(s.path) == 8 for s in frames)
        for c in clips:
            if c["split"] == split:
                assert io_splits.ntu_split(c["name"], "ntu120_xsub") == \
                    ("test" if split == "test" else "train")


def test_skeleton_matches_exact_joints(world):
    root, m = world
    for c in m["clips"][:6]:
        sk = io_ntu.read_skeleton(root / c["paths"]["skeleton"])
        assert io_ntu.parse_ntu_name(c["name"]).label + 1 == c["action"]
        j = np.load(root / c["paths"]["joints"])
        xyz = sk.to_array(max_bodies=1)[0]
        np.testing.assert_allclose(xyz, j["ntu25_3d"], rtol=2e-6, atol=2e-6)
        col = sk.to_array(max_bodies=1, field="color_xy")[0]
        np.testing.assert_allclose(col, j["ntu25_2d"], rtol=1e-5, atol=2e-3)
        trk = sk.to_array(max_bodies=1, field="tracking")[0, ..., 0]
        np.testing.assert_array_equal(trk, np.where(j["ntu25_vis"], 2, 1))
        assert np.isin(j["body_joints"], ["pelvis", "l_heel"]).sum() == 2


def test_rgb_depth_keypoints_silhouettes_read_back(world):
    root, m = world
    c = m["clips"][4]
    p = c["paths"]
    vid = io_video.read_video(root / p["video"])
    raw = io_raw.read_frames(root / p["rawframes"])
    assert vid.shape == raw.shape == (8, 64, 64, 3)
    assert np.abs(vid.astype(int) - raw.astype(int)).mean() < 10  # two lossy codecs, one image
    dm = io_depth.read_depth_folder(root / p["depth_masked"])
    df = io_depth.read_depth_folder(root / p["depth"])
    assert sorted(os.listdir(root / p["depth_masked"]))[0] == "MDepth-00000001.png"
    assert dm.dtype == np.uint16 and dm.shape == (8, 64, 64)
    on = dm > 0
    assert on.any() and (dm[on] == df[on]).all() and (df > 0).all()
    sil = np.load(root / p["silhouette"])["mask"]
    np.testing.assert_array_equal(sil.astype(bool), on)
    kps = io_kp.read_alphapose_json(root / p["keypoints"])
    assert kps.layout == "halpe26" and kps.keypoints.shape == (1, 8, 26, 2)
    j = np.load(root / p["joints"])
    seen = kps.scores[0] > 0
    err = np.abs(kps.keypoints[0][seen] - j["halpe26_2d"][seen])
    assert np.median(err) < 1.5 and err.max() < 8  # detector-like noise around the truth
    assert kps.scores[0][j["halpe26_vis"] & seen].mean() > kps.scores[0][~j["halpe26_vis"]
                                                                         & seen].mean()


def test_behavior_layout(world):
    root, m = world
    assert [b["split"] for b in m["behavior"]] == ["train", "val"]
    for b in m["behavior"]:
        folder = root / b["frames_dir"]
        assert folder.parent.name == b["split"] and folder.parent.parent.name == "behavior"
        assert io_raw.count_frames(folder) == b["frames"] == 16
        k = np.load(root / b["keypoints"])
        assert k["keypoints"].shape == (16, 26, 2) and k["visible"].shape == (16, 26)
        assert set(np.unique(k["labels"])) <= {-1, 0, 1}  # no falls in behaviour videos
        assert (k["labels"] >= 0).any()


def test_rerun_is_a_noop_and_other_settings_are_refused(world):
    root, m = world
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    assert generate_world(root, **TINY) == root / "manifest.json"
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == before
    with pytest.raises(DataError, match="other settings"):
        generate_world(root, **{**TINY, "seed": 4})
    with pytest.raises(ConfigError, match="unknown world format"):
        generate_world(root / "x", formats=("rgb", "pointcloud"), progress=False)
    with pytest.raises(ConfigError, match="even"):
        generate_world(root / "x", size=(63, 64), progress=False)


SMALL = dict(classes="kick", clips_per_class=3, frames=4, size=(32, 32), seed=1,
             formats=("rgb", "depth", "skeleton", "keypoints", "rawframes", "silhouette"),
             progress=False)


def test_same_bytes_for_any_worker_count_and_after_resume(tmp_path, monkeypatch):
    a = generate_world(tmp_path / "a", workers=1, **SMALL).parent
    b = generate_world(tmp_path / "b", workers=2, **SMALL).parent
    ha = _tree_hash(a)
    assert ha == _tree_hash(b)
    assert any(k.endswith(".mp4") for k in ha) and not any(".done" in k for k in ha)
    # an interrupted run: the second clip fails after the first was written
    real = jobs._write_clip
    calls = []

    def flaky(args):
        calls.append(args[2].name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(args)

    monkeypatch.setattr(jobs, "_write_clip", flaky)
    with pytest.raises(KeyboardInterrupt):
        generate_world(tmp_path / "c", workers=1, **SMALL)
    assert not (tmp_path / "c" / "manifest.json").exists()
    monkeypatch.setattr(jobs, "_write_clip", real)
    resumed = []
    monkeypatch.setattr(jobs, "_write_clip", lambda args: resumed.append(1) or real(args))
    generate_world(tmp_path / "c", workers=1, **SMALL)
    assert len(resumed) == 2  # the finished clip was not rendered again
    assert _tree_hash(tmp_path / "c") == ha
