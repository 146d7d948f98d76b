"""Run configuration: dataclass schemas, YAML presets shipped with the package, dotted overrides.

``load_config("baseline_skeleton", ["train.epochs=3", "data.root=DIR"])`` merges the schema
defaults, the preset and the overrides, and validates everything before any work starts: an
unknown key or a value of the wrong type raises :class:`ConfigError` naming the key and the
closest valid one. Model and dataset arguments (``model.args``, ``data.args``) are free-form
dicts checked against the builder's signature when the run is built.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from .errors import ConfigError


@dataclass
class ModelConfig:
    name: str = "skeleton_transformer"
    args: dict[str, Any] = field(default_factory=dict)
    pretrained: str | None = None  # our checkpoint or an official one
    pretrained_system: str | None = None  # e.g. "mamp": load through models.official
    pretrained_partial: bool = False  # load the tensors that fit, keep the rest new (listed)
    attention: str | None = None  # "sdpa" | "naive" for transformer models
    # every BatchNorm's momentum (None: the model's own); short CPU runs of models built with a
    # slow running average (DRSR's 0.01) evaluate with lagging statistics otherwise
    bn_momentum: float | None = None


@dataclass
class DataConfig:
    name: str = "synthetic_skeleton"  # dataset builder, see motionscope.data.datasets
    root: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    num_classes: int = 10
    batch_size: int = 16  # per process
    eval_batch_size: int | None = None
    num_workers: int = 0
    train_split: str = "train"
    val_split: str | None = "val"
    test_split: str | None = "test"
    drop_last: bool = True


@dataclass
class OptimConfig:
    name: str = "adamw"  # adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 0.05
    momentum: float = 0.9
    nesterov: bool = False
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    layer_decay: float | None = None  # layer-wise LR decay (BEiT style); needs model.layer_id
    no_decay_bias_norm: bool = True  # no weight decay on biases, norms and embeddings
    base_batch_size: int | None = None  # lr *= global_batch / base_batch_size when set
    fused: bool | None = None  # fused optimiser kernels (None: on for CUDA)


@dataclass
class ScheduleConfig:
    name: str = "cosine"  # cosine | step | constant | drsr_cosine (DRSR's released half-peak schedule)
    warmup_epochs: float = 0.0
    warmup_start_factor: float = 0.0
    min_lr: float = 0.0
    milestones: list[int] = field(default_factory=list)  # epochs, for "step"
    gamma: float = 0.1


@dataclass
class TrainConfig:
    epochs: int = 10
    max_steps: int | None = None  # stop after this many optimiser steps (tests, smoke runs)
    accumulate: int = 1  # gradient accumulation steps
    clip_grad: float | None = None
    amp: str = "none"  # none | bf16 | fp16
    compile: bool = False
    channels_last: bool = False
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    ckpt_every: int = 0  # optimiser steps between checkpoints (0: epoch ends only)
    eval_every: int = 1  # epochs between validation passes
    log_every: int = 10  # optimiser steps between metric lines
    select_metric: str = "top1"  # validation metric for the best checkpoint ("loss" is minimised)
    run_dir: str | None = None
    progress: bool = True
    tensorboard: bool = True
    threads: int | None = None  # torch/OpenCV threads of this process (None: their default)


@dataclass
class EvalConfig:
    views: int = 1  # clips/crops per sample, averaged (multi-view testing)
    topk: list[int] = field(default_factory=lambda: [1, 5])
    plots: bool = True
    # "legacy": DRSR's released test protocol (random token sampling, best of four head
    # combinations on the evaluated split), reported beside the standard numbers (tasks/drsr_eval.py)
    protocol: str = "standard"


@dataclass
class Config:
    task: str = "classify"  # classify | pretrain (losses only: no accuracy, best = lowest loss)
    preset: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sched: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


PRESET_PACKAGE = "motionscope.presets"


def list_presets() -> dict[str, str]:
    """Preset name -> its whole description (the YAML's leading ``#`` comment lines, joined)."""
    out = {}
    for entry in sorted(resources.files(PRESET_PACKAGE).iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            lines = []
            for line in entry.read_text().splitlines():
                if not line.startswith("#"):
                    break
                lines.append(line.lstrip("#").strip())
            out[entry.name[: -len(".yaml")]] = " ".join(x for x in lines if x)
    return out


def read_preset(name: str) -> dict:
    """The raw YAML dict of a shipped preset, or of a YAML file path."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        text = path.read_text()
    else:
        res = resources.files(PRESET_PACKAGE) / f"{name}.yaml"
        if not res.is_file():
            names = list(list_presets())
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown preset {name!r}{hint} (`motionscope presets` lists them)")
        text = res.read_text()
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"preset {name}: invalid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"preset {name}: expected a mapping at the top level")
    return data


def _suggest(cfg: DictConfig, dotted: str) -> str:
    """Closest valid key for an unknown dotted key (searched at the level where it failed)."""
    parts = dotted.split(".")
    node: Any = cfg
    prefix: list[str] = []
    for p in parts:
        if isinstance(node, DictConfig) and p in node:
            node = node[p]
            prefix.append(p)
            continue
        if isinstance(node, DictConfig):
            close = difflib.get_close_matches(p, list(node.keys()), n=1, cutoff=0.5)
            if close:
                return f"; did you mean {'.'.join([*prefix, close[0]])!r}?"
        break
    return ""


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and k not in ("args",):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _key_exists(cfg: DictConfig, dotted: str) -> bool:
    """True when every part of ``dotted`` is a schema key (anything below ``*.args`` is free)."""
    node: Any = cfg
    for p in dotted.split("."):
        if not isinstance(node, DictConfig) or p not in node:
            return False
        if p == "args":
            return True
        node = node[p]
    return True


class _Delete:
    """The value of a ``~key`` override: remove ``key`` (a schema key returns to its default)."""

    def __repr__(self) -> str:
        return "<delete>"


DELETE = _Delete()


def _delete(base: DictConfig, key: str, source: str) -> None:
    parts = key.split(".")
    if "args" in parts[:-1]:  # a free-form key below model.args / data.args
        parent = OmegaConf.select(base, ".".join(parts[:-1]))
        if not isinstance(parent, DictConfig) or parts[-1] not in parent:
            raise ConfigError(f"{source}: ~{key}: there is no such key to delete")
        del parent[parts[-1]]
        return
    if not _key_exists(base, key):
        raise ConfigError(f"{source}: unknown config key {key!r}{_suggest(base, key)}")
    default = OmegaConf.select(OmegaConf.structured(Config), key)
    if isinstance(default, DictConfig):  # e.g. ~data.args: clear the preset's whole mapping
        node = OmegaConf.select(base, key)
        for k in list(node.keys()):
            del node[k]
        return
    OmegaConf.update(base, key, default, merge=False)


def _merge_checked(base: DictConfig, updates: dict[str, Any], source: str) -> None:
    for key, value in updates.items():
        if value is DELETE:
            _delete(base, key, source)
            continue
        if not _key_exists(base, key):
            raise ConfigError(f"{source}: unknown config key {key!r}{_suggest(base, key)}")
        try:
            OmegaConf.update(base, key, value, merge=True, force_add=False)
        except ConfigKeyError as e:
            raise ConfigError(f"{source}: unknown config key {key!r}{_suggest(base, key)}") from e
        except ValidationError as e:
            raise ConfigError(f"{source}: bad value for {key!r}: {e.msg.splitlines()[0]}") from e
        except OmegaConfBaseException as e:
            raise ConfigError(f"{source}: cannot set {key!r}: {e}") from e


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["train.epochs=3", "model.args.dim=64"]`` -> {"train.epochs": 3, ...} (YAML-typed);
    ``~key`` deletes a key (``~data.args`` clears a preset's dataset arguments, ``~data.args.world``
    removes one, ``~train.max_steps`` restores the default)."""
    out: dict[str, Any] = {}
    for item in overrides:
        if item.startswith("~"):
            key = item[1:].split("=", 1)[0].strip()
            if not key:
                raise ConfigError(f"override {item!r} has an empty key")
            out[key] = DELETE
            continue
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        key = key.strip().lstrip("+")
        if not key:
            raise ConfigError(f"override {item!r} has an empty key")
        try:
            out[key] = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            out[key] = raw
    return out


def load_config(preset: str | None = None, overrides: list[str] | None = None) -> DictConfig:
    """Schema defaults <- preset YAML <- dotted overrides, validated; returns a read-only config."""
    cfg = OmegaConf.structured(Config)
    if preset is not None:
        _merge_checked(cfg, _flatten(read_preset(preset)), f"preset {preset}")
        cfg.preset = Path(preset).stem if preset.endswith((".yaml", ".yml")) else preset
    _merge_checked(cfg, parse_overrides(overrides or []), "override")
    _validate_choices(cfg)
    OmegaConf.set_readonly(cfg, True)
    return cfg


_CHOICES = {
    "task": ("classify", "pretrain"),
    "optim.name": ("adamw", "sgd"),
    "sched.name": ("cosine", "step", "constant", "drsr_cosine"),
    "eval.protocol": ("standard", "legacy"),
    "train.amp": ("none", "bf16", "fp16"),
    "model.attention": (None, "sdpa", "naive"),
}


def _validate_choices(cfg: DictConfig) -> None:
    for key, choices in _CHOICES.items():
        value = OmegaConf.select(cfg, key)
        if value not in choices:
            valid = ", ".join(repr(c) for c in choices)
            raise ConfigError(f"bad value for {key!r}: {value!r} (choose one of {valid})")
    if cfg.train.accumulate < 1:
        raise ConfigError("train.accumulate must be >= 1")
    if cfg.data.batch_size < 1:
        raise ConfigError("data.batch_size must be >= 1")


def apply_overrides(cfg: DictConfig, overrides: list[str] | None) -> DictConfig:
    """Dotted overrides on an existing config (a saved run's), validated like at load time."""
    if overrides:
        OmegaConf.set_readonly(cfg, False)
        _merge_checked(cfg, parse_overrides(overrides), "override")
        _validate_choices(cfg)
    return cfg


def config_from_dict(d: dict) -> DictConfig:
    """Rebuild a validated config from a saved plain dict (checkpoints store one)."""
    cfg = OmegaConf.structured(Config)
    cfg = OmegaConf.merge(cfg, d)
    _validate_choices(cfg)
    return cfg


def to_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg)


def to_dict(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
