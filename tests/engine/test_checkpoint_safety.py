"""Checkpoints never execute code: every file loads with ``weights_only=True``; a crafted pickle
fails every command with one clear line and runs nothing; old checkpoints convert explicitly."""

from __future__ import annotations

import argparse
import json
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from motionscope.config import load_config
from motionscope.engine.checkpoint import (
    FORMAT_VERSION,
    convert_legacy_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from motionscope.engine.trainer import Interrupted, Trainer, seed_everything
from motionscope.errors import CheckpointError
from motionscope.models.official import load_official, read_state_dict
from motionscope.tasks.classify import train
from motionscope.tasks.runs import build_datasets, build_model
from motionscope.testing import run_cli

SMALL = ["data.args.num_samples=64", "model.args.dim=16", "train.tensorboard=false",
         "train.progress=false", "model.args.dropout=0.1"]




class _Payload:
    """Unpickling this writes ``marker``: what a crafted checkpoint would do to a user."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ckpt") / "run"
    train("baseline_skeleton", ["train.epochs=1", *SMALL], run_dir=str(root))
    return root


def _to_format1(state: dict) -> dict:
    """What motionscope before format 2 wrote: RNG tuples with numpy arrays, numpy floats."""
    old = {k: v for k, v in state.items() if k != "_path"}
    rngs = []
    for r in state["rng"]:
        py, nps = r["python"], r["numpy"]
        rngs.append({"python": (py["version"], tuple(py["state"].tolist()), py["gauss_next"]),
                     "numpy": (nps["bit_generator"], nps["key"].numpy().astype(np.uint32), nps["pos"],
                               nps["has_gauss"], nps["cached_gaussian"]),
                     "torch": r["torch"]})
    old["rng"] = rngs
    if old.get("best"):
        old["best"] = {k: np.float64(v) if isinstance(v, float) else v for k, v in old["best"].items()}
    old["format_version"] = 1
    return old


# ----------------------------------------------------------------------------- format 2


def test_checkpoints_load_weights_only(run):
    for name in ("last.pt", "best.pt"):
        state = torch.load(run / "checkpoints" / name, map_location="cpu", weights_only=True)
        assert state["format_version"] == FORMAT_VERSION == 2
        assert isinstance(state["best"]["top1"], float)
        assert isinstance(state["rng"][0]["numpy"]["key"], torch.Tensor)


def test_rng_state_round_trip_restores_every_stream(tmp_path):
    seed_everything(3)
    random.gauss(0, 1), np.random.normal()  # leave a cached Gaussian in both generators
    save_checkpoint(tmp_path / "c.pt", {"model": {}, "config": {}, "rng": rng_state()})
    draws = (random.random(), random.gauss(0, 1), np.random.rand(3), np.random.normal(),
             torch.rand(3))
    set_rng_state(torch.load(tmp_path / "c.pt", weights_only=True)["rng"])
    again = (random.random(), random.gauss(0, 1), np.random.rand(3), np.random.normal(),
             torch.rand(3))
    assert draws[:2] == again[:2] and draws[3] == again[3]
    assert np.array_equal(draws[2], again[2]) and torch.equal(draws[4], again[4])


def test_save_refuses_what_weights_only_cannot_load(tmp_path):
    with pytest.raises(TypeError, match=r"state\['best'\]\['top1'\].*numpy"):
        save_checkpoint(tmp_path / "c.pt", {"model": {}, "config": {}, "best": {"top1": np.float64(1)}})
    with pytest.raises(TypeError, match=r"state\['extra'\]\[0\].*Path"):
        save_checkpoint(tmp_path / "c.pt", {"model": {}, "config": {}, "extra": [Path("x")]})
    assert not list(tmp_path.iterdir()), "nothing is written"


# ----------------------------------------------------------------------------- crafted files


def _write_evil(path: Path, marker: Path, run: Path, how: str) -> Path:
    good = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    obj = {"model": good["model"], "config": good["config"], "evil": _Payload(marker)}
    if how == "zip":
        torch.save(obj, path)
    elif how == "legacy":
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(obj))
    return path


@pytest.fixture(params=["zip", "legacy", "pickle"])
def evil(request, tmp_path, run) -> tuple[Path, Path]:
    marker = tmp_path / "MARKER"
    path = _write_evil(tmp_path / "evil.pt", marker, run, request.param)
    if request.param == "zip":  # the payload is real: an unsafe load does run it
        torch.load(path, weights_only=False)
        assert marker.read_text() == "pwned"
        marker.unlink()
    return path, marker


def test_no_command_runs_a_crafted_checkpoint(evil, tmp_path, capsys):
    path, marker = evil
    np.save(tmp_path / "x.npy", np.zeros((1, 16, 25, 3), np.float32))
    stim = tmp_path / "stim"
    stim.mkdir()
    (stim / "stimuli.json").write_text(json.dumps({"conditions": {"J-6P": {"clips": 0, "list": "x"}}}))
    commands = [
        ["train", "baseline_skeleton", f"model.pretrained={path}", "train.epochs=1", *SMALL,
         "--run-dir", str(tmp_path / "r1")],
        ["train", "baseline_skeleton", "--resume", str(path)],
        ["test", str(path)],
        ["predict", str(path), str(tmp_path / "x.npy")],
        ["bmp-eval", str(path), "--stimuli", str(stim)],
        ["convert-checkpoint", str(path), str(tmp_path / "converted.pt")],
    ]
    for args in commands:
        code, _, err = run_cli(capsys, *args)
        errors = [ln for ln in err.splitlines() if ln.startswith("motionscope: error:")]
        assert code == 2, (args, err)
        assert len(errors) == 1 and str(path) in errors[0], (args, err)
        assert "refused to" in errors[0], (args, err)
        assert "exec" in errors[0] or "Unsupported operand" in errors[0], (args, err)  # pickle 5
        assert "Traceback" not in err
        assert not marker.exists(), f"{args[0]} ran the pickle's code"
    assert "never unpickles code" in run_cli(capsys, "test", str(path))[2]
    assert not (tmp_path / "converted.pt").exists()


def test_official_loading_refuses_a_crafted_checkpoint(evil):
    path, marker = evil
    with pytest.raises(CheckpointError, match=r"refused to load: the file needs (unpickling exec|a full)"):
        read_state_dict(path)
    model = build_model(load_config("baseline_skeleton", SMALL))
    with pytest.raises(CheckpointError, match="refused to load") as e:
        load_official(model, path, "mamp")
    assert "\n" not in str(e.value)
    assert not marker.exists()


def test_official_files_may_pickle_argparse_options_but_nothing_inside_them(tmp_path):
    sd = {"w": torch.ones(2)}
    torch.save({"model": sd, "args": argparse.Namespace(lr=0.1, depth=[2, 2])}, tmp_path / "ok.pth")
    assert torch.equal(read_state_dict(tmp_path / "ok.pth")["w"], sd["w"])
    marker = tmp_path / "MARKER"
    torch.save({"model": sd, "args": argparse.Namespace(x=_Payload(marker))}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="refused to load: the file needs unpickling exec"):
        read_state_dict(tmp_path / "bad.pth")
    assert not marker.exists()


# ----------------------------------------------------------------------------- old checkpoints


def test_format1_checkpoint_is_refused_then_converted_by_the_cli(run, tmp_path, capsys):
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    old = tmp_path / "old.pt"
    torch.save(_to_format1(state), old)
    with pytest.raises(CheckpointError, match="convert-checkpoint") as e:
        load_checkpoint(old)
    assert "numpy" in str(e.value) and str(old) in str(e.value)
    code, _, err = run_cli(capsys, "test", str(old))
    assert code == 2 and "motionscope convert-checkpoint" in err

    new = tmp_path / "new" / "checkpoints" / "last.pt"
    code, out, err = run_cli(capsys, "convert-checkpoint", str(old), str(new))
    assert code == 0, err and str(new) in out
    conv = torch.load(new, weights_only=True)
    assert conv["format_version"] == FORMAT_VERSION
    assert conv["best"] == state["best"] and type(conv["best"]["top1"]) is float
    for a, b in zip(conv["rng"], state["rng"]):
        assert torch.equal(a["python"]["state"], b["python"]["state"])
        assert torch.equal(a["numpy"]["key"], b["numpy"]["key"])
        assert a["numpy"]["pos"] == b["numpy"]["pos"] and torch.equal(a["torch"], b["torch"])
    assert all(torch.equal(conv["model"][k], v) for k, v in state["model"].items())
    code, out, err = run_cli(capsys, "test", str(new), "--out", str(tmp_path / "ev"))
    assert code == 0 and "top1:" in out, err

    with pytest.raises(CheckpointError, match="another file"):
        convert_legacy_checkpoint(old, old)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a motionscope checkpoint"):
        convert_legacy_checkpoint(tmp_path / "other.pt", tmp_path / "other2.pt")
    # the explicit trust path reads the same file by full unpickling
    assert convert_legacy_checkpoint(old, tmp_path / "trusted.pt", trust_pickle=True).is_file()
    assert load_checkpoint(tmp_path / "trusted.pt")["best"] == state["best"]


def test_resume_from_a_converted_checkpoint_is_exact(tmp_path):
    over = ["train.epochs=2", *SMALL]
    cfg = load_config("baseline_skeleton", over)
    full = train("baseline_skeleton", over, run_dir=str(tmp_path / "full"))

    seed_everything(cfg.train.seed)
    trainer = Trainer(cfg, build_model(cfg), build_datasets(cfg), tmp_path / "cut")
    trainer.callbacks.append(lambda tr: tr.request_stop() if tr.global_step == 3 else None)
    with pytest.raises(Interrupted):
        trainer.fit()
    old = tmp_path / "old.pt"
    torch.save(_to_format1(load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")), old)
    new = convert_legacy_checkpoint(old, tmp_path / "conv" / "checkpoints" / "last.pt")
    resumed = train("baseline_skeleton", over, resume=str(new))
    assert resumed["global_step"] == full["global_step"]
    a = load_checkpoint(Path(full["run_dir"]) / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(new)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
