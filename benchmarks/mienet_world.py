"""MIE-Net vs DPTAM-only vs TSN (and TSM) on the embedded world, trained and tested on a CPU.

    python benchmarks/mienet_world.py --seeds 0 1 2 --out runs/mienet_world_bench
    python benchmarks/mienet_world.py --models mienet tsn --seeds 0 --set train.epochs=5

Every run is a shipped preset through the public API (``motionscope train <model>_world``), so
the models differ only in the model (same world, recipe, input, seed). Per run it records the
test accuracy of the model chosen on validation (what ``motionscope test RUN`` reports), the
best validation accuracy and its epoch, the final training loss, the parameter count and the
wall time. The same seed gives every model the same training-clip order and augmentation draws.
(The last epoch's model is not tested: a finished run's ``last.pt`` holds the selected weights.)

Results go to ``--json`` (default ``benchmarks/results/mienet_world.json``); a Markdown table is
printed. A run whose ``results.json`` exists in ``--out`` is reused, so an interrupted
benchmark continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = {"mienet": "MIE-Net (PA + AFM + DPTAM)", "tsn_dptam": "DPTAM-only (TSN + DPTAM)",
          "tsn": "TSN", "tsm": "TSM"}


def _params(cfg) -> int:
    import torch
    from omegaconf import OmegaConf

    from motionscope.models import create_model

    with torch.device("meta"):
        model = create_model(cfg.model.name, **OmegaConf.to_container(cfg.model.args))
    return sum(p.numel() for p in model.parameters())


def _split_sizes(root: Path) -> dict:
    return {s: sum(1 for line in (root / "splits" / f"{s}_rawframes.txt").read_text().splitlines()
                   if line.strip())
            for s in ("train", "val", "test") if (root / "splits" / f"{s}_rawframes.txt").is_file()}


def _final_train_loss(run: Path) -> float | None:
    """Mean logged training loss over the last epoch."""
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    train = [r for r in rows if r.get("split") == "train"]
    if not train:
        return None
    last = max(r["epoch"] for r in train)
    return statistics.fmean(r["loss"] for r in train if r["epoch"] == last)


def run_one(model: str, seed: int, out: Path, extra: list[str]) -> dict:
    from motionscope import api
    from motionscope.config import load_config

    preset = f"{model}_world"
    overrides = ["train.progress=false", f"train.seed={seed}", *extra]
    run = out / f"{model}_s{seed}"
    results = run / "results.json"
    t0 = time.time()
    if not results.is_file():
        api.train(preset, overrides, run_dir=str(run))
        wall = round(time.time() - t0, 1)
        (run / "wall_seconds.txt").write_text(f"{wall}\n")
    wall = float((run / "wall_seconds.txt").read_text()) if (run / "wall_seconds.txt").is_file() \
        else None
    res = json.loads(results.read_text())
    from omegaconf import OmegaConf

    from motionscope.data.video import world_root

    cfg = load_config(str(run / "config.yaml"))
    plain = OmegaConf.to_container(cfg, resolve=True)
    root = Path(cfg.data.root) if cfg.data.root else world_root(plain["data"]["args"]["world"])
    row = {
        "model": model, "preset": preset, "seed": seed, "overrides": overrides,
        "run_dir": str(run), "params": _params(cfg),
        "test_top1": res["test"]["top1"], "test_top5": res["test"].get("top5"),
        "best_val_top1": (res.get("best_val") or {}).get("top1"),
        "best_val_epoch": (res.get("best_val") or {}).get("epoch"),
        "final_train_loss": _final_train_loss(run), "wall_seconds": wall,
        "split_sizes": _split_sizes(root), "input_size": cfg.data.args.input_size,
        "model_args": plain["model"]["args"], "epochs": cfg.train.epochs,
        "optim": plain["optim"], "sched": plain["sched"],
    }
    print(f"{model} seed {seed}: test top1 {row['test_top1']:.3f}, best val "
          f"{row['best_val_top1']:.3f} (epoch {row['best_val_epoch']}), {wall} s", flush=True)
    return row


def _stats(xs: list[float]) -> dict:
    return {"mean": statistics.fmean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0,
            "min": min(xs), "max": max(xs), "values": xs}


def _fmt(s: dict) -> str:
    return f"{s['mean']:.3f}" + (f" ± {s['std']:.3f}" if len(s["values"]) > 1 else "")


def markdown(summary: dict, n_test: int, seeds: list[int]) -> str:
    head = ("| model | params | test top-1 | test top-5 | best val top-1 | "
            "final train loss | wall s / run |\n|---|---|---|---|---|---|---|")
    rows = [head]
    for m, s in summary.items():
        rows.append(f"| {MODELS[m]} | {s['params']:,} | {_fmt(s['test_top1'])} | "
                    f"{_fmt(s['test_top5'])} | {_fmt(s['best_val_top1'])} | "
                    f"{s['final_train_loss']['mean']:.2f} | {s['wall_seconds']['mean']:.0f} |")
    rows.append(f"\n{n_test} test clips, chance 0.100; mean ± sample std over seeds {seeds}.")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", choices=sorted(MODELS),
                    default=["mienet", "tsn_dptam", "tsn"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--out", default="runs/mienet_world_bench", help="folder for the runs")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="overrides applied to every model's preset alike")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: best on a busy CPU)")
    ap.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "mienet_world.json"))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    runs = [run_one(m, s, out, args.set) for s in args.seeds for m in args.models]
    summary = {}
    for m in args.models:
        rs = [r for r in runs if r["model"] == m]
        summary[m] = {"params": rs[0]["params"],
                      **{k: _stats([r[k] for r in rs]) for k in (
                          "test_top1", "test_top5", "best_val_top1",
                          "final_train_loss", "wall_seconds")}}
    diffs = {}
    for m in args.models:
        if m != "tsn" and "tsn" in args.models:  # paired by seed: same data order and draws
            for key in ("test_top1",):
                d = [a[key] - b[key] for a, b in zip(
                    [r for r in runs if r["model"] == m], [r for r in runs if r["model"] == "tsn"])]
                diffs[f"{m}_minus_tsn_{key}"] = _stats(d)
    n_test = runs[0]["split_sizes"].get("test", 0)
    table = markdown(summary, n_test, args.seeds)
    from motionscope.fsutil import atomic_write_text

    result = {
        "benchmark": "mienet_world", "date": time.strftime("%Y-%m-%d"),
        "models": args.models, "seeds": args.seeds, "extra_overrides": args.set,
        "split_sizes": runs[0]["split_sizes"], "summary": summary,
        "differences_vs_tsn": diffs, "runs": runs, "markdown": table,
        "seconds": round(time.time() - t0, 1),
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "cpu": platform.processor() or "cpu"},
        "command": " ".join([Path(sys.argv[0]).name] + (argv if argv is not None
                                                          else sys.argv[1:])),
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.json), json.dumps(result, indent=1, default=float) + "\n")
    print(table)
    for k, v in diffs.items():
        print(f"{k}: {_fmt(v)}")
    return result


if __name__ == "__main__":
    main()
