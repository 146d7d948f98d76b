"""Supervised classification (and any model that defines its own losses): train, test, predict."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ..config import apply_overrides, config_from_dict, load_config, to_dict, to_yaml
from ..data.datasets import build_dataset, check_kwargs
from ..engine.checkpoint import load_checkpoint
from ..engine.distributed import DistInfo, broadcast_object, cleanup, init_distributed
from ..engine.evaluate import classification_metrics, predict_loader, write_eval_outputs
from ..engine.trainer import Trainer, resolve_device, seed_everything
from ..errors import ConfigError, DataError, MotionscopeError
from ..fsutil import atomic_write_text


def build_model(cfg: DictConfig) -> torch.nn.Module:
    """``create_model`` with the config's args, checked; loads ``model.pretrained`` if given."""
    from ..models import _registry, create_model

    reg = _registry()
    args = dict(cfg.model.args)
    if cfg.model.name in reg:
        check_kwargs(reg[cfg.model.name], args, f"model.args for {cfg.model.name!r}")
    model = create_model(cfg.model.name, **args)
    if cfg.model.attention is not None:
        from ..models.layers.transformer import set_attention_mode

        set_attention_mode(model, cfg.model.attention)
    if cfg.model.pretrained:
        load_pretrained(model, cfg.model.pretrained, cfg.model.pretrained_system)
    return model


def load_pretrained(model: torch.nn.Module, path: str, system: str | None = None) -> None:
    """Initialise from our checkpoint or an official one; heads that do not fit are left new."""
    from ..models.official import convert_official, load_checked, read_state_dict

    if hasattr(model, "load_pretrained"):  # a system that knows its own protocol (MAMP)
        model.load_pretrained(path, system=system)
        return
    p = Path(path)
    if system is None:
        try:
            sd = load_checkpoint(p)["model"]
        except MotionscopeError:
            sd = read_state_dict(p)
    else:
        sd = convert_official(system, read_state_dict(p), model)
    own = model.state_dict()
    fitting = {k: v for k, v in sd.items() if k in own and v.shape == own[k].shape}
    if not fitting:
        raise DataError(path, "no tensor of this checkpoint fits the model")
    missing, _ = load_checked(model, fitting, path=path, strict=False)
    print(f"loaded {len(fitting)} tensors from {path}; newly initialised: {len(missing)}")


def build_datasets(cfg: DictConfig) -> dict:
    d = cfg.data
    out = {"train": build_dataset(d, d.train_split)}
    out["val"] = build_dataset(d, d.val_split) if d.val_split else None
    out["test"] = build_dataset(d, d.test_split) if d.test_split else None
    return out


def _check_labels(ds, num_classes: int, split: str) -> None:
    labels = getattr(ds, "labels", None)
    if labels is None:
        return
    labels = np.asarray(labels)
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        raise DataError(getattr(ds, "root", None),
                        f"split {split!r}: sample {int(bad[0])} has label {int(labels[bad[0]])} "
                        f"outside the class range 0..{num_classes - 1} (data.num_classes)")


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
        for split, ds in datasets.items():
            if ds is not None:
                _check_labels(ds, cfg.data.num_classes, split)
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


def _ckpt_and_config(run_or_ckpt: str, overrides: list[str] | None):
    state = load_checkpoint(run_or_ckpt)
    cfg = apply_overrides(config_from_dict(state["config"]), overrides)
    return state, cfg


def evaluate(run_or_ckpt: str, overrides: list[str] | None = None, split: str | None = None,
             out_dir: str | None = None) -> dict:
    """Test a trained model: metrics JSON, confusion CSV/PNG, predictions CSV."""
    state, cfg = _ckpt_and_config(run_or_ckpt, overrides)
    ckpt_path = Path(state["_path"])
    best = ckpt_path.parent / "best.pt"
    if Path(run_or_ckpt).is_dir() and best.is_file():  # a run dir: use the selected model
        state = load_checkpoint(best)
    split = split or cfg.data.test_split or cfg.data.val_split
    if split is None:
        raise ConfigError("no test split configured: pass --split NAME or data.test_split=NAME")
    ds = build_dataset(cfg.data, split)
    _check_labels(ds, cfg.data.num_classes, split)
    model = _model_from_state(cfg, state)
    device = resolve_device(cfg.train.device)
    model.to(device)
    from torch.utils.data import DataLoader

    loader = DataLoader(ds, batch_size=cfg.data.eval_batch_size or cfg.data.batch_size,
                        num_workers=cfg.data.num_workers)
    amp = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.train.amp]
    res = predict_loader(model, loader, device, DistInfo(), views=cfg.eval.views, amp_dtype=amp,
                         desc=split, show_progress=cfg.train.progress)
    classes = state.get("classes") or [str(i) for i in range(cfg.data.num_classes)]
    metrics = classification_metrics(res["label"], res["prob"], len(classes), cfg.eval.topk)
    out = Path(out_dir) if out_dir else ckpt_path.parent.parent / "eval"
    paths = write_eval_outputs(out, res, metrics, classes, getattr(ds, "names", None), split,
                               cfg.eval.plots)
    scalars = {k: v for k, v in metrics.items() if k != "confusion"}
    return {"split": split, "metrics": scalars, "files": {k: str(v) for k, v in paths.items()}}


def _model_from_state(cfg: DictConfig, state: dict) -> torch.nn.Module:
    from ..models.official import load_checked

    cfg_no_pre = OmegaConf.merge(cfg, {"model": {"pretrained": None}})
    model = build_model(cfg_no_pre)
    load_checked(model, state["model"], path=state["_path"])
    return model.eval()


def predict(ckpt: str, input_path: str, topk: int = 5) -> dict:
    """Class names and probabilities for one input file/folder, read as the model's data reads it."""
    from ..data.datasets import read_input

    state, cfg = _ckpt_and_config(ckpt, None)
    model = _model_from_state(cfg, state)
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


def write_json(path: str | os.PathLike, obj: dict) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=float))


__all__ = ["train", "evaluate", "predict", "build_model", "build_datasets", "load_pretrained",
           "to_dict"]
