"""MP / En-MP presets against the official recipe (spec section 11) and the BMP protocols."""

from __future__ import annotations

import pytest
import torch

import motionscope.data.mp_cache  # noqa: F401  (registers data.name=mp_clips)
from motionscope.config import list_presets, load_config
from motionscope.testing import shared_path

MP_PRESETS = ["mp_bmp", "enmp_bmp", "mp_ntu60", "mp_nwucla", "mp_world", "enmp_world",
              "cnn3d_bmp_world"]


def _recipe_table() -> dict[str, list[str]]:
    """Spec section 11's recipe table: item -> [defaults.py, BMP.yaml (used), paper]."""
    text = shared_path("specs", "mp.md").read_text(encoding="utf-8")
    section = text.split("## 11. Training and testing recipe", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| item"):
            cells = [c.strip().replace("**", "") for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_every_mp_preset_is_listed_with_a_description():
    presets = list_presets()
    for name in MP_PRESETS:
        assert name in presets
        assert len(presets[name]) > 20, f"{name}: first line must describe the preset"


@pytest.mark.parametrize("preset", ["mp_bmp", "enmp_bmp"])
def test_bmp_presets_follow_the_official_yaml(preset):
    table = _recipe_table()
    used = {k: v[1] for k, v in table.items()}
    cfg = load_config(preset, ["data.root=."])
    assert cfg.model.name == {"mp_bmp": "mp", "enmp_bmp": "enmp"}[preset]
    assert used["optimizer"].startswith(cfg.optim.name)
    assert "betas 0.9/0.999" in used["optimizer"] and list(cfg.optim.betas) == [0.9, 0.999]
    assert "eps 1e-8" in used["optimizer"] and cfg.optim.eps == 1e-8
    assert float(used["base LR"]) == cfg.optim.lr
    assert used["LR policy"].startswith(cfg.sched.name)
    assert "COSINE_END_LR 0" in used["LR policy"] and cfg.sched.min_lr == 0.0
    assert "no warm-up" in used["LR policy"] and cfg.sched.warmup_epochs == 0
    assert int(used["epochs"]) == cfg.train.epochs
    train_bs, _, test_bs = (int(v) for v in used["batch (train/val/test)"].split("/"))
    assert (train_bs, test_bs) == (cfg.data.batch_size, cfg.data.eval_batch_size)
    assert used["weight decay"].startswith("1e-4") and cfg.optim.weight_decay == 1e-4
    assert "every trainable param" in used["weight decay"] and not cfg.optim.no_decay_bias_norm
    assert "L2 norm 1.0" in used["grad clip"] and cfg.train.clip_grad == 1.0
    assert used["mixed precision"].startswith("True") and cfg.train.amp == "fp16"
    assert int(used["frames"]) == cfg.data.args.frames == cfg.model.args.get("num_frames", 32)
    h, w = (int(v) for v in used["resize (H×W) / crop"].split("/")[0].replace("(H)", "")
            .replace("(W)", "").split("×"))
    crop = int(used["resize (H×W) / crop"].split("/")[1])
    assert list(cfg.data.args.resize) == [h, w] and cfg.data.args.size == crop
    assert "(0.485, 0.456, 0.406)/(0.229, 0.224, 0.225)" in used["mean/std"]
    assert list(cfg.data.args.mean) == [0.485, 0.456, 0.406]
    assert list(cfg.data.args.std) == [0.229, 0.224, 0.225]
    assert used["flip"] == "True" and cfg.data.args.flip and cfg.data.args.crop == "batch"
    assert used["test views×crops"] == "1×1" and cfg.eval.views == 1
    assert used["checkpoint / eval period"].startswith("5/5") and cfg.train.eval_every == 5
    assert "val split = test_RGB" in used["checkpoint / eval period"]
    assert cfg.data.val_split == cfg.data.test_split == "test"
    assert int(used["seed"]) == cfg.train.seed
    # the list template names the official Protocols files
    protocols = shared_path("data", "point_light", "motion_perceiver_protocols")
    for split in (cfg.data.train_split, cfg.data.test_split):
        assert (protocols / cfg.data.args.list.replace("{split}", split)).is_file()


@pytest.mark.parametrize("preset,paper_key,classes", [("mp_ntu60", "NTU60", 60),
                                                      ("mp_nwucla", "NW-UCLA", 10)])
def test_joint_video_presets_follow_the_paper(preset, paper_key, classes):
    paper = {k: v[2] for k, v in _recipe_table().items()}
    cfg = load_config(preset, ["data.root=."])
    assert f"{paper_key} {cfg.train.epochs}" in paper["epochs"]
    assert f"{paper_key} {cfg.data.batch_size}" in paper["batch (train/val/test)"]
    h, w = cfg.data.args.resize
    import re

    sizes = dict(re.findall(r"([\w-]+?(?:60)?) (\d+×\d+)", paper["resize (H×W) / crop"]))
    assert sizes[paper_key] == f"{h}×{w}"
    assert cfg.data.num_classes == classes == cfg.model.args.num_classes
    assert cfg.optim.lr == 1e-4 and cfg.optim.name == "adamw"
    protocols = shared_path("data", "point_light", "motion_perceiver_protocols")
    train_csv = protocols / cfg.data.args.list.replace("{split}", cfg.data.train_split)
    test_csv = protocols / cfg.data.args.list.replace("{split}", cfg.data.test_split)
    assert train_csv.is_file() and "RGB" in train_csv.name
    assert test_csv.is_file() and "JOINTS" in test_csv.name
    labels = {int(ln.rsplit(",", 1)[1]) for ln in train_csv.read_text().splitlines() if ln}
    assert labels == set(range(classes))


@pytest.mark.parametrize("preset", ["mp_bmp", "mp_ntu60", "mp_nwucla"])
def test_real_data_presets_need_a_root(preset):
    from motionscope.data.datasets import build_dataset
    from motionscope.errors import MotionscopeError

    cfg = load_config(preset)
    with pytest.raises(MotionscopeError, match="data.root"):
        build_dataset(cfg.data, cfg.data.train_split, training=True)


@pytest.mark.parametrize("preset", ["mp_world", "enmp_world"])
def test_world_presets_build_and_decay_every_trainable_parameter(preset):
    from motionscope.engine.optim import build_optimizer
    from motionscope.tasks.runs import build_model

    cfg = load_config(preset)
    model = build_model(cfg)
    assert cfg.data.args.frames == model.num_frames  # the reader gives the model its T
    opt = build_optimizer(model, cfg.optim, cfg.optim.lr)
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert in_opt == {id(p) for p in trainable}
    assert all(g["weight_decay"] == 1e-4 for g in opt.param_groups)
    frozen = [p for p in model.parameters() if not p.requires_grad]
    assert all(id(p) not in in_opt for p in frozen)
    x = torch.zeros(1, 3, cfg.data.args.frames, cfg.data.args.size, cfg.data.args.size)
    with torch.no_grad():
        assert model.eval()({"video": x})["logits"].shape == (1, cfg.data.num_classes)
