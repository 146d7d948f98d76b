"""NTU ingestion speed: ``motionscope prepare ntu`` files/s on generated files of real size.

    python benchmarks/ingest.py [--files 400] [--workers 2] [--out benchmarks/results/ingest.json]

Files are written with ``io.ntu.write_skeleton`` (the Kinect text format, every field) with the
size of real NTU RGB+D samples: 100 frames (the real samples here have 70-124), one body, or
two bodies for 20 % of them (the mutual-action share of NTU-60), ~300 KB each. The whole
``prepare`` run is timed (parallel parse + denoise, summary, writing both benchmarks' ``.npz``
files), as the median of ``--repeats`` runs; a single-process breakdown per stage (fast
reader, full ``io.ntu.read_skeleton``, denoising) is reported beside it (CPU time). Goal: >= 100 files/s
with 2 workers on 2 cores.

The shared development machine is usually busy with other jobs, so the wall-clock rate there
understates the tool: the script also reports CPU seconds (main process + workers) and the
rate two free cores would give (files / (CPU seconds / 2)); the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _make_files(root: Path, n: int, frames: int, two_share: float, seed: int = 0) -> None:
    from motionscope.io.ntu import write_skeleton
    from motionscope.prepare.ntu_missing import NTU60_MISSING

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    base = rng.normal(0, 0.25, (25, 3)) * np.array([0.5, 1.5, 0.2])
    for i in range(n):
        m = 2 if rng.random() < two_share else 1
        t = np.arange(frames)[None, :, None, None]
        j = base[None, None] + rng.normal(0, 0.01, (m, frames, 25, 3)) + \
            0.2 * np.sin(t / 7.0 + rng.uniform(0, 6, (m, 1, 25, 3)))
        j[..., 2] += 3.0
        j[:, :, :, 0] += np.arange(m)[:, None, None] * 0.8
        px = rng.uniform(0, 1900, (m, frames, 25, 2))
        orient = rng.normal(0, 0.5, (m, frames, 25, 4))
        name = f"S{1 + i % 17:03d}C{1 + i % 3:03d}P{1 + i % 40:03d}R{1 + i % 2:03d}" \
               f"A{(50 + i % 11) if m == 2 else (1 + i % 49):03d}"
        if name in NTU60_MISSING:  # the missing-skeleton list would exclude it
            name = name[:-4] + "A060"
        write_skeleton(root / f"{name}.skeleton", j, px * 0.27, px, orientation=orient)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _stage_times(files: list[Path]) -> dict:
    from motionscope.io.ntu import read_skeleton
    from motionscope.prepare.ntu import denoise_skeleton, read_ntu_joints

    t_fast = t_full = t_den = 0.0
    for f in files:  # CPU time: what a free core would spend
        t0 = time.process_time()
        s = read_ntu_joints(f)
        t1 = time.process_time()
        read_skeleton(f)
        t2 = time.process_time()
        denoise_skeleton(s, "zeros")
        t3 = time.process_time()
        t_fast, t_full, t_den = t_fast + t1 - t0, t_full + t2 - t1, t_den + t3 - t2
    n = len(files)
    return {"read_fast_ms": round(1e3 * t_fast / n, 2), "read_full_ms": round(1e3 * t_full / n, 2),
            "denoise_ms": round(1e3 * t_den / n, 2),
            "one_process_files_per_s": round(n / (t_fast + t_den), 1)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=400)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--two-body-share", type=float, default=0.2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "ingest.json"))
    args = ap.parse_args(argv)
    from motionscope.prepare import prepare

    tmp = Path(tempfile.mkdtemp(prefix="ms-ingest-"))
    try:
        raw = tmp / "raw"
        t0 = time.perf_counter()
        _make_files(raw, args.files, args.frames, args.two_body_share)
        gen_s = time.perf_counter() - t0
        files = sorted(raw.glob("*.skeleton"))
        size = statistics.mean(f.stat().st_size for f in files)
        runs, cpu = [], []
        for r in range(args.repeats):
            out = tmp / f"out{r}"
            c0 = time.process_time() + _children_cpu()
            t0 = time.perf_counter()
            s = prepare("ntu", raw, out, workers=args.workers, progress=False)
            runs.append(time.perf_counter() - t0)
            cpu.append(time.process_time() + _children_cpu() - c0)
            assert s["samples_kept"] == len(files), s["failures"][:3]
        stages = _stage_times(files[:60])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = statistics.median(runs)
    res = {
        "benchmark": "NTU .skeleton ingestion (motionscope prepare ntu)",
        "files": len(files), "frames_per_file": args.frames,
        "two_body_share": args.two_body_share, "mean_file_kb": round(size / 1024, 1),
        "workers": args.workers, "repeats": args.repeats,
        "seconds": [round(x, 3) for x in runs], "median_seconds": round(med, 3),
        "files_per_s": round(len(files) / med, 1), "goal_files_per_s": 100,
        "cpu_seconds": [round(x, 3) for x in cpu],
        "files_per_cpu_s": round(len(files) / statistics.median(cpu), 1),
        "projected_files_per_s_on_2_free_cores": round(
            len(files) / max(statistics.median(cpu) / min(args.workers, 2), med / 1e9), 1),
        "single_process_stages": stages, "generate_seconds": round(gen_s, 1),
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
                    "python": platform.python_version(), "numpy": np.__version__,
                    "processor": platform.processor() or platform.machine()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
