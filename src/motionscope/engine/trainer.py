"""One Trainer for every task (DESIGN "Engine contract").

The model owns its losses (``forward(batch)["losses"]``); the Trainer sums them, steps the
optimiser with AMP / accumulation / clipping, follows the LR schedule per step, checkpoints
atomically (every N steps, at each epoch end, and on SIGINT/SIGTERM), resumes exactly
(model, optimiser, scaler, RNG, epoch and step; a mid-epoch resume replays the data order),
selects the best model on the validation split only and evaluates the test split once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..config import to_dict
from ..data.samplers import ShardedBatchSampler, ShardedEvalSampler
from ..errors import Interrupted, MotionscopeError
from ..fsutil import atomic_write_text
from ..signals import dataloader_worker_init, iter_with_workers
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .distributed import DistInfo, all_reduce_mean, barrier, gather_objects
from .evaluate import classification_metrics, move_batch, predict_loader, write_eval_outputs
from .logging import MetricsLogger, progress
from .optim import LRSchedule, build_optimizer


def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise MotionscopeError(f"train.device={name!r} but no CUDA device is available")
    return dev


AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def amp_dtype(name: str) -> torch.dtype | None:
    """The autocast dtype of ``train.amp`` (None: full precision)."""
    return AMP_DTYPES[name]


def unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "module", model)  # DDP
    return getattr(model, "_orig_mod", model)  # torch.compile


def _worker_init(worker_id: int) -> None:
    dataloader_worker_init(worker_id)  # a process-group SIGTERM is the main process's to handle
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


class Trainer:
    def __init__(self, cfg: DictConfig, model: nn.Module, datasets: dict[str, Dataset],
                 run_dir: str | os.PathLike, dist_info: DistInfo | None = None,
                 classes: list[str] | None = None):
        self.cfg = cfg
        self.dist = dist_info or DistInfo()
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.device = resolve_device(cfg.train.device)
        self.datasets = datasets
        self.classes = classes or getattr(datasets["train"], "classes", None) or \
            [str(i) for i in range(cfg.data.num_classes)]
        t = cfg.train
        self.amp_dtype = amp_dtype(t.amp)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=t.amp == "fp16")

        seed_everything(t.seed + self.dist.rank, t.deterministic)
        self.model = model.to(self.device)
        if t.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.raw_model = self.model
        global_bs = cfg.data.batch_size * self.dist.world_size * t.accumulate
        self.base_lr = cfg.optim.lr * (global_bs / cfg.optim.base_batch_size
                                       if cfg.optim.base_batch_size else 1.0)
        self.optimizer = build_optimizer(self.raw_model, cfg.optim, self.base_lr, self.device.type)
        if t.compile:
            self.model = torch.compile(self.model)
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

        self.sampler = ShardedBatchSampler(len(datasets["train"]), cfg.data.batch_size,
                                           self.dist.world_size, self.dist.rank, shuffle=True,
                                           seed=t.seed, drop_last=cfg.data.drop_last)
        self.loader_gen = torch.Generator()
        self.train_loader = DataLoader(datasets["train"], batch_sampler=self.sampler,
                                       num_workers=cfg.data.num_workers,
                                       worker_init_fn=_worker_init, generator=self.loader_gen,
                                       persistent_workers=False,
                                       pin_memory=self.device.type == "cuda")
        self.steps_per_epoch = len(self.sampler) // t.accumulate
        if self.steps_per_epoch == 0:
            raise MotionscopeError(
                f"the training split has {len(datasets['train'])} samples: too few for one step of "
                f"batch {cfg.data.batch_size} x {self.dist.world_size} processes x "
                f"{t.accumulate} accumulation")
        self.schedule = LRSchedule(cfg.sched, self.base_lr, self.steps_per_epoch, t.epochs)
        self.total_steps = self.steps_per_epoch * t.epochs
        if t.max_steps is not None:
            self.total_steps = min(self.total_steps, t.max_steps)

        self.epoch = 0
        self.step_in_epoch = 0
        self.global_step = 0
        self.best: dict | None = None
        self.finished = False
        self._pending_rng: dict | None = None
        self._stop_signal: int | None = None
        self.callbacks: list = []  # called as cb(trainer) after every optimiser step
        self.logger = MetricsLogger(self.run_dir, self.dist.is_main, t.tensorboard)

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        """Everything exact resume needs, in types ``torch.load(weights_only=True)`` reads."""
        from .checkpoint import to_safe  # metrics and class names may be numpy scalars

        rngs = gather_objects(rng_state(), self.dist)
        return {
            "model": unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rngs,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "best": to_safe(self.best),
            "finished": self.finished,
            "config": to_dict(self.cfg),
            "classes": to_safe(list(self.classes)),
            "world_size": self.dist.world_size,
        }

    def save(self, name: str = "last.pt") -> Path | None:
        state = self.state()  # every rank takes part (RNG gather)
        path = self.ckpt_dir / name
        if self.dist.is_main:
            save_checkpoint(path, state)
        barrier(self.dist)
        return path

    def resume(self, path: str | os.PathLike) -> None:
        state = load_checkpoint(path)
        from ..statedict import load_checked

        load_checked(unwrap(self.model), state["model"], path=state["_path"])
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as e:
            raise MotionscopeError(f"{state['_path']}: optimiser state does not fit this run "
                                   f"(was the model or optimiser changed?): {e}") from e
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step_in_epoch = state["epoch"], state["step_in_epoch"]
        self.global_step, self.best = state["global_step"], state["best"]
        self.finished = state.get("finished", False)
        rngs = state["rng"]
        self._pending_rng = rngs[self.dist.rank] if len(rngs) == self.dist.world_size else rngs[0]
        if self.dist.is_main:
            print(f"resumed from {state['_path']} at epoch {self.epoch}, step {self.global_step}")

    # ------------------------------------------------------------------ training
    def _install_signals(self):
        def handler(signum, frame):
            self._stop_signal = signum

        old = {}
        for s in (signal.SIGINT, signal.SIGTERM):
            try:
                old[s] = signal.signal(s, handler)
            except ValueError:  # not the main thread
                pass
        return old

    def request_stop(self, signum: int = signal.SIGTERM) -> None:
        """Stop after the current step with a checkpoint, exactly as a signal would."""
        self._stop_signal = signum

    def _should_stop(self) -> bool:
        if not self.dist.enabled:
            return self._stop_signal is not None
        flag = all_reduce_mean(torch.tensor(float(self._stop_signal is not None)), self.dist)
        return bool(flag > 0)

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def fit(self) -> dict:
        """Train to the end (or ``max_steps``), validating and checkpointing; then test once."""
        t = self.cfg.train
        old_handlers = self._install_signals()
        self.logger.truncate(self.global_step)  # what a killed run logged after its checkpoint
        try:
            while self.epoch < t.epochs and self.global_step < self.total_steps:
                self._train_epoch()
                if self.global_step >= self.total_steps and self.step_in_epoch != 0:
                    break  # max_steps reached mid-epoch
                if self.datasets.get("val") is not None and (self.epoch % t.eval_every == 0
                                                             or self.epoch == t.epochs):
                    self._validate()
                self.save("last.pt")
            self.finished = self.global_step >= self.total_steps
            # before the test loads best.pt into the model: last.pt keeps the last weights
            self.save("last.pt")
            results = self._final_test() if self.finished else {}
            return {"global_step": self.global_step, "epoch": self.epoch, "best": self.best,
                    **results}
        finally:
            for s, h in old_handlers.items():
                signal.signal(s, h)
            self.logger.close()

    def _train_epoch(self) -> None:
        t = self.cfg.train
        self.model.train()
        self.sampler.set_epoch(self.epoch)
        # models whose forward depends on the epoch (DRSR's temperature schedule and distillation
        # start, B-KinD's curriculum) get it before each epoch, also on resume
        hook = getattr(unwrap(self.model), "set_epoch", None)
        if callable(hook):
            hook(self.epoch, t.epochs)
        self.loader_gen.manual_seed(t.seed * 7919 + self.epoch)
        it = iter_with_workers(self.train_loader)
        for _ in range(self.step_in_epoch * t.accumulate):  # replay to the resume point
            next(it)
        if self._pending_rng is not None:
            set_rng_state(self._pending_rng)
            self._pending_rng = None
        todo = min(self.steps_per_epoch - self.step_in_epoch, self.total_steps - self.global_step)
        bar = progress(total=todo, desc=f"epoch {self.epoch + 1}/{t.epochs}",
                       enabled=t.progress and self.dist.is_main, unit="step")
        window_loss, window_n, tic = 0.0, 0, time.perf_counter()
        samples = 0
        for _ in range(todo):
            terms = self._train_step(it)
            samples += self.cfg.data.batch_size * t.accumulate * self.dist.world_size
            window_loss += terms["loss"]
            window_n += 1
            self.step_in_epoch += 1
            self.global_step += 1
            elapsed = time.perf_counter() - tic
            bar.set_postfix(loss=f"{terms['loss']:.4f}", lr=f"{terms['lr']:.2e}",
                            samples_s=f"{samples / max(elapsed, 1e-9):.1f}", refresh=False)
            bar.update(1)
            if self.global_step % t.log_every == 0:
                loss = all_reduce_mean(torch.tensor(window_loss / window_n), self.dist).item()
                self.logger.log({"split": "train", "epoch": self.epoch, "step": self.global_step,
                                 **terms, "loss": loss,
                                 "samples_per_s": samples / max(elapsed, 1e-9)})
                window_loss, window_n = 0.0, 0
            if t.ckpt_every and self.global_step % t.ckpt_every == 0:
                self.save("last.pt")
            for cb in self.callbacks:
                cb(self)
            if self._should_stop():
                self.save("last.pt")
                bar.close()
                raise Interrupted(f"interrupted by signal {self._stop_signal}: checkpoint saved to "
                                  f"{self.ckpt_dir / 'last.pt'} at step {self.global_step}; "
                                  "run the same command again (or --resume) to continue")
        bar.close()
        if self.step_in_epoch >= self.steps_per_epoch:
            self.epoch += 1
            self.step_in_epoch = 0

    def _train_step(self, it) -> dict:
        t = self.cfg.train
        lr = self.schedule.apply(self.optimizer, self.global_step)
        total = 0.0
        terms: dict[str, float] = {}
        for micro in range(t.accumulate):
            batch = move_batch(next(it), self.device, t.channels_last)
            sync = micro == t.accumulate - 1
            ctx = self.model.no_sync() if (self.dist.enabled and not sync) else nullcontext()
            with ctx:
                with self._autocast():
                    out = self.model(batch)
                losses = out.get("losses") or {}
                if not losses:
                    raise MotionscopeError(f"model {type(unwrap(self.model)).__name__} returned no "
                                           "losses (does the batch carry a 'label'?)")
                loss = sum(v.float() for v in losses.values())
                if not torch.isfinite(loss):
                    raise MotionscopeError(f"loss is {loss.item()} at step {self.global_step} "
                                           f"(terms: { {k: v.item() for k, v in losses.items()} })")
                self.scaler.scale(loss / t.accumulate).backward()
            total += loss.item() / t.accumulate
            for k, v in losses.items():
                terms[k] = terms.get(k, 0.0) + v.item() / t.accumulate
        if t.clip_grad:
            self.scaler.unscale_(self.optimizer)
            terms["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(
                self.raw_model.parameters(), t.clip_grad))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return {"loss": total, "lr": lr, **terms}

    # ------------------------------------------------------------------ evaluation
    def _eval_loader(self, split: str) -> DataLoader:
        ds = self.datasets[split]
        bs = self.cfg.data.eval_batch_size or self.cfg.data.batch_size
        return DataLoader(ds, batch_size=bs, num_workers=self.cfg.data.num_workers,
                          worker_init_fn=dataloader_worker_init,
                          sampler=ShardedEvalSampler(len(ds), self.dist.world_size, self.dist.rank))

    @property
    def classifies(self) -> bool:
        """Tasks that predict classes get accuracy metrics; others (pre-training) losses only."""
        return self.cfg.task != "pretrain"

    @torch.no_grad()
    def evaluate_losses(self, split: str) -> dict:
        """Mean of each loss term over ``split`` (models that only define losses)."""
        model = unwrap(self.model)
        model.eval()
        sums: dict[str, float] = {}
        n = 0
        loader = self._eval_loader(split)
        for batch in progress(iter_with_workers(loader), total=len(loader), desc=split,
                              enabled=self.cfg.train.progress and self.dist.is_main, unit="batch"):
            batch = move_batch(batch, self.device)
            with self._autocast():
                losses = model(batch)["losses"]
            b = next(iter(v for v in batch.values() if isinstance(v, torch.Tensor))).shape[0]
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v) * b
            n += b
        totals = torch.tensor([*sums.values(), float(n)], dtype=torch.float64)
        if self.dist.enabled:
            import torch.distributed as tdist

            tdist.all_reduce(totals)
        out = {k: float(v / totals[-1]) for k, v in zip(sums, totals[:-1])}
        out["loss"] = sum(out.values())
        model.train()
        return out

    def evaluate(self, split: str) -> tuple[dict, dict]:
        """Classification metrics of ``split`` with the current weights (all ranks take part)."""
        if not self.classifies:
            return {}, self.evaluate_losses(split)
        model = unwrap(self.model)
        res = predict_loader(model, self._eval_loader(split), self.device, self.dist,
                             views=self.cfg.eval.views, amp_dtype=self.amp_dtype, desc=split,
                             show_progress=self.cfg.train.progress)
        metrics = classification_metrics(res["label"], res["prob"], len(self.classes),
                                         self.cfg.eval.topk)
        metrics["loss"] = res["loss_sum"] / max(len(res["label"]), 1)
        return res, metrics

    def _is_better(self, metrics: dict) -> bool:
        key = self.cfg.train.select_metric if self.classifies else "loss"
        if self.best is None:
            return True
        if key == "loss":
            return metrics[key] < self.best[key]
        return metrics[key] > self.best[key]

    def _validate(self) -> dict:
        _, metrics = self.evaluate("val")
        scalars = {k: v for k, v in metrics.items() if k != "confusion"}
        self.logger.log({"split": "val", "epoch": self.epoch, "step": self.global_step, **scalars})
        if self.dist.is_main:
            print(f"epoch {self.epoch}: val " + " ".join(
                f"{k}={v:.4f}" for k, v in scalars.items() if isinstance(v, float)))
        if self._is_better(metrics):
            self.best = {**scalars, "epoch": self.epoch, "step": self.global_step}
            self.save("best.pt")
        return metrics

    def _final_test(self) -> dict:
        split = "test" if self.datasets.get("test") is not None else None
        if split is None:
            return {}
        best = self.ckpt_dir / "best.pt"
        if best.is_file():  # chosen on validation only; the test split is looked at once
            state = load_checkpoint(best)
            unwrap(self.model).load_state_dict(state["model"])
        res, metrics = self.evaluate(split)
        out = {}
        if not self.classifies:
            self.logger.log({"split": split, "epoch": self.epoch, "step": self.global_step,
                             **metrics})
            if self.dist.is_main:
                atomic_write_text(self.run_dir / "results.json", json.dumps(
                    {"best_val": self.best, "test": metrics, "global_step": self.global_step},
                    indent=2, default=float))
            return {"test": metrics}
        if self.dist.is_main:
            names = getattr(self.datasets[split], "names", None)
            paths = write_eval_outputs(self.run_dir, res, metrics, self.classes, names, split,
                                       self.cfg.eval.plots)
            scalars = {k: v for k, v in metrics.items() if k != "confusion"}
            self.logger.log({"split": split, "epoch": self.epoch, "step": self.global_step,
                             **scalars})
            out = {"test": scalars, "files": {k: str(v) for k, v in paths.items()}}
            atomic_write_text(self.run_dir / "results.json", json.dumps(
                {"best_val": self.best, "test": scalars, "global_step": self.global_step},
                indent=2, default=float))
        return out


__all__ = ["Trainer", "Interrupted", "seed_everything", "resolve_device", "amp_dtype", "unwrap"]
