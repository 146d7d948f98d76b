"""DRSR evaluation protocols (standard vs the released ``legacy`` one), run checks, presets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from motionscope.config import list_presets, load_config
from motionscope.errors import ConfigError
from motionscope.tasks.drsr_eval import evaluate_protocols, head_logits, protocol_metrics
from motionscope.tasks.runs import build_model, check_data_against_model


def _onehot(pred, c=3, scale=1.0):
    out = np.zeros((len(pred), c), np.float32)
    out[np.arange(len(pred)), pred] = scale
    return out


def test_legacy_is_the_best_official_combination_per_batch():
    label = np.array([0, 1, 2, 0, 1])
    heads = ("merged", "small", "media", "large")
    std = {"label": label, "sizes": [4, 1], "heads": heads,
           "merged": _onehot([0, 1, 2, 1, 1]), "small": _onehot([0, 0, 0, 0, 0]),
           "media": _onehot([2, 2, 2, 2, 2]), "large": _onehot([0, 1, 2, 0, 0])}
    leg = dict(std)
    res = protocol_metrics(std, leg)
    assert res["standard"]["top1"] == pytest.approx(4 / 5)  # merged head, counted per sample
    combos = res["legacy"]["combinations"]
    assert set(combos) == {"large", "merged+small", "merged+media", "small+media"}
    # large: batch 1 all right (4/4), batch 2 wrong (0/1): the per-batch mean is 0.5, not 4/5
    assert combos["large"] == pytest.approx(0.5)
    assert res["legacy"]["top1"] == max(combos.values())
    assert res["legacy"]["chosen"] == max(combos, key=combos.get)
    # summed logits, ties to the lower class (argmax): batch 1 gets 3 of 4, batch 2 its one
    assert combos["merged+media"] == pytest.approx(np.mean([0.75, 1.0]))


def _tiny():
    from motionscope.models import create_model
    from motionscope.models.drsr import TINY, tiny_batch

    torch.manual_seed(0)
    model = create_model("drsr", **TINY["drsr"]).eval()
    batch = tiny_batch("drsr", model, 4)
    return model, [batch, {k: v[:2] for k, v in batch.items()}]


def test_sampling_modes_are_seeded_and_leave_the_global_rng_alone():
    model, loader = _tiny()
    torch.manual_seed(5)
    before = torch.get_rng_state()
    a = head_logits(model, loader, torch.device("cpu"), "random", seed=1)
    assert torch.equal(torch.get_rng_state(), before)
    b = head_logits(model, loader, torch.device("cpu"), "random", seed=1)
    np.testing.assert_array_equal(a["merged"], b["merged"])
    d1 = head_logits(model, loader, torch.device("cpu"), "deterministic", seed=1)
    d2 = head_logits(model, loader, torch.device("cpu"), "deterministic", seed=2)
    np.testing.assert_array_equal(d1["large"], d2["large"])
    assert model.token_sampling == "deterministic" and a["sizes"] == [4, 2]
    res = evaluate_protocols(model, loader, torch.device("cpu"))
    assert res["standard"]["num_samples"] == 6 and 0 <= res["legacy"]["top1"] <= 1


def test_run_checks_for_rgbd_datasets():
    check_data_against_model(load_config("drsr_world_rgb"))
    bad = [(["data.args.sample_duration=32"], "num_frames"),
           (["model.args.frp_window=10"], "frp_window"),
           (["data.args.modality=fusion"], "drsr_fusion"),
           (["eval.views=2"], "eval.views")]
    for overrides, needle in bad:
        with pytest.raises(ConfigError, match=needle):
            check_data_against_model(load_config("drsr_world_rgb", overrides))
    with pytest.raises(ConfigError, match="modality=fusion"):
        check_data_against_model(load_config("drsr_world_fusion", ["data.args.modality=rgb"]))


# spec 5, the per-dataset table (NTU.yml, NvGesture.yml, THU.yml, IsoGD.yml)
RECIPE = {"ntu_cs": (60, 0.005, 10, 0.5, [320, 240], 224, 0.5, 0.5, 100),
          "ntu_cv": (60, 0.005, 10, 0.5, [320, 240], 224, 0.5, 0.5, 100),
          "nvgesture": (25, 0.01, 4, 0.4, [256, 256], 224, 0.0, 0.5, 100),
          "thuread": (40, 0.01, 10, 0.5, [320, 240], 200, 0.5, 0.8, 100),
          "isogd": (249, 0.01, 10, 0.5, [256, 256], 224, 0.0, 0.5, 300)}


@pytest.mark.parametrize("name", sorted(RECIPE))
@pytest.mark.parametrize("modality", ["rgb", "depth", "fusion"])
def test_official_presets_follow_the_recipe(name, modality):
    classes, lr, w, temper, resize, crop, flip, rot, epochs = RECIPE[name]
    cfg = load_config(f"drsr_{name}_{modality}")
    a, m = cfg.data.args, cfg.model.args
    assert cfg.model.name == ("drsr_fusion" if modality == "fusion" else "drsr")
    assert a.modality == modality and a.window == m.frp_window == w
    assert m.distill_temperature == temper and cfg.data.num_classes == m.num_classes == classes
    assert list(a.resize) == resize and a.crop_size == crop and a.sample_size == 224
    assert a.flip == flip and a.rotated == rot and a.sample_duration == 64
    o = cfg.optim
    assert (o.name, o.lr, o.momentum, o.weight_decay) == ("sgd", lr, 0.9, 0.0003)
    assert cfg.train.clip_grad == 5.0 and cfg.train.epochs == epochs and cfg.train.seed == 123
    assert cfg.sched.warmup_epochs == 3 and cfg.sched.min_lr == 1e-5
    assert cfg.sched.name == ("cosine" if modality == "fusion" else "drsr_cosine")
    assert cfg.data.val_split is None and cfg.data.test_split == "valid"
    if name == "nvgesture":
        assert list(a.test_crop_offset) == [32, 32]


def test_world_presets_build():
    names = [n for n in list_presets() if n.startswith("drsr_world_")]
    assert sorted(names) == ["drsr_world_depth", "drsr_world_fusion", "drsr_world_rgb"]
    for n in ("drsr_world_rgb", "drsr_world_depth"):
        model = build_model(load_config(n))
        assert model.num_frames == load_config(n).data.args.sample_duration


def test_legacy_protocol_end_to_end(tmp_path, capsys):
    """A tiny world run with eval.protocol=legacy records the legacy numbers per epoch, and
    `motionscope test` writes both protocols for the same weights."""
    from motionscope.cli import main
    from motionscope.synth.jobs import generate_world

    generate_world(tmp_path / "w", clips_per_class=4, frames=18, size=(32, 32),
                   formats=("rawframes", "depth"), classes="bmp10", progress=False)
    tiny = ["model.args.num_frames=8", "model.args.dim=64", "model.args.branch_tokens=[2,4,6]",
            "model.args.depth=1", "model.args.heads=2", "model.args.dim_head=32",
            "model.args.mlp_dim=96", "model.args.rcm_hidden=16",
            "model.args.local_widths=[20,14,28,3,8,8]", "data.args.sample_duration=8",
            "data.args.sample_size=16", "data.args.resize=[32,32]", "data.args.crop_size=28",
            f"data.root={tmp_path / 'w'}", "data.batch_size=4", "data.val_split=null", "train.epochs=1",
            "train.tensorboard=false", "train.progress=false", "eval.plots=false"]
    run = tmp_path / "run"
    main(["train", "drsr_world_depth", "--run-dir", str(run), *tiny, "eval.protocol=legacy"])
    legacy = json.loads((run / "legacy.json").read_text())
    assert legacy["best_epoch_on_test"] == 1 and legacy["chosen"] in (
        "large", "merged+small", "merged+media", "small+media")
    capsys.readouterr()
    main(["test", str(run), "eval.protocol=legacy"])
    res = json.loads((run / "eval" / "test_protocols.json").read_text())
    assert res["standard"]["head"] == "merged" and res["legacy"]["token_sampling"] == "random"


def test_real_depth_sample_through_the_depth_model(shared_data):
    """The MSR Action3D depth PNGs, read as a depth input and classified by the world depth model."""
    from motionscope.data.inputs import read_input

    folder = shared_data("depth_png_sample", "png_a01_s01_e01")
    cfg = load_config("drsr_world_depth", [f"data.root={folder.parent}", "data.name=rgbd_folders",
                                           "~data.args.world", "data.args.depth_template=null",
                                           "data.args.resize=[64,96]"])
    batch = read_input(cfg.data, str(folder))
    assert batch["video"].shape == (1, 3, 16, 32, 32) and batch["heat"][0, 0, 3:].amax() > 0
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    with torch.no_grad():
        out = model(batch)
    assert out["logits"].shape == (1, 10) and torch.isfinite(out["logits"]).all()
