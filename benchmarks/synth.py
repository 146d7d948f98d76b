"""How long the embedded world takes to generate, extrapolated to the demo world.

The demo world is 1,000 clips (10 classes x 100) of 32 frames at 224x224 with every default
modality (mp4 + CSVs, rawframes + lists, masked and full depth PNGs, NTU .skeleton, AlphaPose
JSON, joints .npz); the goal (issue #3) is under 2 minutes on 2 cores.

This script generates a smaller world of the same shape with ``--workers`` processes, times it
(wall clock and the CPU seconds of all processes), and extrapolates linearly in the number of
clips (every clip is independent work of the same size). It also times each stage of one clip in
this process (motion, render, each writer) so a slow stage is visible, and records the machine's
load average, because on a shared machine wall time says as much about the neighbours as about
the code. A reference measurement (decoding the world's own mp4s with PyAV) is recorded too:
comparing it with the decode speed in benchmarks/results/video_decode.json tells how busy the
machine was.

    python benchmarks/synth.py                         # 100 clips, 2 workers (~1-3 minutes)
    python benchmarks/synth.py --clips-per-class 30 --workers 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from motionscope.fsutil import atomic_write_text
from motionscope.synth.actions import get_classes
from motionscope.synth.camera import plan_world
from motionscope.synth.export import DEFAULT_FORMATS, WorldConfig, generate_world, render_plan

RESULTS = Path(__file__).resolve().parent / "results"
DEMO_CLIPS = 1000
GOAL_S = 120.0


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def time_world(out: Path, clips_per_class: int, workers: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    c0, s0, w0 = _cpu_children(), _cpu_self(), time.perf_counter()
    generate_world(out, clips_per_class=clips_per_class, workers=workers, progress=False)
    wall = time.perf_counter() - w0
    cpu = (_cpu_children() - c0) + (_cpu_self() - s0)
    n = 10 * clips_per_class
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"clips": n, "workers": workers, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "wall_s_per_clip": round(wall / n, 4), "cpu_s_per_clip": round(cpu / n, 4),
            "bytes_per_clip": int(size / n),
            "demo_wall_s_extrapolated": round(wall / n * DEMO_CLIPS, 1),
            "demo_cpu_s_extrapolated": round(cpu / n * DEMO_CLIPS, 1)}


def time_stages(n: int = 6) -> dict:
    """CPU milliseconds per clip of each stage, in this process (medians over ``n`` clips)."""
    from motionscope.io import depth as io_depth
    from motionscope.io import keypoints as io_kp
    from motionscope.io import ntu as io_ntu
    from motionscope.io import rawframes as io_raw
    from motionscope.io import video as io_video
    from motionscope.synth import export

    cfg = WorldConfig()
    plans = plan_world(get_classes(cfg.classes), 30)[:: max(1, 30 * 10 // n)][:n]
    stages: dict[str, list[float]] = {}

    @contextlib.contextmanager
    def clock(name):
        t0 = time.process_time()
        yield
        stages.setdefault(name, []).append((time.process_time() - t0) * 1000)

    tmp = Path(tempfile.mkdtemp())
    try:
        for i, p in enumerate(plans):
            cls = get_classes(cfg.classes)[p.label]
            with clock("motion"):
                export._performance(cfg, cls, p.performance, p.performer, p.replication)
            with clock("motion+render"):
                _, out, extra = render_plan(cfg, p)
            j3, j2, _ = export._layout_arrays(out, "ntu25")
            with clock("write_skeleton"):
                io_ntu.write_skeleton(tmp / f"{i}.skeleton", j3[None], j2[None], j2[None],
                                      orientation=export._orientations(j3.astype(float))[None])
            with clock("write_video (mp4)"):
                io_video.write_video(tmp / f"{i}.mp4", out.rgb, fps=cfg.fps, crf=cfg.crf)
            with clock("write_frames (jpg)"):
                io_raw.write_frames(tmp / f"r{i}", out.rgb)
            with clock("write_depth (masked)"):
                io_depth.write_depth_folder(tmp / f"dm{i}", out.depth_masked)
            with clock("write_depth (full)"):
                io_depth.write_depth_folder(tmp / f"df{i}", out.depth,
                                            template="Depth-{:08d}.png")
            kp, sc = export._detector_keypoints(extra["crng"], out, "halpe26", cfg.size)
            with clock("write_alphapose_json"):
                io_kp.write_alphapose_json(tmp / f"{i}.json", io_kp.KeypointSet(
                    kp[None], sc[None], layout="halpe26"))
            with clock("joints npz"):
                export.save_npz(tmp / f"{i}.npz", {"a": out.joints_cam, "b": out.joints_2d,
                                                   "c": out.visible})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: round(statistics.median(v), 1) for k, v in stages.items()}
    med["render (without motion)"] = round(med["motion+render"] - med["motion"], 1)
    return med


def decode_reference(world: Path) -> dict:
    from motionscope.io import video as io_video

    vids = sorted(world.rglob("*.mp4"))[:20]
    t0, c0 = time.perf_counter(), time.process_time()
    n = sum(len(io_video.read_video(v)) for v in vids)
    return {"frames": n, "frames_per_s": round(n / (time.perf_counter() - t0), 1),
            "frames_per_cpu_s": round(n / (time.process_time() - c0), 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips-per-class", type=int, default=10)
    ap.add_argument("--small-clips-per-class", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(RESULTS / "synth.json"))
    ap.add_argument("--keep", help="keep the generated world in this folder")
    args = ap.parse_args(argv)
    os.environ.setdefault("MOTIONSCOPE_NO_PROGRESS", "1")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp()) / "world"
    load0 = os.getloadavg()
    # two sizes: the difference is the cost per clip, the rest is start-up (worker imports)
    small = time_world(work, args.small_clips_per_class, args.workers)
    main_run = time_world(work, args.clips_per_class, args.workers)
    ref = decode_reference(work)
    if not args.keep:
        shutil.rmtree(work.parent, ignore_errors=True)
    stages = time_stages()
    load1 = os.getloadavg()
    dn = main_run["clips"] - small["clips"]
    per_wall = (main_run["wall_s"] - small["wall_s"]) / dn
    per_cpu = (main_run["cpu_s"] - small["cpu_s"]) / dn
    fixed_wall = max(main_run["wall_s"] - per_wall * main_run["clips"], 0.0)
    fixed_cpu = max(main_run["cpu_s"] - per_cpu * main_run["clips"], 0.0)
    est = fixed_wall + per_wall * DEMO_CLIPS
    est_cpu = (fixed_cpu + per_cpu * DEMO_CLIPS) / 2
    result = {
        "benchmark": "synth",
        "what": "generate_world: default formats, 32 frames at 224x224, extrapolated to the "
                f"demo world ({DEMO_CLIPS} clips)",
        "goal": f"< {GOAL_S:.0f} s for the demo world on 2 cores (issue #3)",
        "config": {"clips_per_class": [args.small_clips_per_class, args.clips_per_class],
                   "workers": args.workers, "frames": 32, "size": [224, 224],
                   "formats": list(DEFAULT_FORMATS)},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "loadavg_before": [round(x, 2) for x in load0],
                    "loadavg_after": [round(x, 2) for x in load1]},
        "runs": [small, main_run],
        "per_clip": {"wall_s": round(per_wall, 4), "cpu_s": round(per_cpu, 4),
                     "startup_wall_s": round(fixed_wall, 2), "startup_cpu_s": round(fixed_cpu, 2)},
        "stage_cpu_ms_per_clip": stages,
        "decode_reference": ref,
        "demo_estimate_wall_s_here": round(est, 1),
        "demo_estimate_s_on_2_free_cores": round(est_cpu, 1),
        "meets_goal_on_2_free_cores": bool(est_cpu < GOAL_S),
        "date": time.strftime("%Y-%m-%d"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
