"""What every task does with a run config: build its model and datasets, load a finished run.

This is where the model side and the data side meet (the layers below do not know each other):
the model comes from its family (``models.create_model`` + the family's pretrained rule), the
datasets from the dataset contract (``data.build_dataset`` with an explicit ``training`` flag
and what the run must hand them), and the checks that need both (segments, views, labels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ..config import apply_overrides, config_from_dict
from ..data.datasets import build_dataset
from ..engine.checkpoint import load_checkpoint
from ..errors import ConfigError, DataError

__all__ = ["build_model", "build_datasets", "build_split", "load_run", "model_from_state",
           "check_labels", "check_data_against_model", "set_threads"]

_CLIP_DATASETS = ("rawframes", "videos", "world_clips")


def build_model(cfg: DictConfig, pretrained: bool = True) -> torch.nn.Module:
    """``create_model`` with the config's args; loads ``model.pretrained`` (when ``pretrained``)
    through the one pretrained path (the family's rule, or the generic one)."""
    from ..models import create_model
    from ..models.pretrained import load_pretrained

    args = OmegaConf.to_container(cfg.model.args, resolve=True) if isinstance(
        cfg.model.args, DictConfig) else dict(cfg.model.args)
    args = _with_class_count(cfg, args)
    model = create_model(cfg.model.name, **args)
    if cfg.model.attention is not None:
        from ..models.layers.transformer import set_attention_mode

        set_attention_mode(model, cfg.model.attention)
    if cfg.model.get("bn_momentum") is not None:
        m = float(cfg.model.bn_momentum)
        if not 0.0 < m <= 1.0:
            raise ConfigError(f"model.bn_momentum={m}: must be in (0, 1]")
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.momentum = m
    if pretrained and cfg.model.pretrained:
        report = load_pretrained(model, cfg.model.pretrained, model_name=cfg.model.name,
                                 system=cfg.model.pretrained_system,
                                 partial=bool(cfg.model.get("pretrained_partial", False)))
        print(report.summary())
    return model


def _with_class_count(cfg: DictConfig, args: dict) -> dict:
    """``model.args.num_classes`` from ``data.num_classes`` when the model takes one and it is
    not set (one number to change for another dataset); both set and different is an error."""
    import inspect

    from ..models import _lookup, _signature_target

    if cfg.task == "pretrain":
        return args
    params = inspect.signature(_signature_target(_lookup(cfg.model.name)[1])).parameters
    if "num_classes" not in params and not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return args
    n = int(cfg.data.num_classes)
    if "num_classes" not in args:
        return {**args, "num_classes": n}
    if int(args["num_classes"]) != n:
        raise ConfigError(f"model.args.num_classes={args['num_classes']} but data.num_classes={n}: "
                          "set one of them (the other follows) or both to the same count")
    return args


def set_threads(cfg: DictConfig) -> None:
    """``train.threads``: torch's and OpenCV's thread counts for this process (on a loaded
    2-core machine one thread per process is several times faster than two)."""
    n = cfg.train.get("threads")
    if n is None:
        return
    if int(n) < 1:
        raise ConfigError(f"train.threads={n}: must be >= 1 (or null for the default)")
    torch.set_num_threads(int(n))
    try:
        import cv2

        cv2.setNumThreads(int(n))
    except ImportError:  # pragma: no cover - a dependency
        pass


_RGBD_DATASETS = ("rgbd_official", "rgbd_world", "rgbd_folders")


def _check_rgbd(cfg: DictConfig) -> None:
    """DRSR: the clip length is the model's ``num_frames`` (its RCM runs over time), the data's
    FRP window its ``frp_window``, and a fusion model reads both streams."""
    args, margs = dict(cfg.data.args), dict(cfg.model.args)
    t, frames = int(args.get("sample_duration", 64)), int(margs.get("num_frames", 64))
    if cfg.model.name.startswith("drsr") and t != frames:
        raise ConfigError(f"data.args.sample_duration={t} but model.args.num_frames={frames}: "
                          "DRSR's RCM is built for a fixed clip length; set both")
    w, mw = int(args.get("window", 10)), margs.get("frp_window")
    if mw is not None and int(mw) != w:
        raise ConfigError(f"data.args.window={w} but model.args.frp_window={mw}: set both")
    fused = args.get("modality", "rgb") == "fusion"
    if cfg.model.name == "drsr_fusion" and not fused:
        raise ConfigError("model drsr_fusion reads RGB and depth: set data.args.modality=fusion")
    if cfg.model.name == "drsr" and fused:
        raise ConfigError("data.args.modality=fusion gives two streams: use model.name=drsr_fusion "
                          "(or modality rgb / depth for the unimodal drsr)")
    if int(cfg.eval.views) != 1:
        raise ConfigError(f"RGB-D datasets give one view per sample: set eval.views=1 (is {cfg.eval.views})")


def check_data_against_model(cfg: DictConfig) -> None:
    """Fail early when data and model disagree on the segment count or the eval views."""
    if cfg.data.name in _RGBD_DATASETS:
        _check_rgbd(cfg)
        return
    if cfg.data.name not in _CLIP_DATASETS:
        return
    from ..data.video import clip_segments, clip_views

    args = dict(cfg.data.args)
    model_t = dict(cfg.model.args).get("num_segments")
    if model_t is not None and int(model_t) != clip_segments(args):
        raise ConfigError(f"data.args.num_segments={clip_segments(args)} but model.args.num_segments="
                          f"{model_t}: the model reshapes clips by its segment count")
    views = clip_views(args)
    if int(cfg.eval.views) != views:
        raise ConfigError(f"data.args.test_clips x test_crops = {views} view(s) per sample "
                          f"but eval.views={cfg.eval.views}: set eval.views={views}")


def _feature_needs(cfg: DictConfig) -> dict:
    """MP's feature cache: the frozen part of the run's model, built here (not in ``data/``)
    with seed 0 (a seeded random backbone is the same in every process), and its cache key."""
    from ..models import create_model

    margs = OmegaConf.to_container(cfg.model.args, resolve=True)
    torch.manual_seed(0)
    model = create_model(cfg.model.name, **margs)
    if not hasattr(model, "extract_tokens"):
        raise ConfigError(f"data.args.cache needs a Motion Perceiver model (with extract_tokens), "
                          f"got model.name={cfg.model.name!r}")
    ckpt = margs.get("backbone_checkpoint")
    stamp = None
    if ckpt:
        st = Path(ckpt).stat()
        stamp = [str(Path(ckpt).resolve()), st.st_size, st.st_mtime_ns]
    return {"feature_model": model,
            "feature_key": {"model": cfg.model.name, "args": margs, "checkpoint": stamp}}


def build_split(cfg: DictConfig, split: str, training: bool):
    """The dataset of ``split``, read as training or as evaluation data."""
    check_data_against_model(cfg)
    needs = _feature_needs(cfg) if training and dict(cfg.data.args).get("cache") else {}
    ds = build_dataset(cfg.data, split, training=training, **needs)
    check_labels(ds, cfg.data.num_classes, split)
    return ds


def build_datasets(cfg: DictConfig) -> dict:
    """``{"train", "val", "test"}`` datasets of a run (None for a split set to null)."""
    d = cfg.data
    return {"train": build_split(cfg, d.train_split, True),
            "val": build_split(cfg, d.val_split, False) if d.val_split else None,
            "test": build_split(cfg, d.test_split, False) if d.test_split else None}


def check_labels(ds, num_classes: int, split: str) -> None:
    """Every label inside ``0..num_classes-1``, or one error naming the sample."""
    labels = getattr(ds, "labels", None)
    if labels is None:
        return
    labels = np.asarray(labels)
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if not len(bad):
        return
    i = int(bad[0])
    samples = getattr(ds, "samples", None) or getattr(getattr(ds, "base", None), "samples", None)
    meta = samples[i].meta if samples is not None and i < len(samples) else None
    names = getattr(ds, "names", None)
    name = f" ({names[i]})" if names is not None and i < len(names) else ""
    problem = (f"split {split!r}: sample {i}{name} has label {int(labels[i])} outside the class "
               f"range 0..{num_classes - 1} (data.num_classes)")
    if isinstance(meta, dict) and "list" in meta:  # the list file and line it came from
        raise DataError(meta["list"], f"line {meta['line']}: {problem}")
    raise DataError(getattr(ds, "root", None), problem)


def model_from_state(cfg: DictConfig, state: dict) -> torch.nn.Module:
    """The model of a checkpoint: built from ``cfg`` without ``model.pretrained`` (the checkpoint
    holds every weight), loaded strictly, in eval mode."""
    from ..models.official import load_checked

    model = build_model(cfg, pretrained=False)
    load_checked(model, state["model"], path=state["_path"])
    return model.eval()


def load_run(run_or_ckpt: str, overrides: list[str] | None = None, prefer_best: bool = True):
    """``(state, cfg, model)`` of a run directory or checkpoint; a run directory gives the model
    selected on validation (``best.pt``) when there is one and ``prefer_best``."""
    state = load_checkpoint(run_or_ckpt)
    best = Path(state["_path"]).parent / "best.pt"
    if prefer_best and Path(run_or_ckpt).is_dir() and best.is_file():
        state = load_checkpoint(best)
    cfg = apply_overrides(config_from_dict(state["config"]), overrides)
    return state, cfg, model_from_state(cfg, state)
