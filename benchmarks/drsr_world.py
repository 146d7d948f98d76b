"""DRSR on the embedded world: RGB, depth, then fused (from the two unimodal runs), fixed seeds,
the standard and the legacy evaluation of the same runs.

    python benchmarks/drsr_world.py [--only rgb,depth,fusion] [--epochs N] [--threads N] [--runs DIR]

Results go to benchmarks/results/drsr_world.json; a modality not asked for keeps its earlier entry
(so rgb and depth can run at once, in two processes, and fusion after them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, median, write_result  # noqa: E402

from motionscope.tasks.classify import train  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=None, help="override the presets' epochs")
    ap.add_argument("--runs", default="runs/drsr_world_bench")
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--only", default="rgb,depth,fusion")
    ap.add_argument("--threads", type=int, default=None, help="override the presets' threads")
    a = ap.parse_args(argv)
    runs = Path(a.runs)
    common = [f"train.seed={a.seed}", "train.tensorboard=false", "train.progress=false",
              "eval.protocol=legacy"] + ([f"train.epochs={a.epochs}"] if a.epochs else []) + \
        ([f"train.threads={a.threads}"] if a.threads else [])
    for mod in a.only.split(","):
        if mod not in ("rgb", "depth", "fusion"):
            ap.error(f"--only: unknown modality {mod!r} (rgb, depth, fusion)")
    for mod in a.only.split(","):
        extra = [f"model.args.rgb_checkpoint={runs / 'rgb'}",
                 f"model.args.depth_checkpoint={runs / 'depth'}"] if mod == "fusion" else []
        t0 = time.time()
        res = train(f"drsr_world_{mod}", common + extra, run_dir=str(runs / mod), fresh=False)
        legacy = json.loads((runs / mod / "legacy.json").read_text())
        run = {"preset": f"drsr_world_{mod}", "overrides": common + extra,
               "minutes": round((time.time() - t0) / 60, 1),
               "samples_per_s": _speed(runs / mod),
               "standard": {"test_top1": res.get("test", {}).get("top1"), "best_val": res.get("best")},
               "legacy": {k: legacy.get(k) for k in ("legacy_top1", "best_epoch_on_test", "chosen")},
               "legacy_history": legacy.get("history")}
        path = RESULTS / "drsr_world.json"  # read again: another process may have written it
        old = json.loads(path.read_text()) if path.is_file() else {}
        out = {"seed": a.seed, "runs": old.get("runs", {}) if old.get("seed") == a.seed else {}}
        out["runs"][mod] = run
        write_result("drsr_world", out)


def _speed(run: Path) -> float | None:
    """Median training samples/s of a run (its metrics.jsonl)."""
    vals = []
    with open(run / "metrics.jsonl") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("split") == "train" and "samples_per_s" in rec:
                vals.append(rec["samples_per_s"])
    return round(median(vals), 2) if vals else None


if __name__ == "__main__":
    main()
