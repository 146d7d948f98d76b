"""DRSR evaluation: the standard protocol and the released code's ``legacy`` one, side by side.

Standard (the default everywhere): one fixed head (``model.eval_head``, the merged logits),
deterministic token sampling (segment middles), accuracy counted over every sample, the model
selected on the validation split (``best.pt``) and the test split looked at once.

Legacy (``eval.protocol=legacy``, opt-in, for comparison with published numbers): what
``tools/train.py::infer`` reports. The DTN re-samples its tokens at random also at test time;
``infer`` unpacks ``(merged, small, media, large)`` as ``(xs, xm, xl, logits)`` and reports the
best of four accuracies, ``large``, ``merged+small``, ``merged+media`` and ``small+media``
(summed logits), each averaged per batch; and ``train.py`` keeps the best of these over the
epochs *on the test split* (:class:`LegacyTracker`). Every number it picks is chosen by looking at
the test labels, so it is an optimistic bound, not an estimate. Our random draws use the torch
RNG seeded by ``seed`` (the official ones use Python's ``random`` and are not repeatable).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from ..engine.evaluate import move_batch
from ..engine.trainer import Trainer, unwrap
from ..fsutil import atomic_write_text

__all__ = ["LEGACY_COMBINATIONS", "HEADS", "head_logits", "protocol_metrics", "evaluate_protocols",
           "LegacyTracker", "is_drsr"]

HEADS = ("merged", "small", "media", "large")
FUSION_HEADS = ("fused", "rgb", "depth")
# what infer() calls Acc, Acc_1, Acc_2, Acc_3, in terms of the real outputs
LEGACY_COMBINATIONS = {"large": ("large",), "merged+small": ("merged", "small"),
                       "merged+media": ("merged", "media"), "small+media": ("small", "media")}
# tools/fusion.py reports the fused head only
FUSION_LEGACY_COMBINATIONS = {"fused": ("fused",)}


def is_drsr(model: torch.nn.Module) -> bool:
    """A DRSR model (unimodal ``drsr`` or ``drsr_fusion``): it has ``token_sampling`` and one
    of their heads as ``eval_head``."""
    return hasattr(model, "token_sampling") and \
        getattr(model, "eval_head", None) in HEADS + FUSION_HEADS


def _heads(model: torch.nn.Module) -> tuple[str, ...]:
    return FUSION_HEADS if getattr(model, "eval_head", None) in FUSION_HEADS else HEADS


@torch.no_grad()
def head_logits(model: torch.nn.Module, loader, device: torch.device, token_sampling: str,
                seed: int = 0) -> dict:
    """Every head's logits over ``loader`` with ``token_sampling`` (``deterministic`` or
    ``random``); also the labels and each batch's size (for the per-batch legacy average)."""
    heads = _heads(model)
    old, was_training = model.token_sampling, model.training
    model.token_sampling = token_sampling
    model.eval()
    out: dict[str, list] = {h: [] for h in heads}
    labels, sizes = [], []
    # the draws must not move the training RNG: a run with the legacy numbers trains the same
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        try:
            for batch in loader:
                batch = move_batch(batch, device)
                res = model({k: v for k, v in batch.items() if k != "label"})
                for h in heads:
                    out[h].append(res[f"logits_{h}"].float().cpu())
                labels.append(batch["label"].cpu())
                sizes.append(len(batch["label"]))
        finally:
            model.token_sampling = old
            model.train(was_training)
    return {"label": torch.cat(labels).numpy(), "sizes": sizes, "heads": heads,
            **{h: torch.cat(v).numpy() for h, v in out.items()}}


def _correct(logits: dict, heads: tuple[str, ...]) -> np.ndarray:
    total = sum(logits[h] for h in heads)
    return total.argmax(1) == logits["label"]


def _batch_mean(correct: np.ndarray, sizes: list[int]) -> float:
    """The official AverageMeter: the unweighted mean of per-batch accuracies."""
    bounds = np.cumsum([0] + list(sizes))
    return float(np.mean([correct[a:b].mean() for a, b in zip(bounds[:-1], bounds[1:])]))


def protocol_metrics(std: dict, legacy: dict, head: str = "merged") -> dict:
    """``{"standard": ..., "legacy": ...}`` from :func:`head_logits` outputs of the two samplings."""
    heads = std["heads"]
    standard = {"top1": float(_correct(std, (head,)).mean()), "head": head,
                "token_sampling": "deterministic", "num_samples": int(len(std["label"])),
                "per_head": {h: float(_correct(std, (h,)).mean()) for h in heads}}
    table = FUSION_LEGACY_COMBINATIONS if heads == FUSION_HEADS else LEGACY_COMBINATIONS
    combos = {k: _batch_mean(_correct(legacy, v), legacy["sizes"]) for k, v in table.items()}
    best = max(combos, key=combos.get)
    leg = {"top1": combos[best], "chosen": best, "combinations": combos, "token_sampling": "random",
           "head_top1_random_sampling": float(_correct(legacy, (head,)).mean()),
           "note": ("best of 4 head combinations chosen on this split, " if len(table) > 1 else "")
           + "per-batch averaged, random token sampling (tools/train.py / fusion.py infer)"}
    return {"standard": standard, "legacy": leg}


def evaluate_protocols(model: torch.nn.Module, loader, device: torch.device, seed: int = 0,
                       head: str | None = None) -> dict:
    """Both protocols on one loader (one split), for the same trained weights."""
    std = head_logits(model, loader, device, "deterministic", seed)
    leg = head_logits(model, loader, device, "random", seed)
    return protocol_metrics(std, leg, head or getattr(model, "eval_head", "merged"))


class LegacyTracker(Trainer):
    """The trainer, plus the released code's model selection for the legacy number: after each
    epoch it also evaluates the *test* split with the legacy protocol and keeps the best
    epoch (:meth:`legacy_summary`). The standard selection (``best.pt`` on validation) is
    unchanged; the evaluation's random draws do not move the training RNG."""

    def __init__(self, *args, legacy_seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.legacy_seed = legacy_seed
        self.legacy_history: list[dict] = []

    def _train_epoch(self) -> None:
        super()._train_epoch()
        if self.step_in_epoch == 0:  # a whole epoch: evaluate the test split as train.py does
            self._legacy_test()

    def _legacy_test(self) -> None:
        if self.datasets.get("test") is None or not is_drsr(unwrap(self.model)) or not self.dist.is_main:
            return
        from torch.utils.data import DataLoader

        loader = DataLoader(self.datasets["test"], num_workers=self.cfg.data.num_workers,
                            batch_size=self.cfg.data.eval_batch_size or self.cfg.data.batch_size)
        res = evaluate_protocols(unwrap(self.model), loader, self.device, self.legacy_seed + self.epoch)
        self.legacy_history.append({"epoch": self.epoch, "legacy_test_top1": res["legacy"]["top1"],
                                    "chosen": res["legacy"]["chosen"],
                                    "standard_test_top1": res["standard"]["top1"]})
        self.logger.log({"split": "test_legacy", "epoch": self.epoch, "step": self.global_step,
                         "top1": res["legacy"]["top1"], "standard_top1": res["standard"]["top1"]})

    def legacy_summary(self) -> dict:
        if not self.legacy_history:
            return {}
        best = max(self.legacy_history, key=lambda r: r["legacy_test_top1"])
        return {"best_epoch_on_test": best["epoch"], "legacy_top1": best["legacy_test_top1"],
                "chosen": best["chosen"], "history": self.legacy_history}


def write_legacy(out_dir: str | Path, split: str, result: dict) -> Path:
    import json

    p = Path(out_dir) / f"{split}_protocols.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(p, json.dumps(result, indent=2))
    return p


def legacy_requested(cfg: DictConfig) -> bool:
    return str(cfg.eval.get("protocol", "standard")) == "legacy"
