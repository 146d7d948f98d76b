"""Shared helpers for the benchmark scripts: medians of repeated runs and JSON results."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def machine() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def write_result(name: str, result: dict, path: str | Path | None = None) -> Path:
    """Write ``result`` (its own ``machine`` / ``date`` keys win) atomically to ``path``
    (default ``results/<name>.json``) and print it."""
    path = Path(path) if path is not None else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, "machine": machine(), "date": time.strftime("%Y-%m-%d"), **result}
    from motionscope.fsutil import atomic_write_text

    atomic_write_text(path, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return path
