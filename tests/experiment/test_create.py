"""``experiment create``: the folder, the videos in a browser format under opaque names, extras."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionscope.errors import ConfigError, DataError
from motionscope.experiment.create import create_experiment
from motionscope.experiment.media import browser_playable, make_playable, probe


@pytest.fixture(scope="module")
def made(tiny_stimuli, tmp_path_factory):
    exp = tmp_path_factory.mktemp("create") / "exp"
    create_experiment(tiny_stimuli, exp, participants=3, seed=1, progress=False)
    return exp


def _plan(exp):
    return json.loads((exp / "plan.json").read_text())


def test_folder_layout_and_plan(made, tiny_stimuli):
    for f in ("experiment.yaml", "plan.json", "consent.html", "instructions.html", "ready.html",
              "questionnaire.html"):
        assert (made / f).is_file(), f
    plan = _plan(made)
    # 4 classes x 3 clips, 3 conditions: one trial per cell, each source clip once
    assert plan["trials_per_participant"] == 12
    assert plan["extras"] == "world"  # the classes are the embedded world's
    for part in plan["participants"]:
        kinds = [t["kind"] for t in part["trials"]]
        assert kinds[:2] == ["practice", "practice"] and kinds.count("catch") == 4
    catch = [v for v in plan["videos"].values() if v["kind"] == "catch"]
    assert sorted(v["label"] for v in catch) == [0, 0, 1, 1]  # 2 sit down, 2 stand up
    assert all(v["condition"] == "RGB" for v in catch)
    # every planned video exists under an opaque name that does not give the class away
    for vid, v in plan["videos"].items():
        p = made / v["file"]
        assert p.is_file() and p.name.startswith(vid)
        assert "A0" not in p.name and "AlphaPose" not in p.name
    tests = [v for v in plan["videos"].values() if v["kind"] == "test"]
    assert all((tiny_stimuli / v["source"]).is_file() for v in tests)


def test_h264_stimuli_are_copied_byte_for_byte(made, tiny_stimuli):
    plan = _plan(made)
    assert plan["transcoded"] == 0
    for v in plan["videos"].values():
        if v["kind"] == "test":
            assert (made / v["file"]).read_bytes() == (tiny_stimuli / v["source"]).read_bytes()
            assert browser_playable(probe(made / v["file"]))


def test_webm_transcodes_to_vp9(tiny_stimuli, tmp_path):
    create_experiment(tiny_stimuli, tmp_path / "exp", participants=1, catch=0, practice=0,
                      conditions="J-6P", video_format="webm", progress=False)
    plan = _plan(tmp_path / "exp")
    assert plan["transcoded"] == len(plan["videos"]) > 0
    info = probe(tmp_path / "exp" / next(iter(plan["videos"].values()))["file"])
    assert info["codec"] == "vp9" and browser_playable(info, "webm")


def test_a_gif_becomes_h264(tmp_path):
    from motionscope.stimuli.encode import write_gif

    frames = (np.random.default_rng(0).random((6, 33, 41, 3)) * 255).astype(np.uint8)
    write_gif(tmp_path / "clip.gif", frames, fps=10)
    out, transcoded = make_playable(tmp_path / "clip.gif", tmp_path / "out" / "x", "mp4")
    info = probe(out)
    assert transcoded and out.suffix == ".mp4"
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p" and browser_playable(info)
    assert (info["width"], info["height"]) == (40, 32)  # 4:2:0 needs even sizes


def test_extras_from_the_stimuli_set_leave_the_plan(tiny_stimuli, tmp_path):
    create_experiment(tiny_stimuli, tmp_path / "exp", participants=2, catch=2, practice=1,
                      conditions="J-6P,SP-8P-1LT", extras="stimuli", progress=False)
    plan = _plan(tmp_path / "exp")
    assert plan["extras"] == "stimuli"
    extra = {v["sample"] for v in plan["videos"].values() if v["kind"] != "test"}
    main = {v["sample"] for v in plan["videos"].values() if v["kind"] == "test"}
    assert extra and not extra & main  # reserved source clips are never main trials
    assert all(v["source"].startswith("RGB/") for v in plan["videos"].values()
               if v["kind"] == "catch")


def test_existing_folder_needs_force_and_keeps_edited_texts(tiny_stimuli, tmp_path):
    exp = tmp_path / "exp"
    create_experiment(tiny_stimuli, exp, participants=1, catch=0, practice=0, progress=False)
    first = _plan(exp)["id"]
    (exp / "consent.html").write_text("<p>our approved consent</p>")
    with pytest.raises(DataError, match="already holds an experiment"):
        create_experiment(tiny_stimuli, exp, participants=1, progress=False)
    create_experiment(tiny_stimuli, exp, participants=2, catch=0, practice=0, force=True,
                      progress=False)
    assert (exp / "consent.html").read_text() == "<p>our approved consent</p>"
    plan = _plan(exp)
    assert plan["id"] != first and len(plan["participants"]) == 2
    assert {p.stem for p in (exp / "videos").iterdir()} == set(plan["videos"])


@pytest.mark.parametrize("kw, err, match", [
    ({"conditions": "J-6P,NOPE"}, ConfigError, "NOPE"),
    ({"video_format": "avi"}, ConfigError, "video-format"),
    ({"extras": "maybe"}, ConfigError, "extras"),
    ({"platform": "sona-x"}, ConfigError, "platform"),
    ({"participants": 0}, ConfigError, "participants"),
])
def test_bad_arguments(tiny_stimuli, tmp_path, kw, err, match):
    with pytest.raises(err, match=match):
        create_experiment(tiny_stimuli, tmp_path / "exp", progress=False, **kw)
    assert not (tmp_path / "exp" / "experiment.yaml").exists()


def test_not_a_stimuli_folder(tmp_path):
    with pytest.raises(DataError, match="motionscope stimuli"):
        create_experiment(tmp_path, tmp_path / "exp", progress=False)
