"""``generate_stimuli`` end to end on a tiny world: layout, frame rules on disk, determinism,
resume, split lists, keypoint folders and bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from motionscope.errors import ConfigError, DataError
from motionscope.io.splits import read_video_csv
from motionscope.io.video import read_video
from motionscope.stimuli import CONDITION_NAMES, generate_stimuli, render_condition
from motionscope.stimuli.halpe import Pose


def _manifest(root):
    return json.loads((root / "stimuli.json").read_text())


def _clips(root, cond):
    m = _manifest(root)["conditions"][cond]
    return read_video_csv(root / m["list"], root / m["root"])


def _world_tests(world):
    man = json.loads((world / "manifest.json").read_text())
    return [c for c in man["clips"] if c["split"] == "test"]


def test_layout_and_counts(tiny_stimuli, tiny_world):
    m = _manifest(tiny_stimuli)
    assert list(m["conditions"]) == list(CONDITION_NAMES)
    tests = _world_tests(tiny_world)
    labels = {c["name"]: c["label"] for c in tests}
    for cond, info in m["conditions"].items():
        assert not info["failed"], (cond, info["failed"][:1])
        rows = _clips(tiny_stimuli, cond)
        expected = 2 if cond.endswith("V") else len(tests)  # one clip per view per action
        assert info["clips"] == len(rows) == expected, cond
        for s in rows:
            rel = s.path.split("/videos/")[1]
            name = rel.split("/")[1]
            assert name.startswith("AlphaPose_") == (not cond.startswith("RGB")), rel
            key = name.replace("AlphaPose_", "")[:20]
            assert rel.startswith(f"A{key[-3:]}/") and s.label == labels[key]
    views = [{s.path.split("AlphaPose_")[1][:20] for s in _clips(tiny_stimuli, f"J-6P-{v}V")}
             for v in (0, 45, 90)]
    assert set.union(*views) == set(labels) and sum(map(len, views)) == len(labels)
    for v, names in zip((0, 45, 90), views):
        assert all(c["view"] == v for c in tests if c["name"] in names)


def test_clip_lengths_and_temporal_rules(tiny_stimuli, tiny_world):
    first = {c: read_video(_clips(tiny_stimuli, c)[0].path).astype(int) for c in (
        "RGB", "RGB-R", "RGB-S", "RGB-4F", "RGB-3F", "J-6P", "J-6P-R", "J-6P-S", "J-6P-4F",
        "J-6P-3F", "SP-8P-4LT")}
    lengths = {c: len(v) for c, v in first.items()}
    assert lengths == {"RGB": 32, "RGB-R": 32, "RGB-S": 32, "RGB-4F": 4, "RGB-3F": 3,
                       "J-6P": 32, "J-6P-R": 32, "J-6P-S": 32, "J-6P-4F": 4, "J-6P-3F": 3,
                       "SP-8P-4LT": 32}
    from motionscope.io.video import video_info

    fps = {c: video_info(_clips(tiny_stimuli, c)[0].path).fps for c in ("J-6P", "J-6P-4F",
                                                                          "RGB-3F", "SP-4P-1LT")}
    world_fps = json.loads((tiny_world / "manifest.json").read_text())["fps"]
    assert fps == pytest.approx({"J-6P": world_fps, "J-6P-4F": world_fps * 4 / 32,
                                 "RGB-3F": world_fps * 3 / 32, "SP-4P-1LT": world_fps})
    rgb, j6 = first["RGB"], first["J-6P"]
    assert np.abs(first["RGB-R"] - rgb[::-1]).mean() < 3
    assert np.abs(first["RGB-4F"] - rgb[[0, 10, 20, 31]]).mean() < 3
    assert np.abs(first["J-6P-3F"] - j6[[0, 15, 31]]).mean() < 1
    assert np.abs(first["J-6P-R"] - j6[::-1]).mean() < 1
    # a shuffle is a permutation of the same 32 frames, not in order
    dist = np.abs(first["RGB-S"][:, None] - rgb[None]).mean(axis=(2, 3, 4))
    match = dist.argmin(1)
    assert dist.min(1).max() < 4 and sorted(match) == list(range(32))
    assert (match != np.arange(32)).sum() > 16
    # the plain RGB condition is the original test video itself
    src = tiny_world / "videos" / _clips(tiny_stimuli, "RGB")[0].path.split("/videos/")[1]
    assert src.read_bytes() == open(_clips(tiny_stimuli, "RGB")[0].path, "rb").read()
    assert j6.any(axis=(1, 2, 3)).all()


def test_view_subsets_reuse_the_j6p_clips(tiny_stimuli):
    j6 = {s.path.split("/videos/")[1]: s.path for s in _clips(tiny_stimuli, "J-6P")}
    for v in (0, 45, 90):
        for s in _clips(tiny_stimuli, f"J-6P-{v}V"):
            rel = s.path.split("/videos/")[1]
            assert open(s.path, "rb").read() == open(j6[rel], "rb").read()


def test_same_seed_same_bytes_any_workers(tiny_world, tiny_stimuli, tmp_path):
    conds = "J-6P-S,RGB-S,SP-4P-2LT,SP-8P-1LT"
    out = generate_stimuli(tiny_world, tmp_path / "w2", conds, workers=2, progress=False).parent
    for cond in conds.split(","):
        for a, b in zip(_clips(out, cond), _clips(tiny_stimuli, cond)):
            assert open(a.path, "rb").read() == open(b.path, "rb").read(), cond
    other = generate_stimuli(tiny_world, tmp_path / "s1", "SP-8P-1LT", seed=1,
                             progress=False).parent
    a, b = _clips(other, "SP-8P-1LT")[0], _clips(tiny_stimuli, "SP-8P-1LT")[0]
    assert open(a.path, "rb").read() != open(b.path, "rb").read()


def test_resume_and_settings_guard(tiny_world, tmp_path):
    out = tmp_path / "r"
    p = generate_stimuli(tiny_world, out, "J-6P", progress=False, limit=2)
    clip = _clips(out, "J-6P")[0].path
    before = (open(clip, "rb").read(), p.stat().st_mtime_ns)
    (out / "stimuli.json").unlink()  # an interrupted run: clips there, no manifest
    p = generate_stimuli(tiny_world, out, "J-6P", progress=False, limit=2)
    assert open(clip, "rb").read() == before[0] and _manifest(out)["conditions"]["J-6P"][
        "clips"] == 2
    with pytest.raises(DataError, match="other settings"):
        generate_stimuli(tiny_world, out, "J-6P", seed=3, progress=False, limit=2)


def test_official_split_list_selects_and_labels(tiny_world, tmp_path):
    tests = _world_tests(tiny_world)
    lines = [f"A{c['action']:03d}/AlphaPose_{c['name']}_rgb.mp4,7" for c in tests[:2]]
    lines.append(f"A{tests[2]['action']:03d}/{tests[2]['name']}_rgb.mp4,3")
    lines.append("A024/S099C001P001R001A024_rgb.mp4,4")  # not in this source
    lst = tmp_path / "test_list.csv"
    lst.write_text("\n".join(lines))
    out = generate_stimuli(tiny_world, tmp_path / "l", "RGB,J-6P", list_path=str(lst),
                           progress=False).parent
    m = _manifest(out)
    assert m["source"]["missing_from_source"] == 1
    rows = (out / m["conditions"]["J-6P"]["list"]).read_text().split()
    assert rows == [f"A{c['action']:03d}/AlphaPose_{c['name']}_rgb.mp4,{lab}"
                    for c, lab in zip(tests[:3], (7, 7, 3))]
    rgb = (out / m["conditions"]["RGB"]["list"]).read_text().split()
    assert rgb[0] == f"A{tests[0]['action']:03d}/{tests[0]['name']}_rgb.mp4,7"


@pytest.fixture
def keypoint_folder(tiny_world, tmp_path):
    """World AlphaPose JSON files + their videos in a plain folder, plus broken files."""
    from motionscope.io.keypoints import read_alphapose_json, write_alphapose_json

    root = tmp_path / "kp"
    (root / "poses").mkdir(parents=True)
    (root / "videos").mkdir()
    tests = _world_tests(tiny_world)
    for c in tests[:2]:
        shutil.copy(tiny_world / c["paths"]["keypoints"], root / "poses" / f"{c['name']}.json")
        shutil.copy(tiny_world / c["paths"]["video"], root / "videos" / f"{c['name']}_rgb.mp4")
    # missing frames: detections of frames 10-19 removed from the first file
    p = root / "poses" / f"{tests[0]['name']}.json"
    data = [d for d in json.loads(p.read_text()) if not 10 <= int(d["image_id"][:-4]) < 20]
    p.write_text(json.dumps(data))
    # a 2-frame file (shorter than an SP lifetime of 4) with its video
    k = read_alphapose_json(root / "poses" / f"{tests[1]['name']}.json")
    short = tests[1]["name"].replace("S0", "S9", 1)
    k.keypoints, k.scores, k.frame_names = k.keypoints[:, :2], k.scores[:, :2], None
    write_alphapose_json(root / "poses" / f"{short}.json", k)
    shutil.copy(root / "videos" / f"{tests[1]['name']}_rgb.mp4", root / "videos" / f"{short}_rgb.mp4")
    # nobody detected, and a file that is not JSON
    (root / "poses" / "S010C001P001R001A006.json").write_text("[]")
    (root / "poses" / "S011C001P001R001A006.json").write_text("{not json")
    return root, tests, short


def test_keypoint_folder_and_bad_input(keypoint_folder, tmp_path):
    root, tests, short = keypoint_folder
    out = generate_stimuli(root, tmp_path / "o", "J-6P,SP-8P-4LT", progress=False).parent
    m = _manifest(out)
    assert m["source"]["kind"] == "keypoints" and m["samples"] == 5
    j6 = m["conditions"]["J-6P"]
    assert j6["clips"] == 3
    errors = {f["sample"]: f["error"] for f in j6["failed"]}
    assert "no person" in errors["S010C001P001R001A006"]
    assert "not valid JSON" in errors["S011C001P001R001A006"]
    for s in _clips(out, "J-6P"):
        clip = read_video(s.path)
        assert len(clip) == 32 and clip.shape[1:3] == (64, 64)
    assert any("frames without a detected person dropped" in n for n in m["notes"])
    with pytest.raises(DataError, match="S010C001P001R001A006"):
        generate_stimuli(root, tmp_path / "strict", "J-6P", strict=True, progress=False)
    # keeping the source length: the 2-frame clip stays 2 frames, with a note
    out2 = generate_stimuli(root, tmp_path / "o2", "SP-8P-4LT", frames=None,
                            progress=False).parent
    m2 = _manifest(out2)
    assert any("shorter than the SP lifetime" in n for n in m2["notes"])
    lens = {s.path.split("AlphaPose_")[1][:20]: len(read_video(s.path))
            for s in _clips(out2, "SP-8P-4LT")}
    assert lens[short] == 2 and lens[tests[1]["name"]] == 32


def test_world_keypoints_pose_source(tiny_world, tmp_path):
    out = generate_stimuli(tiny_world, tmp_path / "k", "J-26P", pose="keypoints", limit=2,
                           progress=False).parent
    m = _manifest(out)
    assert m["source"]["kind"] == "world" and m["conditions"]["J-26P"]["clips"] == 2


def test_render_condition_replicates_after_dropped_frames():
    T = 20
    kp = np.random.default_rng(0).uniform(10, 50, (1, T, 26, 2)).astype(np.float32)
    sc = np.full((1, T, 26), 0.9, np.float32)
    sc[:, 5:15] = 0  # nobody in half the frames
    pose = Pose(kp, sc, (64, 64), 30.0, np.arange(T))
    g, fps, notes = render_condition("J-6P", pose, frames=32)
    assert len(g) == 32 and fps == pytest.approx(30 * 32 / 10) and notes
    g, fps, notes = render_condition("SP-8P-2LT", pose, frames=32)
    assert len(g) == 32 and any("replicated" in n for n in notes)
    sc[:] = 0
    with pytest.raises(DataError, match="no person"):
        render_condition("J-5P", Pose(kp, sc, (64, 64), 30.0, np.arange(T)))
    with pytest.raises(ValueError, match="RGB"):
        render_condition("RGB", pose)


def test_argument_errors(tiny_world, tmp_path):
    with pytest.raises(ConfigError, match="even"):
        generate_stimuli(tiny_world, tmp_path / "x", "J-6P", size=(63, 64))
    with pytest.raises(ConfigError, match="unknown BMP condition"):
        generate_stimuli(tiny_world, tmp_path / "x", "J-6Q")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no sample found"):
        generate_stimuli(tmp_path / "empty", tmp_path / "x", "J-6P")
    kp_only = tmp_path / "kp_only"
    kp_only.mkdir()
    man = json.loads((tiny_world / "manifest.json").read_text())
    shutil.copy(tiny_world / man["clips"][0]["paths"]["skeleton"], kp_only)
    with pytest.raises(DataError, match="RGB conditions need videos"):
        generate_stimuli(kp_only, tmp_path / "x", "RGB-R")


def test_previews(tiny_world, tmp_path):
    out = generate_stimuli(tiny_world, tmp_path / "p", "J-6P,SP-8P-1LT", limit=1,
                           preview="gif", progress=False).parent
    prev = _manifest(out)["previews"]
    assert set(prev) == {"J-6P", "SP-8P-1LT", "all"}
    from PIL import Image

    with Image.open(out / prev["all"]) as im:
        assert im.n_frames == 32 and im.size[0] > im.size[1]


def test_ntu_root_with_the_official_bmp_lists(tiny_world, tmp_path, shared_data):
    """An NTU RGB+D layout (``nturgb+d_skeletons/``, ``nturgb+d_rgb/*_rgb.avi``) and the
    official ``test_RGB.csv`` as it is: the lines we write are the official lines, and the view
    subsets are those of the official viewpoint lists."""
    from motionscope.io.video import write_video

    protocols = shared_data("point_light", "motion_perceiver_protocols")
    official = (protocols / "test_RGB.csv").read_text().split()
    man = json.loads((tiny_world / "manifest.json").read_text())
    root = tmp_path / "ntu"
    (root / "nturgb+d_skeletons").mkdir(parents=True)
    (root / "nturgb+d_rgb").mkdir()
    picked = [official[0], official[1], official[5]]
    for line, clip in zip(picked, man["clips"]):
        name = line.split("/")[1][:20]
        shutil.copy(tiny_world / clip["paths"]["skeleton"],
                    root / "nturgb+d_skeletons" / f"{name}.skeleton")
        frames = read_video(tiny_world / clip["paths"]["video"])
        write_video(root / "nturgb+d_rgb" / f"{name}_rgb.avi", frames, fps=30, codec="mpeg4")
    out = generate_stimuli(root, tmp_path / "bmp", "RGB,J-6P,ICV", size=(64, 112),
                           list_path=str(protocols / "test_RGB.csv"), progress=False).parent
    m = _manifest(out)
    assert m["samples"] == 3 and m["source"]["missing_from_source"] == len(official) - 3
    assert m["classes"][0] == "pick up"
    rgb = (out / m["conditions"]["RGB"]["list"]).read_text().split()
    assert rgb == picked
    j6 = (out / m["conditions"]["J-6P"]["list"]).read_text().split()
    assert j6 == [x.replace("/", "/AlphaPose_") for x in picked]
    for v in (0, 45, 90):
        ours = set((out / m["conditions"][f"J-6P-{v}V"]["list"]).read_text().split())
        theirs = set((protocols / f"test_6JOINTS_viewpoint_{v}.csv").read_text().split())
        assert ours <= theirs and ours == theirs & set(j6)
    clip = read_video(_clips(out, "J-6P")[0].path)
    assert clip.shape == (32, 64, 112, 3)


@pytest.mark.parametrize("where", ["up", "absolute"])
def test_cli_list_paths_cannot_leave_out(tiny_world, tmp_path, capsys, where):
    """`motionscope stimuli --list` with a line naming ``../../..`` or an absolute path: exit
    code 2 with the list file and line, and nothing written outside --out."""
    from motionscope.cli import main

    name = _world_tests(tiny_world)[0]["name"]
    bad = (f"../../../escape/{name}_rgb.mp4" if where == "up"
           else f"{tmp_path}/escape/{name}_rgb.mp4")
    lst = tmp_path / "list.csv"
    lst.write_text(f"A001/{_world_tests(tiny_world)[1]['name']}_rgb.mp4,0\n{bad},1\n")
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as e:
        main(["stimuli", "--source", str(tiny_world), "--out", str(out), "--list", str(lst),
              "--conditions", "RGB,J-6P", "--size", "32x32"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "list.csv: line 2: path" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.csv"]  # not even --out


def test_world_manifest_paths_stay_inside_the_world(tiny_world, tmp_path):
    world = tmp_path / "w"
    shutil.copytree(tiny_world, world)
    man = json.loads((world / "manifest.json").read_text())
    man["clips"][0]["paths"]["video"] = "videos/../../outside_rgb.mp4"
    (world / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(DataError, match=r"manifest\.json: clips\[0\]\.paths\.video: path "
                                        r"'videos/\.\./\.\./outside_rgb\.mp4' leaves"):
        generate_stimuli(world, tmp_path / "o", "RGB", split="all", progress=False)
    assert not (tmp_path / "o").exists()


def test_preview_reads_lists_inside_the_stimuli_folder(tiny_stimuli):
    from motionscope.stimuli.preview import first_clip

    man = {"conditions": {"J-6P": {"clips": 1, "list": "../J-6P.csv", "root": "J-6P/videos"}}}
    with pytest.raises(DataError, match=r"stimuli\.json: conditions\.J-6P\.list: path "
                                        r"'\.\./J-6P\.csv' leaves"):
        first_clip(tiny_stimuli, "J-6P", manifest=man)


def test_missing_message_names_the_missing_samples():
    from motionscope.stimuli.generate import missing_message

    assert missing_message({"source": {"missing_from_source": 0}}) is None
    names = [f"S{i:03d}C001P001R001A006" for i in range(12)]
    msg = missing_message({"source": {"path": "/src", "list": "test_RGB.csv",
                                      "missing_from_source": 30, "missing_examples": names}})
    assert msg == ("30 listed samples of test_RGB.csv not in the source /src: "
                   + ", ".join(names[:10]) + " and 20 more")


def test_cli_names_listed_samples_the_source_lacks(tiny_world, tmp_path, capsys):
    from motionscope.cli import main

    tests = _world_tests(tiny_world)
    lst = tmp_path / "list.csv"
    lst.write_text(f"A{tests[0]['action']:03d}/{tests[0]['name']}_rgb.mp4,0\n"
                   "A024/S099C001P001R001A024_rgb.mp4,4\n")
    main(["stimuli", "--source", str(tiny_world), "--out", str(tmp_path / "o"), "--list", str(lst),
          "--conditions", "RGB", "--size", "32x32"])
    err = capsys.readouterr().err
    assert "warning: 1 listed sample of " in err and "list.csv not in the source" in err, err
    assert "S099C001P001R001A024" in err
