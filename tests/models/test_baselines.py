from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import motionscope
from motionscope.engine.checkpoint import load_checkpoint
from motionscope.errors import ConfigError
from motionscope.tasks.classify import train

CASES = {
    "clip_cnn3d": ({"num_classes": 5, "width": 4}, {"video": torch.randn(2, 3, 4, 16, 16)}),
    "skeleton_transformer": ({"num_classes": 5, "dim": 16, "depth": 1, "heads": 2},
                             {"skeleton": torch.randn(2, 3, 8, 25, 2)}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_backward_every_parameter_gets_gradient(name):
    kwargs, batch = CASES[name]
    model = motionscope.create_model(name, **kwargs)
    out = model({**batch, "label": torch.tensor([0, 4])})
    assert out["logits"].shape == (2, 5) and torch.isfinite(out["logits"]).all()
    sum(out["losses"].values()).backward()
    for n, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), n
    assert model(batch)["losses"] == {}  # no label, no loss (inference)


def test_registry_lists_and_rejects():
    names = motionscope.list_models()
    assert {"clip_cnn3d", "skeleton_transformer"} <= set(names)
    with pytest.raises(ConfigError, match="did you mean 'clip_cnn3d'"):
        motionscope.create_model("clip_cnn3")


def test_clip_baseline_trains_with_sgd_step_schedule(tmp_path):
    res = train("baseline_clip", ["train.epochs=3", "data.args.num_samples=64", "train.progress=false",
                                  "sched.milestones=[2]"], run_dir=str(tmp_path / "clip"))
    run = Path(res["run_dir"])
    assert res["test"]["num_samples"] == 16
    assert list((run / "tb").glob("events.out.tfevents.*")), "TensorBoard event files are written"


@pytest.mark.skipif(not os.environ.get("MOTIONSCOPE_TEST_COMPILE"),
                    reason="torch.compile costs 30-150 s cold: set MOTIONSCOPE_TEST_COMPILE=1 to run")
def test_torch_compile_option(tmp_path):
    """The opt-in compile smoke run: the compiled model trains and checkpoints uncompiled keys."""
    res = train("baseline_skeleton", ["train.compile=true", "train.max_steps=2", "train.epochs=1",
                                      "data.args.num_samples=32", "model.args.dim=8",
                                      "train.progress=false", "train.tensorboard=false",
                                      "data.val_split=null", "data.test_split=null"],
                run_dir=str(tmp_path / "compiled"))
    ck = load_checkpoint(Path(res["run_dir"]) / "checkpoints" / "last.pt")
    assert res["global_step"] == 2
    assert not any(k.startswith("_orig_mod") for k in ck["model"])
