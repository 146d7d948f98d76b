from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from motionscope.config import load_config
from motionscope.engine.optim import LRSchedule, build_optimizer, default_param_groups
from motionscope.errors import ConfigError


def _sched(**kw):
    cfg = load_config("baseline_skeleton", [f"sched.{k}={v}" for k, v in kw.items()])
    return cfg.sched


def test_warmup_then_cosine_to_floor():
    s = LRSchedule(_sched(name="cosine", warmup_epochs=2, min_lr=1e-5), 1e-3, 10, 10)
    assert s.lr_at(0) == 0.0
    assert s.lr_at(10) == pytest.approx(5e-4)  # half-way through the 20 warm-up steps
    assert s.lr_at(20) == pytest.approx(1e-3)
    mid = 20 + 40
    assert s.lr_at(mid) == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5)
    assert s.lr_at(100) == pytest.approx(1e-5)
    lrs = [s.lr_at(i) for i in range(20, 100)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:])), "cosine must decay monotonically"


def test_step_schedule_milestones():
    s = LRSchedule(_sched(name="step", milestones="[3,6]", gamma=0.1), 0.1, 5, 10)
    assert s.lr_at(14) == pytest.approx(0.1)
    assert s.lr_at(15) == pytest.approx(0.01)
    assert s.lr_at(30) == pytest.approx(0.001)


class Deep(nn.Module):
    num_layers = 3

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(4, 4)
        self.blocks = nn.ModuleList(nn.Linear(4, 4) for _ in range(3))
        self.norm = nn.LayerNorm(4)
        self.head = nn.Linear(4, 2)

    def layer_id(self, name: str) -> int:
        if name.startswith("embed"):
            return 0
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        return self.num_layers + 1


def test_layer_decay_and_no_decay_groups():
    cfg = load_config("baseline_skeleton", ["optim.layer_decay=0.5", "optim.weight_decay=0.1"])
    model = Deep()
    groups = default_param_groups(model, cfg.optim)
    by_name = {n: g for g in groups for n in g["names"]}
    assert by_name["head.weight"]["lr_scale"] == pytest.approx(1.0)
    assert by_name["blocks.2.weight"]["lr_scale"] == pytest.approx(0.5)
    assert by_name["embed.weight"]["lr_scale"] == pytest.approx(0.5**4)
    assert by_name["blocks.0.bias"]["wd_scale"] == 0.0 and by_name["norm.weight"]["wd_scale"] == 0.0
    opt = build_optimizer(model, cfg.optim, 1e-3)
    s = LRSchedule(cfg.sched, 1e-3, 10, 1)
    s.apply(opt, 5)
    lrs = {g["lr"] / g["lr_scale"] for g in opt.param_groups}
    assert len({round(x, 12) for x in lrs}) == 1
    assert all(g["weight_decay"] in (0.0, pytest.approx(0.1)) for g in opt.param_groups)


def test_layer_decay_needs_layer_id():
    cfg = load_config("baseline_skeleton", ["optim.layer_decay=0.8"])
    with pytest.raises(ConfigError, match="layer_id"):
        default_param_groups(nn.Linear(2, 2), cfg.optim)


def test_model_param_groups_hook_is_used():
    class WithGroups(nn.Linear):
        def param_groups(self, cfg):
            return [{"params": [self.weight], "lr_scale": 5.0},
                    {"params": [self.bias], "lr_scale": 10.0, "wd_scale": 0.0}]

    cfg = load_config("baseline_clip")
    opt = build_optimizer(WithGroups(2, 2), cfg.optim, 0.01)
    assert isinstance(opt, torch.optim.SGD)
    assert [g["lr"] for g in opt.param_groups] == [pytest.approx(0.05), pytest.approx(0.1)]
    assert opt.param_groups[1]["weight_decay"] == 0.0
    assert not math.isnan(opt.param_groups[0]["weight_decay"])
