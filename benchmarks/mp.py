"""MP training throughput and peak memory: the official-style naive path against the fast path.

Same model weights, same clips, same fused AdamW, same process; the paths alternate repeat by
repeat (so a busy shared machine slows both alike) and medians are reported.

* ``naive``: what the released code does — the frozen ViT run frame by frame in a Python loop,
  one cosine matrix per (scale, reference frame) in loops, explicit attention, float32, the
  frozen features recomputed every step.
* ``fast``: all frames through the ViT in batches, one shared soft matching for every scale
  and the invariant map, fused attention, bf16 autocast on the fusion blocks/projections/heads
  (matching and slots stay float32), features recomputed every step.
* ``fast_cached``: as ``fast``, from the cached soft-matched positions (computed once; the
  ViT and matching cost is reported separately as ``cache_build_s_per_clip``).
* ``fast_cached_fp32``: as ``fast_cached`` without autocast, to show what bf16 buys here.

Times are wall-clock medians and, because a shared machine's load varies, also process CPU
time medians (one torch thread by default on CPU, so CPU time is the work done). Peak memory is
measured in a fresh process per variant, over its first forward + backward
(activations, gradients, temporaries; not weights or optimiser state): the peak resident set
minus the resident set before it (Linux ``VmHWM``, reset through ``/proc/self/clear_refs``;
measured in the timing process, the C allocator's reuse of freed memory would hide it), or
``max_memory_allocated`` on CUDA. The CPU default is a scaled-down configuration (``--size small``):
the official one (ViT-B/16, 32 frames of 224²) takes ~2 minutes per clip for the naive path on
2 cores. Run ``--size official --device cuda`` on a GPU.

    python benchmarks/mp.py [--size small|official] [--batch 2] [--repeats 3] [--device cpu]
    python benchmarks/mp.py --flow-quality   # what the offline backbones do to the flows
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, median  # noqa: E402

from motionscope.fsutil import atomic_write_text  # noqa: E402
from motionscope.models.mp import MotionPerceiver  # noqa: E402

SIZES = {
    # ViT-S/16 backbone, 16 frames of 112² (7×7 patches), width 384, strides 1, 2, 4, 8
    "small": dict(num_frames=16, img_size=112, patch_size=16, dim=384, num_heads=8,
                  num_frames_list=(16, 8, 4, 2), backbone="vit_random",
                  backbone_kwargs={"embed_dim": 384, "depth": 12, "num_heads": 6}),
    # the paper's model: DINO ViT-B/16 (random weights: speed only), 32 frames of 224²
    "official": dict(backbone="vit_random"),
}
VARIANTS = ("naive", "fast", "fast_cached", "fast_cached_fp32")


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


class PeakMemory:
    """Peak extra memory of a block: CUDA allocator stats, or Linux peak RSS."""

    def __init__(self, device: torch.device):
        self.device, self.peak_mib = device, float("nan")

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        elif os.path.exists("/proc/self/clear_refs"):
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
            self.base = _rss_kib("VmRSS") * 1024
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak_mib = (torch.cuda.max_memory_allocated() - self.base) / 2**20
        elif hasattr(self, "base"):
            self.peak_mib = (_rss_kib("VmHWM") * 1024 - self.base) / 2**20


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def setup(size: str, batch: int, device: torch.device):
    """The model (seeded), its optimiser, a batch of correlated clips and its cached matches."""
    torch.manual_seed(0)
    model = MotionPerceiver(num_classes=10, **SIZES[size]).to(device).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4,
                            weight_decay=1e-4, fused=True)
    t = model.num_frames
    video = torch.randn(batch, 3, t, model.img_size, model.img_size, device=device)
    video = video.cumsum(2) / t ** 0.5  # temporally correlated frames: non-trivial matches
    labels = torch.arange(batch, device=device) % 10
    return model, opt, video, labels


def cache_matches(model, video):
    model.set_impl("fast")
    with torch.no_grad():
        return model.match(model.extract_tokens(video))


def forward_backward(model, variant, video, matches, labels, device) -> dict:
    """One training forward + backward of ``variant`` (no optimiser step)."""
    model.set_impl("naive" if variant == "naive" else "fast")
    batch = {"label": labels}
    batch.update({"matches": matches} if "cached" in variant else {"video": video})
    amp = variant in ("fast", "fast_cached")
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        out = model(batch)
    sum(out["losses"].values()).backward()
    return out


def peak_memory_child(size: str, batch: int, device: str, threads: int, variant: str) -> float:
    """In a fresh process: peak extra memory (MiB) of the first forward + backward of
    ``variant`` (activations, gradients, temporaries; not weights or optimiser state)."""
    torch.set_num_threads(threads)
    dev = torch.device(device)
    model, _, video, labels = setup(size, batch, dev)
    matches = cache_matches(model, video) if "cached" in variant else None
    with PeakMemory(dev) as mem:
        forward_backward(model, variant, video, matches, labels, dev)
    return mem.peak_mib


# --- flow quality of the offline backbones -------------------------------------------------------

def _texture(size: int, cells: int, seed: int) -> torch.Tensor:
    """Standardised smooth random RGB texture: bicubic upsampling of a cells×cells noise grid."""
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.interpolate(torch.randn(1, 3, cells, cells, generator=g),
                                        size=size, mode="bicubic", align_corners=False)
    return ((x - x.mean()) / x.std())[0]


def _pan_clip(cells: int, t: int = 32, size: int = 224, v=(3, 2), seed: int = 0):
    """Content moving v = (+x, +y up) px/frame; returns (clip (3, T, H, W), truth (T, N, 2))."""
    from motionscope.motion.patch_flow import coords_grid

    margin = t * max(v) + 16
    scale = (size + 2 * margin) / size
    world = _texture(size + 2 * margin, max(4, round(cells * scale)), seed)
    frames = [world[:, margin + i * v[1]:margin + i * v[1] + size,
                    margin - i * v[0]:margin - i * v[0] + size] for i in range(t)]
    grid = coords_grid(size // 16, size // 16)
    truth = grid + torch.arange(t).view(-1, 1, 1) * torch.tensor([v[0] / 16, v[1] / 16])
    return torch.stack(frames, dim=1), truth


def _dots_clip(t: int = 32, size: int = 224, n: int = 6, seed: int = 0):
    """White dots (radius 5 px) on black drifting at <= 1.5 px/frame, ImageNet-normalised.

    Returns the clip, the patch index of each dot at frame 0 and its true displacement (T, n, 2)
    in patch units (y up)."""
    g = torch.Generator().manual_seed(seed)
    pos = 60 + torch.rand(n, 2, generator=g) * (size - 120)
    vel = (torch.rand(n, 2, generator=g) - 0.5) * 3
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    frames, traj = [], []
    for i in range(t):
        p = pos + vel * i
        d2 = (xx[None] - p[:, 0, None, None]) ** 2 + (yy[None] - p[:, 1, None, None]) ** 2
        frames.append((d2 <= 25).any(0).float())
        traj.append(p)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1, 1)
    clip = (torch.stack(frames).unsqueeze(0) - mean) / std  # (3, T, H, W)
    traj = torch.stack(traj)  # (T, n, 2) in pixels, y down
    index = (pos[:, 1] // 16).long() * (size // 16) + (pos[:, 0] // 16).long()
    disp = (traj - traj[:1]) / 16 * torch.tensor([1.0, -1.0])
    return clip, index, disp


def _dot_track_cells(index: torch.Tensor, disp: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Grid positions (x, y up) every dot passes through: (T·n, 2)."""
    return (grid[index].unsqueeze(0) + disp).reshape(-1, 2)


def flow_quality(out: Path) -> dict:
    """Endpoint error of Ĝ[0→m] for each offline backbone on synthetic clips with known motion."""
    from motionscope.models.vit import build_backbone
    from motionscope.motion.patch_flow import coords_grid, soft_match_positions

    backbones = {"pixel (default: 3x3-patch context, 4-px blur)": ("pixel", {}),
                 "pixel + positional prior (position 0.3, sigma 1 patch)": (
                     "pixel", {"position": 0.3, "position_sigma": 1.0}),
                 "pixel plain (16x16 patch NCC)": ("pixel", {"context": 1, "blur": 0}),
                 "vit_random (ViT-B/16, DINO init, seed 0)": ("vit_random", {})}
    clips = {"texture, 4-px grain": _pan_clip(56), "texture, 12-px grain": _pan_clip(19)}
    dots, dot_index, dot_disp = _dots_clip()
    result: dict = {"what": "mean endpoint error (patches) of the soft-argmax position of each "
                            "patch of frame 0 in frames 0..31 (tau 0.001), patches in view; "
                            "for the dots clip: the dots' patches, and separately the blank "
                            "patches' distance from where they are (they do not move)",
                    "zero_motion_baseline": {}, "backbones": {}}
    for name, (_, truth) in clips.items():
        grid = truth[0]
        inview = ((truth >= 0) & (truth <= 13)).all(-1)
        result["zero_motion_baseline"][name] = round(
            float((grid.expand_as(truth) - truth).norm(dim=-1)[inview].mean()), 3)
    result["zero_motion_baseline"]["6 dots on black"] = round(float(dot_disp.norm(dim=-1).mean()), 3)
    for label, (name, kw) in backbones.items():
        torch.manual_seed(0)
        bb = build_backbone(name, None, 224, 16, **kw)
        row = {}
        for clip_name, (clip, truth) in {**clips, "6 dots on black": (dots, None)}.items():
            t0 = time.perf_counter()
            with torch.no_grad():
                tokens = torch.cat([bb.patch_tokens(clip[:, i:i + 8].transpose(0, 1))
                                    for i in range(0, clip.shape[1], 8)]).unsqueeze(0)
            row["tokens_s_per_clip"] = round(time.perf_counter() - t0, 2)
            pos = soft_match_positions(tokens)[0, 0]  # (T, N, 2)
            if truth is None:
                err = (pos[:, dot_index] - pos[:1, dot_index] - dot_disp).norm(dim=-1).mean()
                # blank patches (no dot ever within 2 patches) do not move: any flow is spurious
                grid = coords_grid(14, 14)
                near = torch.cdist(grid, _dot_track_cells(dot_index, dot_disp, grid)).amin(-1) <= 2
                row["6 dots: blank patches' spurious motion"] = round(
                    float((pos[:, ~near] - grid[~near]).norm(dim=-1).mean()), 3)
            else:
                inview = ((truth >= 0) & (truth <= 13)).all(-1)
                err = (pos - truth).norm(dim=-1)[inview].mean()
            row[clip_name] = round(float(err), 3)
        result["backbones"][label] = row
        print(label, row, flush=True)
    result.update(benchmark="mp_flow_quality", machine=machine(),
                  date=time.strftime("%Y-%m-%d %H:%M"))
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (CPU default: 1)")
    ap.add_argument("--out", default=None, help="result JSON (default results/mp_<device>.json)")
    ap.add_argument("--flow-quality", action="store_true",
                    help="instead: flow error of the offline backbones (results/mp_flow_quality.json)")
    args = ap.parse_args()
    if args.threads or args.device == "cpu":
        # one thread by default on CPU: process CPU time then stays meaningful on a shared machine
        torch.set_num_threads(args.threads or 1)
    if args.flow_quality:
        flow_quality(Path(args.out) if args.out else RESULTS / "mp_flow_quality.json")
        return
    device = torch.device(args.device)
    model, opt, video, labels = setup(args.size, args.batch, device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    matches = cache_matches(model, video)
    sync()
    cache_s = time.perf_counter() - t0

    # the paths on the same weights before any update (also the warm-up of every path)
    with torch.no_grad():
        logits = {}
        model.eval()
        for v in VARIANTS:
            model.set_impl("naive" if v == "naive" else "fast")
            batch = {"matches": matches} if "cached" in v else {"video": video}
            with torch.autocast(device.type, dtype=torch.bfloat16,
                                enabled=v in ("fast", "fast_cached")):
                logits[v] = model(batch)["logits"].float()
        model.train()
    agreement = {v: float((logits[v] - logits["naive"]).abs().max()) for v in VARIANTS[1:]}

    def step(variant: str) -> None:
        forward_backward(model, variant, video, matches, labels, device)
        torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()

    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    load_before = load_average()
    for _ in range(args.repeats):  # alternate, so a busy machine slows every path alike
        for v in VARIANTS:
            t0, c0 = time.perf_counter(), time.process_time()
            step(v)
            times[v].append(time.perf_counter() - t0)
            cpu[v].append(time.process_time() - c0)
    load_after = load_average()

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        peaks = {v: pool.submit(peak_memory_child, args.size, args.batch, str(device),
                                torch.get_num_threads(), v).result() for v in VARIANTS}

    naive, naive_cpu = median(times["naive"]), median(cpu["naive"])
    result = {
        "benchmark": "mp", "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"),
        "device": str(device), "size": args.size, "config": SIZES[args.size],
        "batch": args.batch, "repeats": args.repeats,
        "load_average_before_after": [load_before, load_after],
        "cache_build_s_per_clip": round(cache_s / args.batch, 4),
        "max_abs_logit_diff_vs_naive": agreement,
        "threads": torch.get_num_threads(),
        "variants": {v: {"step_s_median": round(median(times[v]), 4),
                         "clips_per_s": round(args.batch / median(times[v]), 4),
                         "step_cpu_s_median": round(median(cpu[v]), 4),
                         "peak_mem_mib_fwd_bwd": round(peaks[v], 1),
                         "step_s_all": [round(x, 4) for x in times[v]]} for v in VARIANTS},
        "speedup_vs_naive": {v: round(naive / median(times[v]), 2) for v in VARIANTS[1:]},
        "speedup_vs_naive_cpu_time": {v: round(naive_cpu / median(cpu[v]), 2)
                                      for v in VARIANTS[1:]},
    }
    out = Path(args.out) if args.out else RESULTS / f"mp_{device.type}.json"
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
