"""DRSR model cost: FLOPs per 64-frame clip, training speed and peak memory.

- FLOPs (``torch.utils.flop_counter``, 1 MAC = 2 FLOPs) of one DSNNet forward on a 64 x 224^2
  clip, counted on the meta device (no compute), beside the spec's 146.3 GFLOPs = 73.2 GMACs;
  split into the stem's convolutions and the rest.
- Training steps (forward, backward, SGD step) of the unimodal model at the official size on
  random clips and heat maps: clips/s (median of repeats) and peak memory. On CPU: fp32 with the
  exact k-NN path (what the official code computes) against the SDPA path, batch 1 and a smaller
  frame size by default (``--size``; 224 is the official and takes ~10 s a step on 2 cores). On
  CUDA (``--device cuda``): bf16 autocast + ``scaled_dot_product_attention`` against the naive
  fp32 exact path, ``torch.cuda.max_memory_allocated`` per mode; the target is >= 1.5x.
  The two modes alternate per repeat in one process, so a busy machine slows both alike.

    python benchmarks/drsr_model.py                       # CPU, batch 1, 128^2, a few minutes
    python benchmarks/drsr_model.py --device cuda --batch-size 8 --size 224
    python benchmarks/drsr_model.py --fusion              # also the fusion network

benchmarks/drsr.py imports :func:`count_flops` and :func:`training_speed` from here.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, write_result  # noqa: E402

from motionscope.models import create_model  # noqa: E402
from motionscope.models.drsr import CrossFusionNet  # noqa: E402

SPEC_GMACS = 73.2
SPEC_GFLOPS = 146.3
TARGET_SPEEDUP_CUDA = 1.5
MODES = {"exact_fp32": ("exact", False), "sdpa": ("sdpa", False), "sdpa_bf16": ("sdpa", True)}


def _batch(model: torch.nn.Module, batch_size: int, size: int, device, labelled: bool = True) -> dict:
    net = model.Modalit_rgb if isinstance(model, CrossFusionNet) else model
    t = net.num_frames
    g = torch.Generator().manual_seed(0)
    clip = (batch_size, net.in_channels, t, size, size)
    heat = (batch_size, 1, t, size, size)
    b = {"video": torch.randn(clip, generator=g), "heat": torch.rand(heat, generator=g)}
    if isinstance(model, CrossFusionNet):
        b.update({"depth": torch.randn(clip, generator=g), "depth_heat": torch.rand(heat, generator=g)})
    if labelled:
        b["label"] = torch.randint(0, model.num_classes, (batch_size,), generator=g)
    return {k: v.to(device) for k, v in b.items()}


def count_flops(name: str = "drsr", size: int = 224, num_classes: int = 60) -> dict:
    """FLOPs of one forward of ``name`` on one clip at ``size``^2 (meta device, no compute)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = create_model(name, num_classes=num_classes).eval()
    batch = {k: v.to("meta") for k, v in _batch(model, 1, size, "cpu", labelled=False).items()}
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(batch)
    total = counter.get_total_flops()
    per_module = counter.get_flop_counts()
    stem = sum(sum(v.values()) for k, v in per_module.items()
               if k.count(".") == 1 and k.split(".")[-1].startswith(("Conv3d_", "Mixed_", "Modalit")))
    conv = sum(v.get(torch.ops.aten.convolution, 0) for k, v in per_module.items() if k == "Global")
    return {"model": name, "input": f"1 x 3 x 64 x {size} x {size}", "gflops": total / 1e9,
            "gmacs": total / 2e9, "conv_gflops": conv / 1e9, "stem_gflops": stem / 1e9 if stem else None,
            "spec_gmacs": SPEC_GMACS if name == "drsr" and size == 224 else None,
            "ratio_to_spec": (total / 2e9) / SPEC_GMACS if name == "drsr" and size == 224 else None}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def training_speed(name: str = "drsr", device: str = "cpu", batch_size: int = 1, size: int = 128,
                   repeats: int = 3, modes: tuple[str, ...] | None = None) -> dict:
    """Median clips/s of training steps per mode (see module docstring) and peak memory."""
    dev = torch.device(device)
    modes = modes or (("exact_fp32", "sdpa_bf16") if dev.type == "cuda" else ("exact_fp32", "sdpa"))
    torch.manual_seed(0)
    model = create_model(name, num_classes=60).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    batch = _batch(model, batch_size, size, dev)
    times: dict[str, list[float]] = {m: [] for m in modes}
    peak: dict[str, float] = {}

    def step(mode: str) -> float:
        path, bf16 = MODES[mode]
        for s in ([model.Modalit_rgb, model.Modalit_depth] if isinstance(model, CrossFusionNet) else [model]):
            s.attention = path
        ctx = torch.autocast(dev.type, dtype=torch.bfloat16) if bf16 else nullcontext()
        if dev.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        with ctx:
            out = model(batch)
        loss = sum(v.float() for v in out["losses"].values())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if dev.type == "cuda":
            torch.cuda.synchronize()
            peak[mode] = max(peak.get(mode, 0.0), torch.cuda.max_memory_allocated() / 2**20)
        return time.perf_counter() - t0

    for m in modes:  # warm-up
        step(m)
    for r in range(repeats):
        for m in (modes if r % 2 == 0 else modes[::-1]):
            times[m].append(step(m))
    res = {"model": name, "device": device, "batch_size": batch_size, "frames": 64, "size": size,
           "repeats": repeats,
           "modes": {m: {"step_s": median(times[m]), "clips_per_s": batch_size / median(times[m]),
                         **({"peak_mem_mb": peak[m]} if m in peak else {})} for m in modes}}
    if dev.type != "cuda":
        res["peak_rss_mb_process"] = _peak_rss_mb()
    base, fast = modes[0], modes[-1]
    res["speedup"] = res["modes"][fast]["clips_per_s"] / res["modes"][base]["clips_per_s"]
    res["speedup_of"] = f"{fast} vs {base}"
    if dev.type == "cuda":
        res["target_speedup"] = TARGET_SPEEDUP_CUDA
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--size", type=int, default=None, help="frame size (default 128 on CPU, 224 on GPU)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fusion", action="store_true", help="also time the fusion network")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    size = a.size or (224 if a.device.startswith("cuda") else 128)
    result = {"flops": [count_flops("drsr", 224), count_flops("drsr_fusion", 224)],
              "training": [training_speed("drsr", a.device, a.batch_size, size, a.repeats)]}
    if a.fusion:
        result["training"].append(training_speed("drsr_fusion", a.device, a.batch_size, size, a.repeats))
    name = "drsr_model" if a.device == "cpu" else f"drsr_model_{a.device.split(':')[0]}"
    write_result(name, result, a.out)


if __name__ == "__main__":
    main()
