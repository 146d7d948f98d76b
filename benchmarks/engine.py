"""Trainer overhead: steps/s of ``Trainer.fit`` against a bare hand-written loop.

Same tiny model, same data, same optimiser, same process; the runs alternate and the medians
of several repetitions are compared. Goal: ratio (trainer / bare) >= 0.95. Steps are timed in
process CPU time (one torch thread), which other jobs on a shared machine do not inflate; the
Trainer's run includes its progress bar, metric lines, TensorBoard and epoch-end checkpoints.

    python benchmarks/engine.py [--steps 60] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, write_result  # noqa: E402

from motionscope.config import load_config  # noqa: E402
from motionscope.data.samplers import ShardedBatchSampler  # noqa: E402
from motionscope.engine.optim import build_optimizer  # noqa: E402
from motionscope.engine.trainer import Trainer, seed_everything  # noqa: E402
from motionscope.tasks.runs import build_datasets, build_model  # noqa: E402


def config(steps: int):
    return load_config("baseline_skeleton", [
        "data.args.num_samples=512", "data.batch_size=32", "model.args.dim=64",
        f"train.max_steps={steps}", "train.epochs=100", "train.progress=true",
        "train.tensorboard=true", "train.log_every=10", "data.val_split=null",
        "data.test_split=null", "sched.warmup_epochs=0"])


def bare_loop(cfg, datasets, steps: int) -> float:
    seed_everything(0)
    model = build_model(cfg)
    opt = build_optimizer(model, cfg.optim, cfg.optim.lr)
    sampler = ShardedBatchSampler(len(datasets["train"]), cfg.data.batch_size, seed=0)
    loader = DataLoader(datasets["train"], batch_sampler=sampler)
    model.train()
    t0 = time.process_time()
    done, epoch = 0, 0
    while done < steps:
        sampler.set_epoch(epoch)
        for batch in loader:
            out = model(batch)
            loss = sum(out["losses"].values())
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            done += 1
            if done == steps:
                break
        epoch += 1
    return steps / (time.process_time() - t0)


def trainer_run(cfg, datasets, steps: int) -> float:
    seed_everything(0)
    model = build_model(cfg)
    with tempfile.TemporaryDirectory() as d:
        trainer = Trainer(cfg, model, datasets, Path(d))
        t0 = time.process_time()
        trainer.fit()
        return steps / (time.process_time() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = config(args.steps)
    datasets = build_datasets(cfg)
    bare_loop(cfg, datasets, 5)  # warm-up
    bare, ours = [], []
    for _ in range(args.repeats):
        bare.append(bare_loop(cfg, datasets, args.steps))
        ours.append(trainer_run(cfg, datasets, args.steps))
    ratio = median(ours) / median(bare)
    write_result("engine", {
        "what": "steps per CPU-second, Trainer.fit vs bare loop "
                "(skeleton_transformer dim 64, batch 32, 1 thread)",
        "steps": args.steps, "repeats": args.repeats,
        "bare_steps_per_s": bare, "trainer_steps_per_s": ours,
        "median_bare": median(bare), "median_trainer": median(ours),
        "ratio_trainer_over_bare": ratio, "goal": ">= 0.95", "pass": ratio >= 0.95})


if __name__ == "__main__":
    main()
