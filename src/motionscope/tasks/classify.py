"""Supervised classification (and any model that defines its own losses): train, test, predict."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from ..config import config_from_dict, load_config, to_yaml
from ..engine.checkpoint import load_checkpoint
from ..engine.distributed import DistInfo, broadcast_object, cleanup, init_distributed
from ..engine.evaluate import classification_metrics, predict_loader, write_eval_outputs
from ..engine.trainer import Trainer, amp_dtype, resolve_device, seed_everything
from ..errors import ConfigError, MotionscopeError
from ..fsutil import atomic_write_text
from .runs import build_datasets, build_model, build_split, load_run


def choose_run_dir(cfg: DictConfig, run_dir: str | None) -> tuple[Path, Path | None]:
    """The run directory and the checkpoint to auto-resume from (an unfinished run there)."""
    base = Path(run_dir or cfg.train.run_dir or Path("runs") / (cfg.preset or cfg.model.name))
    last = base / "checkpoints" / "last.pt"
    if not last.is_file():
        return base, None
    state = load_checkpoint(last)
    if not state.get("finished", False):
        return base, last
    if run_dir or cfg.train.run_dir:  # an explicit dir whose run has finished: start afresh
        raise MotionscopeError(f"{base}: this run has already finished; choose another run dir "
                               "or delete it")
    i = 1
    while (base.parent / f"{base.name}-{i}" / "checkpoints" / "last.pt").is_file():
        i += 1
    return base.parent / f"{base.name}-{i}", None


def train(preset: str, overrides: list[str] | None = None, run_dir: str | None = None,
          resume: str | None = None) -> dict:
    """Train ``preset`` with ``overrides``; auto-resumes an interrupted run in the same run dir."""
    cfg = load_config(preset, overrides)
    device = resolve_device(cfg.train.device)
    dist_info = init_distributed(device.type)
    try:
        if resume:
            state = load_checkpoint(resume)
            rdir = Path(state["_path"]).parent.parent
            if not overrides:  # continue with the configuration the run was started with
                cfg = config_from_dict(state["config"])
            ckpt = Path(state["_path"])
        else:
            rdir, ckpt = broadcast_object(choose_run_dir(cfg, run_dir) if dist_info.is_main
                                          else None, dist_info)
        rdir = Path(rdir)
        seed_everything(cfg.train.seed, cfg.train.deterministic)  # same init on every rank
        datasets = build_datasets(cfg)
        model = build_model(cfg)
        if dist_info.is_main:  # only once the run can start
            rdir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(rdir / "config.yaml", to_yaml(cfg))
            print(f"run directory: {rdir}" + (f" (resuming {ckpt})" if ckpt else ""))
        trainer = Trainer(cfg, model, datasets, rdir, dist_info)
        if ckpt is not None:
            trainer.resume(ckpt)
        result = trainer.fit()
        result["run_dir"] = str(rdir)
        return result
    finally:
        cleanup(dist_info)


def evaluate(run_or_ckpt: str, overrides: list[str] | None = None, split: str | None = None,
             out_dir: str | None = None) -> dict:
    """Test a trained model: metrics JSON, confusion CSV/PNG, predictions CSV."""
    state, cfg, model = load_run(run_or_ckpt, overrides)  # a run dir: the selected model
    ckpt_path = Path(state["_path"])
    split = split or cfg.data.test_split or cfg.data.val_split
    if split is None:
        raise ConfigError("no test split configured: pass --split NAME or data.test_split=NAME")
    ds = build_split(cfg, split, training=False)
    device = resolve_device(cfg.train.device)
    model.to(device)
    from torch.utils.data import DataLoader

    from ..signals import dataloader_worker_init

    loader = DataLoader(ds, batch_size=cfg.data.eval_batch_size or cfg.data.batch_size,
                        num_workers=cfg.data.num_workers, worker_init_fn=dataloader_worker_init)
    res = predict_loader(model, loader, device, DistInfo(), views=cfg.eval.views,
                         amp_dtype=amp_dtype(cfg.train.amp),
                         desc=split, show_progress=cfg.train.progress)
    classes = state.get("classes") or [str(i) for i in range(cfg.data.num_classes)]
    metrics = classification_metrics(res["label"], res["prob"], len(classes), cfg.eval.topk)
    out = Path(out_dir) if out_dir else ckpt_path.parent.parent / "eval"
    paths = write_eval_outputs(out, res, metrics, classes, getattr(ds, "names", None), split,
                               cfg.eval.plots)
    scalars = {k: v for k, v in metrics.items() if k != "confusion"}
    return {"split": split, "metrics": scalars, "files": {k: str(v) for k, v in paths.items()}}


def predict(ckpt: str, input_path: str, topk: int = 5) -> dict:
    """Class names and probabilities for one input file/folder, read as the model's data reads it."""
    from ..data.inputs import read_input

    state, cfg, model = load_run(ckpt, prefer_best=False)
    batch = read_input(cfg.data, input_path)
    with torch.no_grad():
        logits = model({k: v for k, v in batch.items() if k != "label"})["logits"].float()
    prob = logits.softmax(-1)[0]
    classes = state.get("classes") or [str(i) for i in range(prob.numel())]
    k = min(topk, prob.numel())
    vals, idx = prob.topk(k)
    return {"input": str(input_path), "checkpoint": state["_path"],
            "predictions": [{"class": classes[i], "index": int(i), "prob": float(v)}
                            for v, i in zip(vals.tolist(), idx.tolist())]}


__all__ = ["train", "evaluate", "predict", "choose_run_dir"]
