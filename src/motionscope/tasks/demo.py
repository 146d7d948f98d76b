"""``motionscope demo``: the README's first command, end to end on data it makes itself."""

from __future__ import annotations

from pathlib import Path

from ..engine.logging import read_metrics
from .classify import train


def demo(out: str | None = None, epochs: int | None = None, quick: bool = False) -> dict:
    """Train and evaluate the baseline on generated data; print a results table.

    Runs in a few minutes on a 2-core CPU. ``quick`` shrinks everything for smoke tests.
    """
    run_dir = Path(out or "runs/demo")
    overrides = [f"train.run_dir={run_dir / 'skeleton_baseline'}"]
    if epochs is not None:
        overrides.append(f"train.epochs={epochs}")
    if quick:
        overrides += ["data.args.num_samples=64", "train.epochs=1"]
    result = train("baseline_skeleton", overrides)
    rows = [("skeleton_transformer (generated skeletons)", result.get("test", {}))]
    print()
    print(f"{'model':48s} {'top-1':>7s} {'top-5':>7s} {'mean-class':>10s}")
    for name, m in rows:
        print(f"{name:48s} {100 * m.get('top1', 0):6.1f}% {100 * m.get('top5', 0):6.1f}% "
              f"{100 * m.get('mean_class_acc', 0):9.1f}%")
    files = result.get("files", {})
    if files:
        print(f"\nconfusion matrix: {files.get('confusion_png')}\npredictions: "
              f"{files.get('predictions')}")
    return {"runs": {"skeleton_baseline": result}, "metrics": read_metrics(result["run_dir"])}
