"""B-KinD model: training pairs/s and peak memory, fp32 vs bf16 autocast + channels_last.

One training step is the official one after the curriculum (the full ResNet-50 model: five
encoder/head passes, the decoder, the SSIM target, the reconstruction + perceptual +
rotation + separation losses, SGD lr 1e-3, momentum 0.9, weight decay 1e-4). The two settings'
steps are interleaved in one process and reported as medians with their ratio; peak memory of
each setting comes from its own subprocess (CPU: peak RSS, VmHWM; CUDA: max_memory_allocated).

    python benchmarks/bkind_model.py                               # CPU, 128 px, batch 2 -> JSON
    python benchmarks/bkind_model.py --device cuda --size 256 --batch 16 \\
        --out benchmarks/results/bkind_model_cuda.json

On CUDA, TF32 is left off for the fp32 setting (the fidelity tolerances assume it), so the
ratio is bf16 + channels_last against true fp32. ``--perceptual random_vgg`` includes the cost of
a VGG19 loss network (as with ImageNet VGG weights); the default is the no-file fallback.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from motionscope.fsutil import atomic_write_text
from motionscope.models import create_model

SETTINGS = {"fp32": (False, False), "bf16_channels_last": (True, True)}
RESULT = Path(__file__).resolve().parent / "results" / "bkind_model.json"


def _vmhwm_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def setup(setting: str, device: str, batch: int, size: int, perceptual: str, tiny: bool):
    """Model, optimiser, a batch of smooth random frame pairs and one training-step closure."""
    amp, channels_last = SETTINGS[setting]
    torch.manual_seed(0)
    kw = {"encoder_layers": (1, 1, 1, 1), "encoder_base_width": 8} if tiny else {}
    model = create_model("bkind", image_size=size, curriculum=0, perceptual=perceptual, **kw)
    model = model.to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.loss_network()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3,
                          momentum=0.9, weight_decay=1e-4)
    g = torch.Generator().manual_seed(1)
    base = torch.nn.functional.interpolate(torch.randn(batch, 3, size // 8, size // 8, generator=g),
                                           size=(size, size), mode="bilinear")
    batch_d = {"image0": base.to(device), "image1": torch.roll(base, (4, -3), (2, 3)).to(device)}
    if channels_last:
        batch_d = {k: v.contiguous(memory_format=torch.channels_last) for k, v in batch_d.items()}
    dtype = torch.bfloat16

    def step() -> None:
        with torch.autocast(device, dtype=dtype, enabled=amp):
            losses = model(batch_d)["losses"]
        loss = sum(v.float() for v in losses.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return step


def peak_memory(args, setting: str) -> dict:
    """Peak memory of two training steps of one setting (this runs in a fresh process)."""
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    step = setup(setting, args.device, args.batch, args.size, args.perceptual, args.tiny)
    step()
    step()
    if args.device == "cuda":
        return {"peak_mem_mib": torch.cuda.max_memory_allocated() / 2**20}
    return {"peak_rss_mib": _vmhwm_mib()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--perceptual", default="pyramid")
    ap.add_argument("--tiny", action="store_true", help="the TINY encoder instead of ResNet-50")
    ap.add_argument("--out", default=str(RESULT))
    ap.add_argument("--memory-of", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if args.memory_of:
        print(json.dumps(peak_memory(args, args.memory_of)))
        return
    steps = {s: setup(s, args.device, args.batch, args.size, args.perceptual, args.tiny)
             for s in SETTINGS}
    for s in SETTINGS:  # warm-up
        steps[s]()
    times: dict[str, list[float]] = {s: [] for s in SETTINGS}
    for _ in range(args.reps):
        for s in SETTINGS:
            t0 = time.perf_counter()
            steps[s]()
            times[s].append(time.perf_counter() - t0)
    del steps
    out: dict = {}
    for s in SETTINGS:
        med = statistics.median(times[s])
        mem = subprocess.run([sys.executable, __file__, "--memory-of", s, "--device", args.device,
                              "--size", str(args.size), "--batch", str(args.batch),
                              "--perceptual", args.perceptual] + (["--tiny"] if args.tiny else []),
                             capture_output=True, text=True, check=True, env=os.environ.copy())
        out[s] = {"step_s_median": med, "step_s": times[s], "pairs_per_s": args.batch / med,
                  **json.loads(mem.stdout.strip().splitlines()[-1])}
    result = {
        "benchmark": "bkind_model",
        "what": "one official post-curriculum training step (5 passes, decoder, SSIM target, "
                "all loss terms, SGD), pairs/s = batch / median step time",
        "date": time.strftime("%Y-%m-%d"), "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else (
            os.uname().machine + f", {torch.get_num_threads()} threads"),
        "image_size": args.size, "batch": args.batch, "reps": args.reps,
        "encoder": "tiny (1,1,1,1) width 8" if args.tiny else "ResNet-50",
        "perceptual": args.perceptual, "settings": out,
        "speedup_bf16_channels_last_vs_fp32": out["fp32"]["step_s_median"]
        / out["bf16_channels_last"]["step_s_median"],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.out), json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
