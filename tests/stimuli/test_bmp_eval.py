"""``bmp-eval`` with tiny models on tiny stimuli: the synthetic-clip fallback reader, a run
trained on a video dataset, the table and chart, bad input, and both CLI commands."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from motionscope.errors import DataError
from motionscope.tasks.bmp import bmp_eval

CONDS = "RGB,J-6P,J-6P-3F,SP-8P-1LT,J-6P-0V"


def _train(tmp_path, preset, overrides, name):
    from motionscope.tasks.classify import train

    run = tmp_path / name
    train(preset, ["train.max_steps=2", "train.epochs=1", "train.tensorboard=false",
                   "eval.plots=false", "train.progress=false", *overrides], run_dir=str(run))
    return run


@pytest.fixture(scope="module")
def clip_run(tmp_path_factory):
    """The baseline_clip preset (clip_cnn3d on generated 8x32x32 clips), two steps."""
    return _train(tmp_path_factory.mktemp("runs"), "baseline_clip",
                  ["data.args.num_samples=20", "model.args.width=4"], "clip")


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_bmp_eval_fallback_reader(clip_run, tiny_stimuli, tmp_path):
    res = bmp_eval(str(clip_run), str(tiny_stimuli), out=str(tmp_path / "bmp"),
                   conditions=CONDS, progress=False)
    names = [r["condition"] for r in res["rows"]]
    assert names == ["RGB", "J-6P", "J-6P-3F", "J-6P-0V", "SP-8P-1LT"]  # table order
    for r in res["rows"]:
        assert 0.0 <= r["top1"] <= 1.0 and r["clips"] == (2 if r["condition"] == "J-6P-0V" else 6)
    table = _rows(res["files"]["csv"])
    assert [t["condition"] for t in table] == names
    sp = table[-1]
    assert sp["paper_MP"] == "49.68" and sp["paper_SlowFast"] == "20.29"
    assert sp["paper_Human"] == "80.33" and sp["paper_best_baseline"] == "SlowFast"
    md = open(res["files"]["md"]).read()
    assert "| J-6P-3F | TR | 6 |" in md and "43.71" in md
    with open(res["files"]["chart"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(open(res["files"]["json"]).read())  # what a later reader reuses
    assert saved["rows"] == res["rows"] and saved["seconds"] == res["seconds"] > 0
    pred = _rows(tmp_path / "bmp" / "J-6P" / "test_predictions.csv")
    listed = (tiny_stimuli / "J-6P" / "splits" / "test_videos.csv").read_text().split()
    assert [p["label"] for p in pred] == [x.rsplit(",", 1)[1] for x in listed]


def test_bmp_eval_video_dataset_run(tiny_world, tiny_stimuli, tmp_path):
    preset = tmp_path / "tiny_videos.yaml"
    preset.write_text(f"""# tiny clip CNN on world videos
task: classify
model: {{name: clip_cnn3d, args: {{num_classes: 2, width: 4}}}}
data:
  name: videos
  root: {tiny_world}
  args: {{list: "splits/{{split}}_videos.csv", videos_dir: videos, num_segments: 8,
          frames_per_segment: 1, input_size: 32}}
  num_classes: 2
  batch_size: 4
  val_split: null
optim: {{name: sgd, lr: 0.01}}
""")
    run = _train(tmp_path, str(preset), [], "vid")
    res = bmp_eval(str(run), str(tiny_stimuli), conditions="RGB,J-6P-4F", progress=False)
    assert [r["clips"] for r in res["rows"]] == [6, 6]
    assert str(run) in res["files"]["csv"]  # default output: <run>/bmp


def test_bmp_eval_mp_clips_run(tiny_world, tiny_stimuli, tmp_path):
    """A run read as MP reads clips (replication rule, short side, centre crop) is evaluated
    through the same dataset."""
    from motionscope.data import mp_cache  # noqa: F401  (registers mp_clips)

    preset = tmp_path / "tiny_mp_clips.yaml"
    preset.write_text(f"""# tiny clip CNN read as MP clips
task: classify
model: {{name: clip_cnn3d, args: {{num_classes: 2, width: 4}}}}
data:
  name: mp_clips
  root: {tiny_world}
  args: {{source: world_clips, format: videos, frames: 8, size: 32, resize: null,
          crop: batch, flip: true}}
  num_classes: 2
  batch_size: 4
  val_split: null
optim: {{name: sgd, lr: 0.01}}
""")
    run = _train(tmp_path, str(preset), [], "mpc")
    res = bmp_eval(str(run), str(tiny_stimuli), conditions="J-6P,RGB-3F", progress=False)
    assert [(r["condition"], r["clips"]) for r in res["rows"]] == [("RGB-3F", 6), ("J-6P", 6)]


def test_bmp_eval_bad_input(clip_run, tiny_stimuli, tmp_path):
    with pytest.raises(DataError, match="no stimuli.json"):
        bmp_eval(str(clip_run), str(tmp_path), progress=False)
    bad = tmp_path / "bad"
    shutil.copytree(tiny_stimuli / "J-6P", bad / "J-6P")
    man = json.loads((tiny_stimuli / "stimuli.json").read_text())
    man["conditions"] = {"J-6P": man["conditions"]["J-6P"]}
    (bad / "stimuli.json").write_text(json.dumps(man))
    lst = bad / "J-6P" / "splits" / "test_videos.csv"
    lst.write_text(lst.read_text().replace(",1", ",12"))
    with pytest.raises(DataError, match="model has 10 classes"):
        bmp_eval(str(clip_run), str(bad), progress=False)
    with pytest.raises(DataError, match="none of the conditions"):
        bmp_eval(str(clip_run), str(bad), conditions="SP-8P-1LT", progress=False)


def test_cli_stimuli_and_bmp_eval(tiny_world, clip_run, tmp_path, capsys):
    from motionscope.cli import main

    out = tmp_path / "cli_stimuli"
    main(["stimuli", "--source", str(tiny_world), "--out", str(out), "--conditions",
          "J-6P,SP-4P-1LT", "--size", "32x32", "--seed", "3", "--radius", "1.5"])
    text = capsys.readouterr().out
    assert "J-6P" in text and "6 clips" in text and "stimuli written" in text
    m = json.loads((out / "stimuli.json").read_text())
    assert m["config"]["size"] == [32, 32] and m["config"]["seed"] == 3
    assert m["config"]["radius"] == 1.5
    main(["bmp-eval", str(clip_run), "--stimuli", str(out), "--out", str(tmp_path / "e")])
    text = capsys.readouterr().out
    assert "SP-4P-1LT" in text and (tmp_path / "e" / "bmp_chart.png").is_file()
    with pytest.raises(SystemExit) as e:
        main(["stimuli", "--source", str(tiny_world), "--out", str(out), "--size", "33x32"])
    assert e.value.code == 2 and "even" in capsys.readouterr().err


def test_bmp_eval_lists_stay_inside_the_stimuli_folder(clip_run, tiny_stimuli, tmp_path):
    """A stimuli.json whose condition list points outside the folder is refused (an existing
    list there would otherwise be evaluated)."""
    bad = tmp_path / "bad"
    shutil.copytree(tiny_stimuli / "J-6P", bad / "J-6P")
    man = json.loads((tiny_stimuli / "stimuli.json").read_text())
    man["conditions"] = {"J-6P": {**man["conditions"]["J-6P"], "list": "../outside.csv"}}
    (bad / "stimuli.json").write_text(json.dumps(man))
    shutil.copy(bad / "J-6P" / "splits" / "test_videos.csv", tmp_path / "outside.csv")
    with pytest.raises(DataError, match=r"stimuli\.json: conditions\.J-6P\.list: path "
                                        r"'\.\./outside\.csv' leaves"):
        bmp_eval(str(clip_run), str(bad), progress=False)
