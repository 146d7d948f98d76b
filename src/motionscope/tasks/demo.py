"""``motionscope demo``: the README's first command, end to end on the embedded world.

1. Generates a small embedded world once into the user's cache (RGB videos, frame folders and
   NTU ``.skeleton`` files of the 10 BMP actions; later runs reuse it).
2. Ingests its skeletons with the official NTU pipeline (``motionscope prepare ntu``).
3. Trains and tests a skeleton model (MAMP's classifier, from scratch) and a clip model (a 3D CNN
   on RGB) on the same clips, with the world's cross-subject split.
4. Prints a results table and writes a confusion matrix per model and a comparison chart.

Everything is CPU-sized: a few minutes on a 2-core laptop.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..fsutil import atomic_write_text, cache_dir
from ..synth.cache import cached_world
from .classify import train

WORLD = {"classes": "bmp10", "clips_per_class": 24, "frames": 32, "size": (112, 112), "seed": 0}
QUICK_WORLD = {"classes": "bmp10", "clips_per_class": 4, "frames": 16, "size": (64, 64), "seed": 0}


def _jobs(world: Path, prepared: Path, quick: bool) -> list[tuple[str, str, list[str]]]:
    """(label, preset, overrides) of each model the demo trains."""
    ep_skel, ep_clip = (1, 1) if quick else (20, 12)
    common = ["train.progress=true", "train.tensorboard=false"]
    skel = ["data.root=" + str(prepared), f"train.epochs={ep_skel}", "sched.warmup_epochs=1",
            "data.batch_size=16", "optim.lr=0.001"]
    if quick:
        skel += ["model.args.num_frames=16", "data.args.window=16", "data.args.min_crop=8"]
    clip = ["data.root=" + str(world), f"train.epochs={ep_clip}"]
    if quick:
        clip += ["data.args.input_size=48", "data.args.num_segments=4"]
    return [
        ("skeleton: MAMP classifier (from scratch)", "mamp_world_xsub_finetune", [*common, *skel]),
        ("RGB: 3D CNN", "cnn3d_world", [*common, *clip]),
    ]


def demo(out: str | None = None, quick: bool = False, cache: str | None = None) -> dict:
    """Run the demo; returns the per-model test metrics and the written files."""
    from ..prepare import prepare
    from ..viz.plots import plot_bars

    t0 = time.perf_counter()
    out_dir = Path(out or "runs/demo")
    spec = QUICK_WORLD if quick else WORLD
    print("1/4 embedded world (generated once into the cache) ...")
    world = cached_world(("rgb", "rawframes", "skeleton"), cache=cache, prefix="demo", **spec)
    prepared = Path(cache) if cache else cache_dir() / "prepared"
    prepared = prepared / f"{world.name}-ntu120"
    if not (prepared / "summary.json").is_file():
        print("2/4 ingesting its NTU .skeleton files ...")
        prepare("ntu", world / "skeleton", prepared, ntu120=True, progress=True)
    results = {}
    for i, (label, preset, overrides) in enumerate(_jobs(world, prepared, quick)):
        print(f"{3 + min(i, 1)}/4 training {label} ...")
        name = preset.replace("_", "-")
        res = train(preset, [*overrides, f"train.run_dir={out_dir / name}"])
        results[label] = {"run_dir": res["run_dir"], **res.get("test", {})}
    rows = [(k, v) for k, v in results.items()]
    print()
    print(f"{'model (embedded world, cross-subject test)':46s} {'top-1':>7s} {'top-5':>7s} "
          f"{'mean-class':>10s}")
    for name, m in rows:
        print(f"{name:46s} {100 * m.get('top1', 0):6.1f}% {100 * m.get('top5', 0):6.1f}% "
              f"{100 * m.get('mean_class_acc', 0):9.1f}%")
    chart = out_dir / "demo_accuracy.png"
    plot_bars({"top-1": {k: v.get("top1", 0) for k, v in rows},
               "mean-class": {k: v.get("mean_class_acc", 0) for k, v in rows}}, chart,
              title="motionscope demo: embedded world, 10 actions (chance 10%)")
    summary = {"world": str(world), "seconds": round(time.perf_counter() - t0, 1),
               "models": results, "chart": str(chart)}
    atomic_write_text(out_dir / "demo_results.json", json.dumps(summary, indent=2, default=float))
    print(f"\nchart: {chart}\nconfusion matrices: {out_dir}/*/test_confusion.png")
    print(f"results: {out_dir / 'demo_results.json'} ({summary['seconds']:.0f} s)")
    return summary
