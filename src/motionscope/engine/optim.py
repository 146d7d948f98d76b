"""Optimisers, parameter groups and learning-rate schedules from the config.

Parameter groups carry two multipliers the schedule applies at every step:
``lr_scale`` (layer-wise decay, per-module LR multipliers) and ``wd_scale``. A model can
provide its own groups with ``model.param_groups(optim_cfg)`` (MIE-Net's TSN policies, MAMP's
layer-wise decay); otherwise biases, norms and ``model.no_weight_decay()`` names get no decay,
and with ``optim.layer_decay`` the model's ``layer_id(name)`` / ``num_layers`` give the depth.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError


def default_param_groups(model: nn.Module, cfg) -> list[dict]:
    skip = set(getattr(model, "no_weight_decay", lambda: set())())
    layer_decay = cfg.layer_decay
    layer_id = getattr(model, "layer_id", None)
    if layer_decay is not None and layer_id is None:
        raise ConfigError(f"optim.layer_decay is set but model {type(model).__name__} "
                          "defines no layer_id(name)")
    num_layers = getattr(model, "num_layers", 0) + 1
    groups: dict[tuple, dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        no_decay = cfg.no_decay_bias_norm and (p.ndim <= 1 or name in skip or name.endswith(".bias"))
        lid = layer_id(name) if layer_decay is not None else 0
        scale = layer_decay ** (num_layers - lid) if layer_decay is not None else 1.0
        key = (lid, no_decay)
        g = groups.setdefault(key, {"params": [], "lr_scale": scale,
                                    "wd_scale": 0.0 if no_decay else 1.0, "names": []})
        g["params"].append(p)
        g["names"].append(name)
    return list(groups.values())


def build_optimizer(model: nn.Module, cfg, lr: float, device_type: str = "cpu"):
    """AdamW or SGD over the model's parameter groups; group LRs set by the schedule."""
    groups = model.param_groups(cfg) if hasattr(model, "param_groups") else \
        default_param_groups(model, cfg)
    for g in groups:
        g.setdefault("lr_scale", 1.0)
        g.setdefault("wd_scale", 1.0)
        g["lr"] = lr * g["lr_scale"]
        g["weight_decay"] = cfg.weight_decay * g["wd_scale"]
        g.pop("names", None)
    fused = cfg.fused if cfg.fused is not None else device_type == "cuda"
    extra = {"fused": True} if fused else {}
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=tuple(cfg.betas), eps=cfg.eps, **extra)
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov, **extra)
    raise ConfigError(f"unknown optimiser optim.name={cfg.name!r}")


def drsr_epoch_lr(epoch: int, lr: float, warmup: int, epochs: int, min_lr: float) -> float:
    """The learning rate DRSR's released ``tools/train.py`` trains epoch ``epoch`` with.

    Its manual warm-up sets ``linspace(1e-8, lr, warmup)[epoch]`` only for epochs below
    ``warmup - 1``, and its ``CosineAnnealingLR(T_max = epochs - warmup)`` is stepped (in its
    chainable form) from epoch ``warmup`` on, so the cosine starts from the last warm-up value:
    with warmup 3 the epochs run at 1e-8, lr/2, lr/2, lr/2, then a cosine from lr/2 to
    ``min_lr`` (spec 5: the effective peak is half the nominal lr). Constant within an epoch.
    """
    if warmup >= 2 and epoch < warmup - 1:
        return 1e-8 + (lr - 1e-8) * epoch / (warmup - 1)
    peak = lr if warmup < 2 else 1e-8 + (lr - 1e-8) * (warmup - 2) / (warmup - 1)
    span = max(epochs - warmup, 1)
    t = min(max(epoch - warmup, 0), span)
    return min_lr + (peak - min_lr) * 0.5 * (1.0 + math.cos(math.pi * t / span))


class LRSchedule:
    """Per-step learning rate: linear warm-up, then half-cosine to ``min_lr`` or step decay;
    ``drsr_cosine`` is DRSR's released per-epoch schedule (:func:`drsr_epoch_lr`).

    Stateless in the step (``lr_at(step)``), so resuming needs only the step counter, and the
    per-iteration update is what MAE/MAMP's ``adjust_learning_rate`` does.
    """

    def __init__(self, cfg, base_lr: float, steps_per_epoch: int, epochs: int):
        self.cfg, self.base_lr = cfg, base_lr
        self.spe = max(steps_per_epoch, 1)
        self.total = self.spe * epochs
        self.warmup = int(round(cfg.warmup_epochs * self.spe))

    def lr_at(self, step: int) -> float:
        c, lr = self.cfg, self.base_lr
        if c.name == "drsr_cosine":
            return drsr_epoch_lr(step // self.spe, lr, int(c.warmup_epochs), self.total // self.spe,
                                 c.min_lr)
        if step < self.warmup:
            f = c.warmup_start_factor + (1 - c.warmup_start_factor) * step / self.warmup
            return lr * f
        if c.name == "cosine":
            span = max(self.total - self.warmup, 1)
            prog = min((step - self.warmup) / span, 1.0)
            return c.min_lr + (lr - c.min_lr) * 0.5 * (1.0 + math.cos(math.pi * prog))
        if c.name == "step":
            epoch = step // self.spe
            return lr * c.gamma ** sum(epoch >= m for m in c.milestones)
        return lr

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        lr = self.lr_at(step)
        for g in optimizer.param_groups:
            g["lr"] = lr * g.get("lr_scale", 1.0)
        return lr
