"""MIE-Net training speed, peak memory and FLOPs per clip.

Training clips/s (median over timed SGD steps with the official recipe: per-group multipliers,
momentum 0.9, weight decay 1e-4, grad-norm clip 20) in two settings measured in the same run,
their steps interleaved: fp32 NCHW, and bf16 autocast + channels_last. Peak memory of each
setting comes from its own subprocess (CPU: peak RSS; CUDA: ``max_memory_allocated``). FLOPs
per clip come from ``torch.utils.flop_counter.FlopCounterMode`` on a meta-device forward (no
compute), printed beside the spec's estimate (spec section 12: ~4.5 GMAC per segment).

    python benchmarks/mienet.py                       # CPU, batch 2, T=3, 224 px -> JSON
    python benchmarks/mienet.py --device cuda --batch 8 --out benchmarks/results/mienet_cuda.json
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
from pathlib import Path

import torch

from motionscope.fsutil import atomic_write_text
from motionscope.models import create_model

SETTINGS = {"fp32_nchw": (False, False), "bf16_channels_last": (True, True)}
SPEC_GMAC_PER_CLIP = {3: 13.4, 8: 36.0}  # spec section 12, MIE-Net, 224 px, single view


def _proc_status_mib(field: str) -> float:
    """VmRSS / VmHWM of this process. VmHWM (peak RSS) belongs to this process image, unlike
    ``ru_maxrss``, which Linux carries over from the parent across fork + exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _setup(model_name: str, setting: str, device: str, batch: int, segments: int, size: int,
           num_classes: int = 10):
    """Model, SGD with the official groups, a random batch and one training-step closure."""
    amp, channels_last = SETTINGS[setting]
    torch.manual_seed(0)
    model = create_model(model_name, num_classes=num_classes, num_segments=segments,
                         dropout=0.6).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    groups = model.param_groups(None)
    for g in groups:
        g["lr"] = 0.0025 * g.pop("lr_scale")
        g["weight_decay"] = 1e-4 * g.pop("wd_scale")
        g.pop("names", None)
    opt = torch.optim.SGD(groups, lr=0.0025, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    video = torch.randn(batch, 3, segments * model.data_length, size, size, generator=g)
    label = torch.randint(0, num_classes, (batch,), generator=g)
    video, label = video.to(device), label.to(device)
    model.train()

    def step() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=amp):
            loss = model({"video": video, "label": label})["losses"]["ce"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 20.0)
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        if not torch.isfinite(loss):
            raise RuntimeError(f"{setting}: non-finite loss")
        return time.perf_counter() - t0

    return step


def peak_memory(model_name: str, setting: str, device: str, batch: int, segments: int,
                size: int) -> dict:
    """Peak memory of two training steps of one setting (run in a fresh process)."""
    step = _setup(model_name, setting, device, batch, segments, size)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    before = _proc_status_mib("VmRSS")
    step(), step()
    if device == "cuda":
        return {"peak_mem_mib": torch.cuda.max_memory_allocated() / 2**20}
    peak = _proc_status_mib("VmHWM")
    return {"peak_rss_mib": peak, "rss_after_build_mib": before,
            "train_peak_extra_mib": peak - before}


def train_speed(model_name: str, device: str, batch: int, segments: int, size: int,
                steps: int, warmup: int) -> dict:
    """Median step time per setting, the settings' steps interleaved so that a change of load
    on a shared machine hits both alike."""
    steppers = {s: _setup(model_name, s, device, batch, segments, size) for s in SETTINGS}
    times: dict[str, list[float]] = {s: [] for s in SETTINGS}
    for i in range(warmup + steps):
        for s, step in steppers.items():
            dt = step()
            if i >= warmup:
                times[s].append(dt)
    out = {}
    for s, ts in times.items():
        med = statistics.median(ts)
        out[s] = {"step_s_median": med, "step_s_all": ts, "clips_per_s": batch / med}
    return out


def flops_per_clip(model_name: str, segments: int, size: int, num_classes: int = 10) -> dict:
    """FLOPs of one clip's forward, counted on the meta device; by top-level module too."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = create_model(model_name, num_classes=num_classes, num_segments=segments)
        frames = segments * getattr(model, "data_length", 1)
        video = torch.empty(1, 3, frames, size, size)
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model({"video": video})
    by_module = {}
    for name, counts in counter.get_flop_counts().items():
        if name.count(".") == 1:  # MIENet.PA, MIENet.base_model, MIENet.new_fc
            by_module[name.split(".", 1)[1]] = sum(counts.values()) / 2e9
    gmac = counter.get_total_flops() / 2e9
    return {"model": model_name, "segments": segments, "size": size, "gmac_per_clip": gmac,
            "gflops_per_clip": 2 * gmac, "gmac_by_module": by_module,
            "spec_estimate_gmac": SPEC_GMAC_PER_CLIP.get(segments)
            if model_name == "mienet" and size == 224 else None}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="mienet")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--segments", type=int, default=3)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: stable on a shared machine; OpenMP spin-waits "
                   "make 2 threads erratic when other jobs hold the cores)")
    p.add_argument("--out", default=None, help="JSON path (default results/mienet_<dev>.json)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.worker:  # peak memory of one setting, in this fresh process
        res = peak_memory(a.model, a.worker, a.device, a.batch, a.segments, a.size)
        print("RESULT " + json.dumps(res))
        return
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device here")
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    runs = train_speed(a.model, a.device, a.batch, a.segments, a.size, a.steps, a.warmup)
    print(f"timed {a.warmup}+{a.steps} interleaved steps per setting in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    for setting in SETTINGS:
        cmd = [sys.executable, __file__, "--worker", setting] + [
            f"--{k}={v}" for k, v in vars(a).items() if k not in ("worker", "out")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if proc.returncode or line is None:
            sys.exit(f"{setting} failed:\n{proc.stderr[-3000:]}")
        runs[setting].update(json.loads(line[len("RESULT "):]))
        r = runs[setting]
        mem = r.get("peak_mem_mib", r.get("peak_rss_mib"))
        print(f"{setting:>20}: {r['clips_per_s']:.3f} clips/s (median step "
              f"{r['step_s_median']:.2f} s), peak memory {mem:.0f} MiB", flush=True)
    flops = [flops_per_clip(m, t, 224) for m in ("mienet", "tsn_dptam", "tsn_r50", "tsm_r50")
             for t in (3, 8)]
    for f in flops:
        est = f["spec_estimate_gmac"]
        print(f"{f['model']:>10} T={f['segments']}: {f['gmac_per_clip']:.2f} GMAC/clip"
              + (f" (spec estimate {est})" if est else ""))
    result = {
        "benchmark": "mienet training step", "model": a.model, "device": a.device,
        "cpu": platform.processor() or platform.machine(), "threads": a.threads,
        "torch": torch.__version__, "batch": a.batch, "segments": a.segments, "size": a.size,
        "frames_per_clip": a.segments * (4 if a.model == "mienet" else 1),
        "load_average_at_start": load_start, "load_average_at_end": os.getloadavg(),
        "steps": a.steps, "warmup": a.warmup, "timing": "settings interleaved step by step",
        "runs": runs,
        "speedup_bf16_channels_last": runs["bf16_channels_last"]["clips_per_s"]
        / runs["fp32_nchw"]["clips_per_s"],
        "flops": flops,
    }
    print(f"speed-up bf16+channels_last vs fp32 NCHW: {result['speedup_bf16_channels_last']:.2f}x")
    out = Path(a.out or Path(__file__).parent / "results" / f"mienet_{a.device}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
