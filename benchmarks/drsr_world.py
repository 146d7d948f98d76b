"""DRSR on the embedded world: RGB, depth, then fused (from the two unimodal runs), fixed seeds,
the standard and the legacy evaluation of the same runs.

    python benchmarks/drsr_world.py [--epochs N] [--runs DIR]   # -> benchmarks/results/drsr_world.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402

from motionscope.tasks.classify import train  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=None, help="override the presets' epochs")
    ap.add_argument("--runs", default="runs/drsr_world_bench")
    ap.add_argument("--seed", type=int, default=123)
    a = ap.parse_args(argv)
    runs = Path(a.runs)
    common = [f"train.seed={a.seed}", "train.tensorboard=false", "train.progress=false",
              "eval.protocol=legacy"] + ([f"train.epochs={a.epochs}"] if a.epochs else [])
    out: dict = {"seed": a.seed, "runs": {}}
    for mod in ("rgb", "depth", "fusion"):
        extra = [f"model.args.rgb_checkpoint={runs / 'rgb'}",
                 f"model.args.depth_checkpoint={runs / 'depth'}"] if mod == "fusion" else []
        t0 = time.time()
        res = train(f"drsr_world_{mod}", common + extra, run_dir=str(runs / mod), fresh=False)
        legacy = json.loads((runs / mod / "legacy.json").read_text())
        out["runs"][mod] = {"preset": f"drsr_world_{mod}", "overrides": common + extra,
                            "minutes": round((time.time() - t0) / 60, 1),
                            "standard": {"test_top1": res.get("test", {}).get("top1"),
                                         "best_val": res.get("best")},
                            "legacy": {k: legacy.get(k) for k in ("legacy_top1", "best_epoch_on_test",
                                                                  "chosen")},
                            "legacy_history": legacy.get("history")}
        write_result("drsr_world", out)


if __name__ == "__main__":
    main()
