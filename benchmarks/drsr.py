"""DRSR data side: FRP heat maps vectorised vs the official per-window loop, the RGB-D loader,
training clips/s and peak memory per modality on CPU (the world presets), FLOPs.

    python benchmarks/drsr.py            # -> benchmarks/results/drsr.json

Ratios are measured in the same process. Peak memory is the resident set of a fresh child
process per modality (``ru_maxrss``), so one modality's peak does not hide another's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, timed, write_result  # noqa: E402

from motionscope.motion.frp import dynamic_heatmaps, dynamic_heatmaps_reference  # noqa: E402


def _clip(t: int, s: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clip = rng.integers(0, 60, size=(t, s, s, 3)).astype(np.uint8)
    for f in range(t):
        x0 = (3 * f) % (s - s // 4)
        clip[f, s // 3:s // 3 + s // 4, x0:x0 + s // 4] = 220
    return clip


def frp_speed(size: int, frames: int = 64, window: int = 10, batch: int = 4, repeats: int = 3) -> dict:
    """Heat maps per second: the official loop (one clip at a time) vs one vectorised call."""
    clips = np.stack([_clip(frames, size, i) for i in range(batch)])
    x = torch.from_numpy(clips)
    vec = median(timed(lambda: dynamic_heatmaps(x, window), repeats=repeats)) / batch
    ref = median(timed(lambda: dynamic_heatmaps_reference(clips[0], window), repeats=max(1, repeats - 1)))
    ours = dynamic_heatmaps(x[:1], window)[0].numpy()
    diff = float(np.abs(ours - dynamic_heatmaps_reference(clips[0], window)).max())
    return {"clip": f"{frames} x {size} x {size} x 3", "window": window,
            "maps_per_s_vectorised": frames / vec, "maps_per_s_official_loop": frames / ref,
            "ms_per_clip_vectorised": 1e3 * vec, "ms_per_clip_official_loop": 1e3 * ref,
            "speedup": ref / vec, "max_abs_diff": diff}


_CHILD = r"""
import json, resource, sys, time, torch
from motionscope.config import load_config
from motionscope.tasks.runs import build_model, build_split
torch.set_num_threads(int(sys.argv[3]))
torch.manual_seed(0)
cfg = load_config(sys.argv[1], json.loads(sys.argv[2]))
ds = build_split(cfg, "train", training=True)
model = build_model(cfg, pretrained=False).train()
model.set_epoch(5, cfg.train.epochs)
opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
bs, steps = cfg.data.batch_size, int(sys.argv[4])
def batch(k):
    items = [ds[(k * bs + i) % len(ds)] for i in range(bs)]
    return torch.utils.data.default_collate(items)
t0 = time.perf_counter(); items = [batch(k) for k in range(steps + 1)]; load = time.perf_counter() - t0
def step(b):
    out = model(b); loss = sum(out["losses"].values()); opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0); opt.step()
step(items[0])
t0 = time.perf_counter()
for b in items[1:]:
    step(b)
train = time.perf_counter() - t0
print(json.dumps({"clips_per_s_train_step": steps * bs / train, "clips_per_s_loader": (steps + 1) * bs / load,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "batch_size": bs, "steps": steps,
                  "params_m": sum(p.numel() for p in model.parameters()) / 1e6}))
"""


def training_speed(preset: str, overrides: list[str], threads: int, steps: int) -> dict:
    """One modality's loader and training-step throughput and peak RSS, in a fresh process."""
    env = {**os.environ, "MOTIONSCOPE_NO_PROGRESS": "1"}
    out = subprocess.run([sys.executable, "-c", _CHILD, preset, json.dumps(overrides), str(threads),
                          str(steps)], capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        raise RuntimeError(f"{preset}: {out.stderr[-2000:]}")
    return {"preset": preset, "overrides": overrides, **json.loads(out.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--out", default=None)
    ap.add_argument("--skip-training", action="store_true", help="FRP and FLOPs only")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.time()
    result: dict = {"frp": [frp_speed(224, batch=2, repeats=2), frp_speed(112),
                            frp_speed(32, batch=8, window=4)]}
    # the fusion stream checkpoints are not needed for speed: built without them
    fusion = ["model.args.rgb_checkpoint=null", "model.args.depth_checkpoint=null"]
    result["training_cpu"] = "skipped (--skip-training)" if a.skip_training else [
        training_speed("drsr_world_rgb", [], a.threads, a.steps),
        training_speed("drsr_world_depth", [], a.threads, a.steps),
        training_speed("drsr_world_fusion", fusion, a.threads, a.steps)]
    try:
        from drsr_model import count_flops  # by the model helper: benchmarks/drsr_model.py

        result["flops"] = [count_flops("drsr", 224),
                           count_flops("drsr", 32) | {"note": "world input size, official DTN"}]
    except ImportError as e:  # pragma: no cover - the other benchmark is absent
        result["flops"] = f"benchmarks/drsr_model.py not importable ({e})"
    result["gpu"] = "not measured: no GPU was lent to this session" if not torch.cuda.is_available() else None
    result["seconds"] = round(time.time() - t0, 1)
    write_result("drsr", result, a.out)


if __name__ == "__main__":
    main()
