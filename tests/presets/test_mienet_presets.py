"""The MIE-Net / DPTAM-only / TSN / TSM presets against the official recipe (spec section 8)."""

from __future__ import annotations

import re

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from motionscope.config import list_presets, load_config
from motionscope.testing import shared_path

# spec section 8, "Training recipe" (the official scripts), transcribed
RECIPE = {
    "sljd": {"classes": 10, "segments": 3, "lr": 0.0025, "lr_steps": [36, 50], "epochs": 60,
             "batch": 8, "dropout": 0.6, "flip": True},
    "diving48": {"classes": 48, "segments": 8, "lr": 0.00125, "lr_steps": [18, 25],
                 "epochs": 30, "batch": 8, "dropout": 0.6, "flip": True},
    "ssv2": {"classes": 174, "segments": 8, "lr": 0.00125, "lr_steps": [30, 50], "epochs": 60,
             "batch": 8, "dropout": 0.5, "flip": False},
}
TEMPLATES = {"sljd": "img_{:05d}.png", "diving48": "img_{:05d}.jpg", "ssv2": "{:06d}.jpg"}
FAMILIES = {"mienet": ("mienet", 4), "tsn_dptam": ("tsn_dptam", 1), "tsn": ("tsn_r50", 1),
            "tsm": ("tsm_r50", 1)}
DATASET_PRESETS = [f"{f}_{d}" for f in FAMILIES for d in RECIPE]


def test_recipe_transcription_matches_the_spec():
    """Parse the spec's recipe table (the official command lines) and compare."""
    text = shared_path("specs", "mienet.md").read_text(encoding="utf-8")
    section = text.split("## 8. Training recipe", 1)[1].split("\n## ", 1)[0]
    rows = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:5]]
            for r in section.splitlines() if r.startswith("| ")}
    for col, name in enumerate(("sljd", "diving48", "ssv2")):
        cmd = rows["command"][col]
        got = {
            "segments": int(re.search(r"--num_segments (\d+)", cmd).group(1)),
            "lr": float(re.search(r"--lr ([\d.]+)", cmd).group(1)),
            "lr_steps": [int(x) for x in re.search(r"--lr_steps (\d+) (\d+)", cmd).groups()],
            "epochs": int(re.search(r"--epochs (\d+)", cmd).group(1)),
            "batch": int(re.search(r"--batch-size (\d+)", cmd).group(1)),
            "dropout": float(re.search(r"--dropout ([\d.]+)", cmd).group(1)),
            "classes": int(rows["classes"][col]),
            "flip": rows["h-flip in train aug"][col].startswith("yes"),
        }
        assert got == RECIPE[name], name
    assert "momentum 0.9, weight decay 1e-4" in section and "clip_grad_norm_(all params, 20)" \
        in section


@pytest.mark.parametrize("preset", DATASET_PRESETS)
def test_dataset_presets_follow_the_recipe(preset):
    family, dataset = preset.rsplit("_", 1)
    r, (model_name, group_len) = RECIPE[dataset], FAMILIES[family]
    assert preset in list_presets() and list_presets()[preset]  # described
    cfg = load_config(preset)
    assert cfg.model.name == model_name
    m, d = cfg.model.args, cfg.data
    assert (m.num_classes, m.num_segments, m.dropout) == (r["classes"], r["segments"],
                                                          r["dropout"])
    assert d.name == "rawframes" and d.num_classes == r["classes"]
    assert d.args.num_segments == r["segments"] and d.args.frames_per_segment == group_len
    assert d.args.flip is r["flip"] and d.args.template == TEMPLATES[dataset]
    assert d.args.input_size == 224 and d.batch_size == r["batch"]
    o, s, t = cfg.optim, cfg.sched, cfg.train
    assert (o.name, o.momentum, o.weight_decay, o.lr) == ("sgd", 0.9, 1e-4, r["lr"])
    assert o.base_batch_size == r["batch"]  # LR scales with the global batch from here
    assert (s.name, list(s.milestones), s.gamma, s.warmup_epochs) == ("step", r["lr_steps"],
                                                                      0.1, 0.0)
    assert (t.epochs, t.clip_grad, t.select_metric, t.eval_every) == (r["epochs"], 20.0,
                                                                      "top1", 1)
    assert cfg.eval.views == 1  # 1 clip x 1 crop (the released test protocol)
    if family == "mienet":
        assert m.afm_alpha == "learnable" and m.pa_init == "default"


@pytest.mark.parametrize("family", list(FAMILIES))
def test_world_presets_are_cpu_sized_and_consistent(family):
    cfg = load_config(f"{family}_world")
    assert cfg.model.name == FAMILIES[family][0] and cfg.data.name == "world_clips"
    a = cfg.data.args
    assert a.num_segments == cfg.model.args.num_segments <= 4
    assert a.frames_per_segment == FAMILIES[family][1] and a.input_size <= 64
    assert cfg.data.num_classes == cfg.model.args.num_classes
    assert cfg.train.clip_grad == 20.0


def test_world_presets_differ_only_in_the_model():
    """benchmarks/mienet_world.py compares the four world presets: one world, input, recipe."""
    cfgs = {f: load_config(f"{f}_world") for f in FAMILIES}

    def recipe(cfg):
        d = OmegaConf.to_container(cfg, resolve=True)
        d["data"]["args"].pop("frames_per_segment")  # 4 for MIE-Net's PA, 1 for the RGB models
        args = d["model"].pop("args")
        for k in ("afm_alpha", "pa_init"):  # MIE-Net-only arguments
            args.pop(k, None)
        d.pop("preset", None)
        d["model"].pop("name")
        return d, args

    ref = recipe(cfgs["mienet"])
    for f, cfg in cfgs.items():
        assert recipe(cfg) == ref, f
    # a CPU-sized backbone; the official presets keep ResNet-50 (the model defaults)
    assert list(cfgs["mienet"].model.args.layers) == [1, 1, 1, 1]
    assert "layers" not in load_config("mienet_sljd").model.args


def test_engine_applies_the_official_group_multipliers():
    """The optimiser the engine builds for mienet_sljd has the multipliers of spec section 8."""
    from motionscope.engine.optim import build_optimizer
    from motionscope.tasks.runs import build_model

    cfg = load_config("mienet_sljd")
    model = build_model(cfg)
    opt = build_optimizer(model, cfg.optim, cfg.optim.lr)
    where = {id(p): g for g in opt.param_groups for p in g["params"]}
    lr, wd = cfg.optim.lr, cfg.optim.weight_decay
    expect = {  # name: (lr multiplier, weight-decay multiplier)
        "PA.shallow_conv.weight": (5, 1), "PA.shallow_conv.bias": (10, 0),
        "base_model.conv1.weight": (1, 1), "base_model.bn1.weight": (1, 0),
        "base_model.layer1.0.tlam.p1_conv1.weight": (1, 1),
        "base_model.layer1.0.tlam.dptam.0.weight": (1, 1),
        "base_model.layer1.0.tlam.dptam.1.bias": (1, 0),
        "base_model.layer4.2.net.conv3.weight": (1, 1),
        "new_fc.weight": (5, 1), "new_fc.bias": (10, 0),
    }
    params = dict(model.named_parameters())
    for name, (lm, wm) in expect.items():
        g = where[id(params[name])]
        assert g["lr"] == pytest.approx(lr * lm) and g["weight_decay"] == pytest.approx(wd * wm), name
    grouped = sum(len(g["params"]) for g in opt.param_groups)
    assert grouped == sum(p.requires_grad for p in model.parameters())  # nothing left out
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9


def test_lr_scales_with_the_global_batch(tmp_path):
    """batch 16 with the recipe's LR for batch 8 trains at twice the LR (README rule)."""
    from motionscope.engine.trainer import Trainer

    cfg = load_config("mienet_sljd", ["data.batch_size=16", "data.num_workers=0",
                                      "train.device=cpu",
                                      "train.tensorboard=false"])
    data = [{"video": torch.zeros(1), "label": 0}] * 32
    trainer = Trainer(cfg, nn.Linear(1, 1), {"train": data, "val": None, "test": None}, tmp_path)
    assert trainer.base_lr == pytest.approx(0.0025 * 16 / 8)
