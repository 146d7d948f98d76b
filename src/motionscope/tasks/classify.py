"""Supervised classification (and any model that defines its own losses): train, test, predict."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from omegaconf import DictConfig

from ..config import config_from_dict, load_config, to_dict, to_yaml
from ..engine.checkpoint import load_checkpoint
from ..engine.distributed import DistInfo, broadcast_object, cleanup, init_distributed
from ..engine.evaluate import classification_metrics, predict_loader, write_eval_outputs
from ..engine.trainer import Trainer, amp_dtype, resolve_device, seed_everything
from ..errors import ConfigError, MotionscopeError
from ..fsutil import atomic_write_text, clean_orphaned_temps
from ..runlock import RunLock
from .runs import build_datasets, build_model, build_split, load_run, set_threads

# Config keys that do not change what a run computes: a resume may differ in these (anything
# else that differs is refused unless forced; docs/reliability.md "Run directories").
RESUME_IGNORED = ("preset", "train.run_dir", "train.progress", "train.tensorboard",
                  "train.log_every", "train.ckpt_every", "data.eval_batch_size", "eval.plots")


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_differences(cfg: DictConfig, saved: dict) -> list[tuple[str, object, object]]:
    """``(key, checkpoint value, requested value)`` for every dotted key that changes the result."""
    try:  # the checkpoint's config with today's defaults for keys it predates
        saved = to_dict(config_from_dict(saved))
    except Exception:  # noqa: BLE001  (compare the raw dict)
        pass
    old, new = _flat(saved), _flat(to_dict(cfg))
    return [(k, old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys())
            if k not in RESUME_IGNORED and old.get(k) != new.get(k)]


def _check_resume(cfg: DictConfig, state: dict, force: bool,
                  why: str = "--force-resume") -> None:
    diff = config_differences(cfg, state["config"])
    if not diff:
        return
    listed = "; ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in diff)
    if force:
        print(f"resuming {state['_path']} despite config differences ({why}): {listed}")
        return
    raise MotionscopeError(f"{state['_path']}: the requested config differs from the "
                           f"checkpoint's in keys that change the result ({listed}); pass "
                           "--force-resume to resume anyway, or --fresh to start a new run")


def _next_free(base: Path) -> Path:
    i = 1
    while (base.parent / f"{base.name}-{i}" / "checkpoints" / "last.pt").is_file():
        i += 1
    return base.parent / f"{base.name}-{i}"


def choose_run_dir(cfg: DictConfig, run_dir: str | None,
                   fresh: bool = False) -> tuple[Path, Path | None]:
    """The run directory and the checkpoint to auto-resume from (an unfinished run there).

    ``fresh``: never resume; an automatic run dir moves on to the next free ``<name>-N``, an
    explicit one must not hold a run yet.
    """
    explicit = bool(run_dir or cfg.train.run_dir)
    base = Path(run_dir or cfg.train.run_dir or Path("runs") / (cfg.preset or cfg.model.name))
    last = base / "checkpoints" / "last.pt"
    if not last.is_file():
        return base, None
    if fresh:
        if explicit:
            raise MotionscopeError(f"{base} already holds a run (--fresh never overwrites one): "
                                   "choose another --run-dir, or delete it")
        return _next_free(base), None
    state = load_checkpoint(last)
    if not state.get("finished", False):
        return base, last
    if explicit:  # an explicit dir whose run has finished: start afresh
        raise MotionscopeError(f"{base}: this run has already finished; choose another run dir "
                               f"or delete it; to train it further, resume it with a longer "
                               f"schedule: --resume {base} train.epochs=N (or train.max_steps=N)")
    return _next_free(base), None


def _check_lengths(cfg: DictConfig) -> None:
    if cfg.train.epochs < 1:
        raise ConfigError(f"train.epochs={cfg.train.epochs}: a run trains at least one epoch")
    if cfg.train.max_steps is not None and cfg.train.max_steps < 1:
        raise ConfigError(f"train.max_steps={cfg.train.max_steps}: a run trains at least one "
                          "step (null: no limit)")


def _plan(cfg: DictConfig, overrides, run_dir, resume, fresh, force_resume):
    """Rank 0's decision: (config, run dir, checkpoint to resume) or the error to raise."""
    if resume:
        state = load_checkpoint(resume)
        if not overrides:  # continue with the configuration the run was started with
            cfg = config_from_dict(state["config"])
        else:  # an explicit --resume with overrides asks for them: said, not refused
            _check_resume(cfg, state, True, "--resume with overrides")
        return cfg, Path(state["_path"]).parent.parent, Path(state["_path"])
    rdir, ckpt = choose_run_dir(cfg, run_dir, fresh=fresh)
    if ckpt is not None:
        _check_resume(cfg, load_checkpoint(ckpt), force_resume)
    return cfg, rdir, ckpt


def train(preset: str, overrides: list[str] | None = None, run_dir: str | None = None,
          resume: str | None = None, fresh: bool = False, force_resume: bool = False) -> dict:
    """Train ``preset`` with ``overrides``; auto-resumes an interrupted run in the same run dir.

    One process per run directory (``motionscope.runlock``). A resume whose config differs from
    the checkpoint's in keys that change the result is refused, listing them, unless
    ``force_resume``; ``fresh`` starts a new run instead of resuming. A run that fails before
    its first checkpoint leaves nothing behind (docs/reliability.md "Run directories").
    """
    if fresh and (resume or force_resume):
        raise ConfigError("--fresh starts a new run: it cannot be combined with --resume or "
                          "--force-resume")
    cfg = load_config(preset, overrides)
    _check_lengths(cfg)
    device = resolve_device(cfg.train.device)
    dist_info = init_distributed(device.type)
    lock = None
    rdir = None
    created = wrote_config = False
    try:
        plan = None
        if dist_info.is_main:
            try:
                plan = _plan(cfg, overrides, run_dir, resume, fresh, force_resume)
                rdir = plan[1]
                created = not rdir.exists()
                lock = RunLock(rdir).acquire()
                if resume is None:  # decide again under the lock: a holder may just have ended
                    again = _plan(cfg, overrides, run_dir, resume, fresh, force_resume)
                    if again[1] != rdir:
                        raise MotionscopeError(f"{rdir}: the run there changed while this one "
                                               "started; run the command again")
                    plan = again
                plan = (to_dict(plan[0]), str(plan[1]), plan[2] and str(plan[2]))
            except MotionscopeError as e:
                plan = e
        plan = broadcast_object(plan, dist_info)
        if isinstance(plan, BaseException):
            raise plan
        cfg_d, rdir, ckpt = plan
        cfg = config_from_dict(cfg_d) if resume and not overrides else cfg
        _check_lengths(cfg)
        rdir, ckpt = Path(rdir), ckpt and Path(ckpt)
        if dist_info.is_main:  # nobody else writes here: what a killed writer left is garbage
            for folder in (rdir, rdir / "checkpoints"):
                clean_orphaned_temps(folder)
        set_threads(cfg)
        seed_everything(cfg.train.seed, cfg.train.deterministic)  # same init on every rank
        datasets = build_datasets(cfg)
        model = build_model(cfg)
        if dist_info.is_main:  # only once the run can start
            rdir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(rdir / "config.yaml", to_yaml(cfg))
            wrote_config = True
            print(f"run directory: {rdir}" + (f" (resuming {ckpt})" if ckpt else ""))
        legacy = str(cfg.eval.get("protocol", "standard")) == "legacy"
        if legacy:  # DRSR's released protocol beside the standard one (tasks/drsr_eval.py)
            from .drsr_eval import LegacyTracker

            trainer = LegacyTracker(cfg, model, datasets, rdir, dist_info, legacy_seed=cfg.train.seed)
        else:
            trainer = Trainer(cfg, model, datasets, rdir, dist_info)
        if ckpt is not None:
            trainer.resume(ckpt)
        result = trainer.fit()
        result["run_dir"] = str(rdir)
        if legacy and dist_info.is_main:
            import json

            result["legacy"] = trainer.legacy_summary()
            atomic_write_text(rdir / "legacy.json", json.dumps(result["legacy"], indent=2))
        return result
    except BaseException:
        if dist_info.is_main and lock is not None and lock.fd is not None:
            _remove_unstarted(Path(rdir), created, wrote_config)
        raise
    finally:
        if lock is not None:
            lock.release()
        cleanup(dist_info)


def _remove_unstarted(rdir: Path, created: bool, wrote_config: bool) -> None:
    """A run that failed before its first checkpoint leaves nothing: the folder if this process
    made it, else the config.yaml it wrote."""
    if (rdir / "checkpoints" / "last.pt").is_file():
        return
    if created:
        shutil.rmtree(rdir, ignore_errors=True)
    elif wrote_config:
        (rdir / "config.yaml").unlink(missing_ok=True)


def evaluate(run_or_ckpt: str, overrides: list[str] | None = None, split: str | None = None,
             out_dir: str | None = None) -> dict:
    """Test a trained model: metrics JSON, confusion CSV/PNG, predictions CSV."""
    state, cfg, model = load_run(run_or_ckpt, overrides)  # a run dir: the selected model
    set_threads(cfg)
    ckpt_path = Path(state["_path"])
    if cfg.task == "pretrain":
        raise ConfigError(f"{ckpt_path}: a pre-training run (task: pretrain) predicts no classes: "
                          "its test losses are in the run's results.json; test a linear probe or a "
                          "fine-tune started from it (model.pretrained=" f"{ckpt_path})")
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
    out_d = {"split": split, "metrics": scalars, "files": {k: str(v) for k, v in paths.items()}}
    if str(cfg.eval.get("protocol", "standard")) == "legacy":
        from .drsr_eval import evaluate_protocols, is_drsr, write_legacy

        if not is_drsr(model):
            raise ConfigError(f"eval.protocol=legacy is DRSR's released test protocol; model "
                              f"{cfg.model.name!r} has no DRSR heads")
        out_d["protocols"] = evaluate_protocols(model, loader, device, seed=cfg.train.seed)
        out_d["files"]["protocols"] = str(write_legacy(out, split, out_d["protocols"]))
    return out_d


def predict(ckpt: str, input_path: str, topk: int = 5) -> dict:
    """Class names and probabilities for one input file/folder, read as the model's data reads it."""
    from ..data.inputs import read_input

    state, cfg, model = load_run(ckpt, prefer_best=False)
    set_threads(cfg)
    if cfg.task == "pretrain":
        raise ConfigError(f"{state['_path']}: a pre-training run (task: pretrain) predicts no "
                          "classes; predict with a linear probe or a fine-tune started from it")
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


__all__ = ["train", "evaluate", "predict", "choose_run_dir", "config_differences",
           "RESUME_IGNORED"]
