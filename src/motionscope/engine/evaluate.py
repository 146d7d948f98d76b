"""Evaluation: top-k, mean-class accuracy, confusion matrix, per-sample predictions.

Multi-view testing: a dataset that returns ``views`` stacked on dim 1 of its input tensor
(``(B, V, ...)``) is evaluated per view and the softmax scores are averaged per sample.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..fsutil import atomic_open, atomic_write_text
from ..signals import iter_with_workers
from .distributed import DistInfo, gather_objects
from .logging import progress

INPUT_KEYS = ("video", "skeleton", "tokens", "depth", "frames")


def move_batch(batch: dict, device: torch.device, channels_last: bool = False) -> dict:
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device, non_blocking=True)
            if channels_last and v.ndim == 5 and k in INPUT_KEYS and v.is_floating_point():
                v = v.contiguous(memory_format=torch.channels_last_3d)
        out[k] = v
    return out


def _forward_views(model, batch: dict, views: int) -> torch.Tensor:
    """Class probabilities averaged over the view dimension when the input has one."""
    key = next(k for k in INPUT_KEYS if k in batch)
    x = batch[key]
    expected_ndim = getattr(model, "input_ndim", {}).get(key) if hasattr(model, "input_ndim") else None
    if views > 1 and (expected_ndim is None or x.ndim == expected_ndim + 1):
        b, v = x.shape[:2]
        flat = {**{k: t for k, t in batch.items() if k != "label"}, key: x.flatten(0, 1)}
        logits = model(flat)["logits"].float()
        return logits.softmax(-1).view(b, v, -1).mean(1)
    inputs = {k: t for k, t in batch.items() if k != "label"}
    return model(inputs)["logits"].float().softmax(-1)


@torch.no_grad()
def predict_loader(model, loader, device, dist_info: DistInfo | None = None, views: int = 1,
                   amp_dtype=None, desc: str = "eval", show_progress: bool = True) -> dict:
    """Run ``model`` over ``loader``; returns indices, labels and probabilities of all ranks."""
    dist_info = dist_info or DistInfo()
    model.eval()
    idx, labels, probs, losses = [], [], [], []
    for batch in progress(iter_with_workers(loader), total=len(loader), desc=desc,
                          enabled=show_progress and dist_info.is_main, unit="batch"):
        batch = move_batch(batch, device)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            p = _forward_views(model, batch, views)
        probs.append(p.cpu())
        labels.append(batch["label"].cpu())
        if "index" in batch:
            idx.append(torch.as_tensor(batch["index"]).cpu())
        losses.append(torch.nn.functional.nll_loss(p.clamp_min(1e-12).log(), batch["label"],
                                                   reduction="sum").item())
    local = {
        "index": torch.cat(idx).numpy() if idx else None,
        "label": torch.cat(labels).numpy() if labels else np.zeros(0, int),
        "prob": torch.cat(probs).numpy() if probs else np.zeros((0, 0), np.float32),
        "loss_sum": float(sum(losses)),
    }
    parts = gather_objects(local, dist_info)
    out = {
        "label": np.concatenate([p["label"] for p in parts]),
        "prob": np.concatenate([p["prob"] for p in parts if len(p["prob"])]),
        "loss_sum": sum(p["loss_sum"] for p in parts),
    }
    out["index"] = (np.concatenate([p["index"] for p in parts])
                    if all(p["index"] is not None for p in parts) else np.arange(len(out["label"])))
    order = np.argsort(out["index"], kind="stable")
    for k in ("index", "label", "prob"):
        out[k] = out[k][order]
    return out


def classification_metrics(label: np.ndarray, prob: np.ndarray, num_classes: int,
                           topk: Sequence[int] = (1, 5)) -> dict:
    """top-k accuracy, mean-class accuracy and the confusion matrix (rows: true class)."""
    n = len(label)
    if n == 0:
        raise ValueError("no samples were evaluated")
    ranked = np.argsort(-prob, axis=1)
    out: dict = {}
    for k in topk:
        kk = min(k, prob.shape[1])
        out[f"top{k}"] = float((ranked[:, :kk] == label[:, None]).any(1).mean())
    pred = ranked[:, 0]
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (label, pred), 1)
    present = cm.sum(1) > 0
    out["mean_class_acc"] = float((np.diag(cm)[present] / cm.sum(1)[present]).mean())
    out["confusion"] = cm
    out["num_samples"] = n
    return out


def write_eval_outputs(out_dir: str | os.PathLike, result: dict, metrics: dict,
                       classes: Sequence[str], names: Sequence[str] | None = None,
                       split: str = "test", plots: bool = True, topk: int = 5) -> dict:
    """metrics JSON, confusion CSV + PNG, per-sample predictions CSV; returns the file paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cm = metrics["confusion"]
    paths = {}
    paths["metrics"] = out_dir / f"{split}_metrics.json"
    atomic_write_text(paths["metrics"], json.dumps(
        {k: v for k, v in metrics.items() if k != "confusion"}, indent=2))
    paths["confusion_csv"] = out_dir / f"{split}_confusion.csv"
    with atomic_open(paths["confusion_csv"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["true\\pred", *classes])
        for c, row in zip(classes, cm):
            w.writerow([c, *row.tolist()])
    paths["predictions"] = out_dir / f"{split}_predictions.csv"
    prob = result["prob"]
    k = min(topk, prob.shape[1])
    with atomic_open(paths["predictions"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "name", "label", "label_name", "pred", "pred_name", "prob",
                    "correct", f"top{k}"])
        for idx, lab, p in zip(result["index"], result["label"], prob):
            top = np.argsort(-p)[:k]
            name = names[idx] if names is not None and idx < len(names) else str(idx)
            w.writerow([int(idx), name, int(lab), classes[lab], int(top[0]), classes[top[0]],
                        f"{p[top[0]]:.4f}", int(top[0] == lab),
                        " ".join(f"{classes[t]}:{p[t]:.3f}" for t in top)])
    if plots:
        from ..viz.plots import plot_confusion

        paths["confusion_png"] = out_dir / f"{split}_confusion.png"
        acc = metrics.get("top1", 0.0)
        plot_confusion(cm, classes, paths["confusion_png"],
                       title=f"{split}: top-1 {100 * acc:.1f}% (rows true, cols predicted)")
    return paths
