"""DRSR's released LR schedule (``sched.name=drsr_cosine``) against a replay of tools/train.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from motionscope.engine.optim import LRSchedule, drsr_epoch_lr


def _official(lr: float, warmup: int, epochs: int, min_lr: float) -> list[float]:
    """The epoch loop of tools/train.py: manual warm-up below warm_up - 1, chainable
    CosineAnnealingLR(T_max = epochs - warm_up) stepped after each epoch >= warm_up."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, float(epochs - warmup), eta_min=min_lr)
    warm = (lambda e: np.linspace(1e-8, lr, warmup)[e]) if warmup > 0 else None
    out = []
    for epoch in range(epochs):
        if warm is not None and epoch < warmup - 1:
            for g in opt.param_groups:
                g["lr"] = warm(epoch)
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if epoch >= warmup:
            sched.step()
    return out


@pytest.mark.parametrize("lr,warmup,epochs", [(0.01, 3, 100), (0.005, 3, 100), (0.01, 0, 40),
                                              (0.01, 1, 30), (0.01, 5, 60)])
def test_matches_the_released_loop(lr, warmup, epochs):
    ref = _official(lr, warmup, epochs, 1e-5)
    ours = [drsr_epoch_lr(e, lr, warmup, epochs, 1e-5) for e in range(epochs)]
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)


def test_half_peak_and_per_epoch_steps():
    cfg = OmegaConf.create({"name": "drsr_cosine", "warmup_epochs": 3, "warmup_start_factor": 0.0,
                            "min_lr": 1e-5, "milestones": [], "gamma": 0.1})
    s = LRSchedule(cfg, 0.01, steps_per_epoch=7, epochs=100)
    assert s.lr_at(0) == pytest.approx(1e-8)
    assert s.lr_at(7) == s.lr_at(13) == s.lr_at(3 * 7) == pytest.approx(0.005)  # half the nominal
    assert max(s.lr_at(i) for i in range(700)) == pytest.approx(0.005)
    assert s.lr_at(699) == pytest.approx(1.13e-5, rel=0.01)
