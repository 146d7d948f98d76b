"""MAMP training speed and memory at the paper's size, fused (sdpa) vs explicit (naive) attention.

Measures pre-training (encoder 8 x 256 x 8 heads on the 74 kept tokens, decoder 3 blocks on all
750) and fine-tuning (encoder on all 750 tokens, drop-path 0.3, fine-tune head) training steps:
forward, backward and AdamW step on batches of 120 frames x 25 joints x 2 persons.

The two attention modes run interleaved in one process (same model, alternating order per
repeat) so that a shared, busy machine slows both alike; the reported throughput is the median
of the repeats. Peak memory: on GPU ``torch.cuda.max_memory_allocated`` per mode; on CPU each
mode runs in a fresh subprocess and reports its peak resident set (VmHWM) and how much a training
step added to it. Outputs of both modes are compared on the same inputs and masking noise.

    python benchmarks/mamp.py                      # CPU, small batch, ~2-3 minutes on 2 cores
    python benchmarks/mamp.py --device cuda        # GPU, bf16 autocast, official per-GPU batches
    python benchmarks/mamp.py --out benchmarks/results/mamp_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from motionscope.fsutil import atomic_write_text
from motionscope.models.mamp import MAMP, MAMPClassifier, set_attention_mode

PAPER = dict(dim_feat=256, depth=8, num_heads=8, mlp_ratio=4, num_frames=120, num_joints=25,
             t_patch_size=4)
MODES = ("sdpa", "naive")
TARGET_SPEEDUP = {"cpu": 1.1, "cuda": 1.5}


def build(task: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if task == "pretrain":
        return MAMP(**PAPER, decoder_dim_feat=256, decoder_depth=3, mask_ratio=0.9,
                    motion_aware_tau=0.8)
    return MAMPClassifier(**PAPER, num_classes=60, protocol="finetune", drop_path_rate=0.3,
                          label_smoothing=0.1)


def make_batch(batch_size: int, device: torch.device) -> dict:
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(batch_size, 3, 120, 25, 2, generator=g).cumsum(2) * 0.02).to(device)
    return {"skeleton": x, "label": torch.randint(0, 60, (batch_size,), generator=g).to(device)}


class Trainer:
    """One model, one optimiser, one batch: a training step in either attention mode."""

    def __init__(self, task: str, batch_size: int, device: torch.device, amp: bool):
        self.device, self.amp, self.batch_size = device, amp, batch_size
        self.model = build(task).to(device).train()
        fused = {"fused": True} if device.type == "cuda" else {}
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.05, **fused)
        self.batch = make_batch(batch_size, device)

    def autocast(self):
        if not self.amp:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def steps(self, mode: str, n: int) -> tuple[float, float]:
        """Run ``n`` training steps in ``mode``; returns samples per wall and per CPU second."""
        set_attention_mode(self.model, mode)
        self.sync()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            with self.autocast():
                out = self.model(self.batch)
                loss = sum(out["losses"].values())
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        self.sync()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return n * self.batch_size / wall, n * self.batch_size / max(cpu, 1e-9)


def vm_hwm_mib() -> float | None:
    """Peak resident set of this process (Linux VmHWM), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def memory_worker(task: str, mode: str, batch_size: int, amp: bool) -> dict:
    """CPU peak memory of one mode, measured in this (fresh) process."""
    tr = Trainer(task, batch_size, torch.device("cpu"), amp)
    before = vm_hwm_mib()
    tr.steps(mode, 1)
    after = vm_hwm_mib()
    return {"peak_rss_mib": after, "step_added_mib": None if before is None else after - before}


def cpu_memory(task: str, mode: str, batch_size: int, amp: bool) -> dict:
    cmd = [sys.executable, __file__, "--memory-worker", task, mode, "--batch", str(batch_size),
           "--threads", str(torch.get_num_threads())] + (["--amp"] if amp else [])
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode:
        return {"error": res.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def equal_outputs(task: str, device: torch.device) -> float:
    """Max |sdpa - naive| on the same batch (and masking noise), float32, eval mode."""
    model = build(task).to(device).eval()
    batch = make_batch(2, device)
    if task == "pretrain":
        batch["mask_noise"] = torch.rand(4, 750, generator=torch.Generator().manual_seed(2))
        batch["mask_noise"] = batch["mask_noise"].to(device)
    outs = {}
    with torch.no_grad():
        for mode in MODES:
            set_attention_mode(model, mode)
            out = model(batch)
            outs[mode] = out["pred"] if task == "pretrain" else out["logits"]
    return (outs["sdpa"].float() - outs["naive"].float()).abs().max().item()


def bench_task(task: str, batch_size: int, device: torch.device, amp: bool, warmup: int,
               repeats: int, steps: int, memory: bool) -> dict:
    tr = Trainer(task, batch_size, device, amp)
    for mode in MODES:
        tr.steps(mode, warmup)
    runs: dict[str, list[float]] = {m: [] for m in MODES}
    cpu_runs: dict[str, list[float]] = {m: [] for m in MODES}
    peak: dict[str, float] = {}
    for r in range(repeats):
        for mode in (MODES if r % 2 == 0 else MODES[::-1]):
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            wall, cpu = tr.steps(mode, steps)
            runs[mode].append(wall)
            cpu_runs[mode].append(cpu)
            if device.type == "cuda":
                peak[mode] = max(peak.get(mode, 0.0), torch.cuda.max_memory_allocated() / 2**20)
    out: dict = {"batch_size": batch_size}
    for mode in MODES:
        med = statistics.median(runs[mode])
        out[mode] = {"samples_per_s": round(med, 3), "runs": [round(v, 3) for v in runs[mode]],
                     "samples_per_cpu_s": round(statistics.median(cpu_runs[mode]), 3)}
        if device.type == "cuda":
            out[mode]["peak_memory_mib"] = round(peak[mode], 1)
        elif memory:
            out[mode].update(cpu_memory(task, mode, batch_size, amp))
    out["speedup_sdpa_over_naive"] = round(out["sdpa"]["samples_per_s"]
                                           / out["naive"]["samples_per_s"], 3)
    # the median of per-repeat ratios is robust to a repeat that a busy machine slowed down
    out["speedup_median_of_paired_ratios"] = round(statistics.median(
        a / b for a, b in zip(runs["sdpa"], runs["naive"])), 3)
    # samples per CPU-second of this process: the work each mode needs, nearly independent of
    # how much of the machine other processes take (wall time is the honest headline figure)
    out["speedup_cpu_time"] = round(out["sdpa"]["samples_per_cpu_s"]
                                    / out["naive"]["samples_per_cpu_s"], 3)
    out["max_abs_diff_sdpa_vs_naive"] = equal_outputs(task, device)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--batch-pretrain", type=int, default=None,
                    help="samples per step (default: 2 on CPU, 32 on GPU)")
    ap.add_argument("--batch-finetune", type=int, default=None,
                    help="samples per step (default: 2 on CPU, 24 on GPU)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps per mode")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per mode (median)")
    ap.add_argument("--steps", type=int, default=1, help="training steps per timed run")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--amp", action="store_true", help="bf16 autocast (always on for GPU)")
    ap.add_argument("--tasks", nargs="+", default=["pretrain", "finetune"],
                    choices=("pretrain", "finetune"))
    ap.add_argument("--no-memory", action="store_true", help="skip the CPU memory subprocesses")
    ap.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    ap.add_argument("--memory-worker", nargs=2, metavar=("TASK", "MODE"), help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_worker:
        print(json.dumps(memory_worker(*args.memory_worker, args.batch, args.amp)))
        return 0

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    amp = args.amp or gpu
    batches = {"pretrain": args.batch_pretrain or (32 if gpu else 2),
               "finetune": args.batch_finetune or (24 if gpu else 2)}
    t0 = time.perf_counter()
    result: dict = {
        "benchmark": "MAMP training throughput, sdpa vs naive attention",
        "model": {**PAPER, "decoder_depth_pretrain": 3, "persons": 2, "mask_ratio": 0.9},
        "device": torch.cuda.get_device_name(device) if gpu else platform.processor() or "cpu",
        "device_type": device.type,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "dtype": "bf16 autocast" if amp else "float32",
        "warmup": args.warmup, "repeats": args.repeats, "steps_per_run": args.steps,
        "load_average_before": list(os.getloadavg()),
        "tasks": {},
    }
    for task in args.tasks:
        result["tasks"][task] = bench_task(task, batches[task], device, amp, args.warmup,
                                           args.repeats, args.steps, not args.no_memory)
        print(task, json.dumps(result["tasks"][task]), flush=True)
    result["load_average_after"] = list(os.getloadavg())
    target = TARGET_SPEEDUP[device.type]
    result["target_speedup"] = target
    result["meets_target"] = all(t["speedup_sdpa_over_naive"] >= target
                                 for t in result["tasks"].values())
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out, text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
