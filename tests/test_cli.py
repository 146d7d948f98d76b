"""The command line as a user types it: exit codes, messages, files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from motionscope.cli import main
from motionscope.testing import run_cli


def test_presets_config_info(capsys):
    code, out, _ = run_cli(capsys, "presets")
    assert code == 0 and "baseline_skeleton" in out
    code, out, _ = run_cli(capsys, "config", "baseline_skeleton", "train.epochs=3")
    assert code == 0 and "epochs: 3" in out
    code, out, _ = run_cli(capsys, "info")
    assert code == 0 and "torch" in out and "skeleton_transformer" in out and "threads" in out


def test_config_typo_is_one_clear_line(capsys):
    code, out, err = run_cli(capsys, "config", "baseline_skeleton", "train.epoch=3")
    assert code == 2
    assert "did you mean 'train.epochs'" in err and "Traceback" not in err


def test_train_test_predict_round_trip(tmp_path, capsys):
    run = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "baseline_skeleton", "train.epochs=2",
                             "data.args.num_samples=64", "model.args.dim=16", "train.tensorboard=false",
                             "--run-dir", str(run))
    assert code == 0, err
    assert "test: top1=" in out
    code, out, err = run_cli(capsys, "test", str(run), "--out", str(tmp_path / "ev"))
    assert code == 0, err
    assert "top1:" in out and "mean_class_acc:" in out
    assert (tmp_path / "ev" / "test_confusion.png").is_file()
    assert (tmp_path / "ev" / "test_predictions.csv").is_file()

    from motionscope.data.synthetic import SyntheticSkeletonDataset

    sample = SyntheticSkeletonDataset("test", num_samples=8)[3]
    np.save(tmp_path / "x.npy", sample["skeleton"].numpy())
    code, out, err = run_cli(capsys, "predict", str(run), str(tmp_path / "x.npy"), "--topk", "3",
                             "--json")
    assert code == 0, err
    res = json.loads(out)
    probs = [p["prob"] for p in res["predictions"]]
    assert len(probs) == 3 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    assert all(p["class"].startswith("class_") for p in res["predictions"])


def test_bad_inputs_give_one_line_errors(tmp_path, capsys):
    code, _, err = run_cli(capsys, "test", str(tmp_path / "nothing"))
    assert code == 2 and "nothing" in err and "not found" in err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    code, _, err = run_cli(capsys, "predict", str(bad), str(tmp_path / "x.npy"))
    assert code == 2 and "bad.pt" in err and "corrupt" in err
    code, _, err = run_cli(capsys, "train", "no_such_preset")
    assert code == 2 and "unknown preset" in err


@pytest.mark.slow
def test_console_script_installed():
    out = subprocess.run([sys.executable, "-m", "motionscope", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "train" in out.stdout and "predict" in out.stdout


def test_synth_command_writes_a_world(tmp_path, capsys):
    out = tmp_path / "world"
    code, o, err = run_cli(capsys, "synth", "--out", str(out), "--clips-per-class", "1",
                           "--frames", "8", "--size", "48x64", "--formats", "skeleton,rgb")
    assert code == 0, err
    assert (out / "manifest.json").is_file() and "world written" in o
    names = sorted(p.name for p in (out / "skeleton").glob("*.skeleton"))
    assert len(names) == 10 and names[0].startswith("S001C00")
    code, _, err = run_cli(capsys, "synth", "--out", str(out), "--size", "big")
    assert code == 2 and "--size" in err


@pytest.mark.slow
def test_demo_quick_end_to_end(tmp_path, capsys, monkeypatch):
    """The README's first command, shrunk: world -> ingestion -> two models -> table + chart."""
    monkeypatch.setenv("MOTIONSCOPE_CACHE", str(tmp_path / "cache"))
    code, out, err = run_cli(capsys, "demo", "--quick", "--out", str(tmp_path / "demo"))
    assert code == 0, err
    assert "skeleton: MAMP classifier" in out and "RGB: 3D CNN" in out
    res = json.loads((tmp_path / "demo" / "demo_results.json").read_text())
    assert len(res["models"]) == 2
    for m in res["models"].values():
        assert 0.0 <= m["top1"] <= 1.0 and (Path(m["run_dir"]) / "test_confusion.png").is_file()
    assert (tmp_path / "demo" / "demo_accuracy.png").stat().st_size > 1000
    assert list((tmp_path / "cache" / "worlds").glob("demo-*/manifest.json"))


def test_usage_errors_exit_2_without_traceback(capsys):
    code, _, err = run_cli(capsys, "train")
    assert code == 2 and "Missing argument" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "no-such-command")
    assert code == 2 and "No such command" in err
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "Usage" in out


def test_parse_hw_is_one_helper_for_every_size_option():
    from motionscope.cli import _parse_hw
    from motionscope.errors import ConfigError

    assert _parse_hw("224x398", "--size") == (224, 398) and _parse_hw("32X48", "--size") == (32, 48)
    for bad in ("big", "224", "1x2x3", "0x32", "ax4"):
        with pytest.raises(ConfigError, match="--size"):
            _parse_hw(bad, "--size")


def test_help_names_every_world_format_and_presets_print_whole_descriptions(capsys):
    from motionscope.config import list_presets
    from motionscope.synth.plan import ALL_FORMATS

    try:
        main(["synth", "--help"])
    except SystemExit as e:
        assert not e.code
    text = " ".join(capsys.readouterr().out.split())
    assert all(f in text for f in ALL_FORMATS), text
    desc = list_presets()["enmp_world"]
    assert "generated on first use into the cache" in desc  # the second comment line too
    main(["presets"])
    out = " ".join(capsys.readouterr().out.split())
    assert desc in out
