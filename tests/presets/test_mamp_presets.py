"""Every shipped MAMP preset against the official recipes of specs/mamp.md, line by line.

The table below is the spec's data (sections 9.4, 10, 12 pre-training, 13 linear probing,
14 fine-tuning; class counts per section 20.2: the true counts, 60 / 120 / 51), written out so
that a change to a preset that departs from the official recipe fails here.
"""

from __future__ import annotations

import math

import pytest
import torch

from motionscope.config import list_presets, load_config, read_preset
from motionscope.engine.optim import LRSchedule, build_optimizer

# section 9.4 (encoder) / 9.2 (tokens)
ENCODER = {"dim_in": 3, "dim_feat": 256, "depth": 8, "num_heads": 8, "mlp_ratio": 4,
           "num_frames": 120, "num_joints": 25, "patch_size": 1, "t_patch_size": 4,
           "qkv_bias": True, "drop_rate": 0.0, "attn_drop_rate": 0.0}

# dataset -> (classes, decoder depth [12], tau [10], probe global batch, probe lr [13])
DATASETS = {
    "ntu60_xsub": (60, 3, 0.80, 256, 0.1),
    "ntu60_xview": (60, 3, 0.80, 256, 0.1),
    "ntu120_xsub": (120, 5, 0.75, 256, 0.1),
    "ntu120_xset": (120, 5, 0.75, 256, 0.1),
    "pkuv1_xsub": (51, 5, 0.80, 128, 0.1),   # 64 per GPU x 2
    "pkuv2_xsub": (51, 5, 0.80, 32, 0.01),   # 16 per GPU x 2, lr 0.01
}

# section 12
PRETRAIN = {"epochs": 400, "warmup_epochs": 20, "lr": 1e-3, "min_lr": 5e-4, "optim": "adamw",
            "betas": [0.9, 0.95], "weight_decay": 0.05, "batch": 128, "mask_ratio": 0.9,
            "amp": "none", "drop_path_rate": 0.0, "decoder_dim_feat": 256, "norm_skes_loss": True,
            "motion_stride": 1}
# section 13
LINPROBE = {"epochs": 100, "warmup_epochs": 0, "min_lr": 0.0, "optim": "sgd", "momentum": 0.9,
            "weight_decay": 0.0, "drop_path_rate": 0.0}
# section 14
FINETUNE = {"epochs": 100, "warmup_epochs": 5, "lr": 3e-4, "min_lr": 1e-5, "optim": "adamw",
            "betas": [0.9, 0.999], "weight_decay": 0.05, "batch": 48, "layer_decay": 0.8,
            "drop_path_rate": 0.3, "label_smoothing": 0.1, "head_dropout": 0.3,
            "hidden_dim": 2048}
# section 8: augmentation of every config
FEEDER = {"window": 120, "p_interval": [0.5, 1.0], "test_p_interval": [0.95], "min_crop": 64,
          "random_rot": True, "rot_theta": 0.3}


def _check(cfg, key, want):
    got = cfg
    for part in key.split("."):
        got = got[part]
    if isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-12), key
    else:
        assert got == want, key


@pytest.mark.parametrize("ds", sorted(DATASETS))
def test_pretrain_preset_is_the_official_recipe(ds):
    classes, ddepth, tau, _, _ = DATASETS[ds]
    cfg = load_config(f"mamp_{ds}_pretrain")
    r = PRETRAIN
    assert cfg.task == "pretrain" and cfg.model.name == "mamp_pretrain"
    for k, v in ENCODER.items():
        _check(cfg, f"model.args.{k}", v)
    for k in ("drop_path_rate", "decoder_dim_feat", "norm_skes_loss", "mask_ratio",
              "motion_stride"):
        _check(cfg, f"model.args.{k}", r[k])
    assert type(cfg.model.args.mask_ratio) is float  # a Python float: len_keep 74, not 75
    _check(cfg, "model.args.decoder_depth", ddepth)
    _check(cfg, "model.args.motion_aware_tau", tau)
    for key, want in (("train.epochs", r["epochs"]), ("sched.warmup_epochs", r["warmup_epochs"]),
                      ("optim.lr", r["lr"]), ("sched.min_lr", r["min_lr"]),
                      ("optim.name", r["optim"]), ("optim.betas", r["betas"]),
                      ("optim.weight_decay", r["weight_decay"]), ("data.batch_size", r["batch"]),
                      ("train.amp", r["amp"]), ("sched.name", "cosine"),
                      ("sched.warmup_start_factor", 0.0), ("optim.base_batch_size", None),
                      ("optim.layer_decay", None), ("train.clip_grad", None),
                      ("data.drop_last", True), ("data.args.benchmark", ds)):
        _check(cfg, key, want)
    for k, v in FEEDER.items():
        _check(cfg, f"data.args.{k}", v)


@pytest.mark.parametrize("ds", sorted(DATASETS))
def test_linprobe_preset_is_the_official_recipe(ds):
    classes, _, _, batch, lr = DATASETS[ds]
    cfg = load_config(f"mamp_{ds}_linprobe")
    r = LINPROBE
    assert cfg.task == "classify" and cfg.model.name == "mamp_linprobe"
    for k, v in ENCODER.items():
        _check(cfg, f"model.args.{k}", v)
    for key, want in (("model.args.num_classes", classes), ("data.num_classes", classes),
                      ("model.args.drop_path_rate", r["drop_path_rate"]),
                      ("train.epochs", r["epochs"]), ("sched.warmup_epochs", r["warmup_epochs"]),
                      ("sched.min_lr", r["min_lr"]), ("sched.name", "cosine"),
                      ("optim.name", r["optim"]), ("optim.lr", lr),
                      ("optim.momentum", r["momentum"]), ("optim.weight_decay", r["weight_decay"]),
                      ("optim.nesterov", False), ("data.batch_size", batch),
                      ("optim.base_batch_size", None), ("train.amp", "none"),
                      ("data.val_split", None), ("data.test_split", "test")):
        _check(cfg, key, want)
    for k, v in FEEDER.items():
        _check(cfg, f"data.args.{k}", v)


@pytest.mark.parametrize("ds", sorted(DATASETS))
def test_finetune_preset_is_the_official_recipe(ds):
    classes = DATASETS[ds][0]
    cfg = load_config(f"mamp_{ds}_finetune")
    r = FINETUNE
    assert cfg.task == "classify" and cfg.model.name == "mamp_finetune"
    for k, v in ENCODER.items():
        _check(cfg, f"model.args.{k}", v)
    for k in ("drop_path_rate", "label_smoothing", "head_dropout", "hidden_dim"):
        _check(cfg, f"model.args.{k}", r[k])
    for key, want in (("model.args.num_classes", classes), ("data.num_classes", classes),
                      ("train.epochs", r["epochs"]), ("sched.warmup_epochs", r["warmup_epochs"]),
                      ("optim.lr", r["lr"]), ("sched.min_lr", r["min_lr"]),
                      ("optim.name", r["optim"]), ("optim.betas", r["betas"]),
                      ("optim.weight_decay", r["weight_decay"]), ("data.batch_size", r["batch"]),
                      ("optim.layer_decay", r["layer_decay"]), ("sched.name", "cosine"),
                      ("optim.base_batch_size", None), ("train.clip_grad", None),
                      ("train.amp", "none"), ("data.val_split", None),
                      ("data.test_split", "test")):
        _check(cfg, key, want)
    for k, v in FEEDER.items():
        _check(cfg, f"data.args.{k}", v)


def test_every_mamp_preset_is_covered_and_described():
    names = [n for n in list_presets() if n.startswith("mamp_")]
    official = {f"mamp_{d}_{k}" for d in DATASETS for k in ("pretrain", "linprobe", "finetune")}
    small = {f"mamp_{d}_{k}" for d in ("world_xsub", "utkinect")
             for k in ("pretrain", "linprobe", "finetune")}
    assert set(names) == official | small
    for n, desc in list_presets().items():
        if n.startswith("mamp_"):
            assert desc.startswith("MAMP "), n
            assert read_preset(n)["model"]["name"].startswith("mamp_")


@pytest.mark.parametrize("stem", ["mamp_world_xsub", "mamp_utkinect"])
def test_small_presets_keep_the_recipe_shape_at_cpu_size(stem):
    pre, lin, ft = (load_config(f"{stem}_{k}") for k in ("pretrain", "linprobe", "finetune"))
    assert pre.model.args.dim_feat == lin.model.args.dim_feat == ft.model.args.dim_feat == 64
    for c in (pre, lin, ft):
        assert c.model.args.num_frames == c.data.args.window
        assert c.data.val_split is None
    assert (pre.optim.name, pre.optim.betas, pre.sched.min_lr / pre.optim.lr) == \
        ("adamw", [0.9, 0.95], 0.5)
    assert (lin.optim.name, lin.optim.weight_decay, lin.sched.min_lr) == ("sgd", 0.0, 0.0)
    assert (ft.optim.layer_decay, ft.model.args.label_smoothing) == (0.8, 0.1)


def test_pretrain_optimizer_groups_and_schedule_follow_the_recipe():
    """AdamW groups: 1-D params and biases without weight decay, embeddings decayed (timm
    add_weight_decay); lr: linear warm-up from 0 over 20 epochs, half-cosine to 5e-4."""
    from motionscope.tasks.runs import build_model

    cfg = load_config("mamp_ntu60_xsub_pretrain")
    model = build_model(cfg)
    opt = build_optimizer(model, cfg.optim, cfg.optim.lr)
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["betas"] == (0.9, 0.95)
    names = {id(p): n for n, p in model.named_parameters()}
    for g in opt.param_groups:
        for p in g["params"]:
            n = names[id(p)]
            no_decay = p.ndim == 1 or n.endswith(".bias")
            assert g["weight_decay"] == (0.0 if no_decay else 0.05), n
    decayed = {names[id(p)] for g in opt.param_groups if g["weight_decay"] for p in g["params"]}
    assert {"pos_embed", "temp_embed", "mask_token", "decoder_pos_embed"} <= decayed
    sched = LRSchedule(cfg.sched, cfg.optim.lr, steps_per_epoch=10, epochs=cfg.train.epochs)
    assert sched.lr_at(0) == 0.0 and sched.lr_at(100) == pytest.approx(5e-4)
    assert sched.lr_at(200) == pytest.approx(1e-3)
    mid = 200 + (4000 - 200) // 2
    assert sched.lr_at(mid) == pytest.approx(5e-4 + 5e-4 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert sched.lr_at(3999) == pytest.approx(5e-4, rel=1e-4)


def test_linprobe_trains_only_the_head_with_sgd():
    from motionscope.tasks.runs import build_model

    cfg = load_config("mamp_ntu60_xsub_linprobe")
    model = build_model(cfg)
    opt = build_optimizer(model, cfg.optim, cfg.optim.lr)
    params = [p for g in opt.param_groups for p in g["params"]]
    assert isinstance(opt, torch.optim.SGD) and sum(p.numel() for p in params) == 15420
    assert all(g["weight_decay"] == 0.0 and g["momentum"] == 0.9 for g in opt.param_groups)


def test_finetune_layer_decay_scales_are_the_official_ones():
    """Section 14: lr scale 0.8 ** (9 - layer_id); embeddings 0.1342 ... block7 0.8, head 1."""
    from motionscope.tasks.runs import build_model

    cfg = load_config("mamp_ntu60_xsub_finetune")
    model = build_model(cfg)
    opt = build_optimizer(model, cfg.optim, cfg.optim.lr)
    names = {id(p): n for n, p in model.named_parameters()}
    scale = {names[id(p)]: g["lr"] / cfg.optim.lr for g in opt.param_groups for p in g["params"]}
    assert scale["pos_embed"] == pytest.approx(0.8 ** 9)
    assert scale["joints_embed.proj.weight"] == pytest.approx(0.1342, abs=1e-4)
    assert scale["blocks.0.attn.qkv.weight"] == pytest.approx(0.1678, abs=1e-4)
    assert scale["blocks.7.mlp.fc2.bias"] == pytest.approx(0.8)
    assert scale["head.fc2.weight"] == pytest.approx(1.0) and scale["norm.weight"] == 1.0
    wd = {names[id(p)]: g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    assert wd["pos_embed"] == 0.05 and wd["blocks.0.norm1.weight"] == 0.0  # ndim == 1 rule
