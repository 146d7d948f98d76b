"""Video decode/encode speed of ``motionscope.io.video`` on a 224x224 H.264 mp4, per core.

Everything runs single-threaded in one process (``threads=1``). ``frames_per_s`` is
wall-clock; ``frames_per_cpu_s`` divides by the process's CPU time, which is the per-core rate
even when other jobs share the cores (on a quiet machine the two agree); the pass flags use
the latter. The clip is the real mmaction2 ``test.mp4`` resized to 224x224 (300 frames of
natural video) when ``../shared`` is beside the checkout, else a procedural textured clip. It
is encoded twice with :func:`write_video` (libx264, crf 18): with the default preset
``ultrafast`` (what the embedded world writes: CAVLC, no B-frames) and with ``medium`` (CABAC,
B-frames: typical of H.264 found in the wild, slower to decode). Each measurement is repeated
and the median reported; the load average is recorded because the development machines are
shared, and the two encodings are measured alternately so load affects both alike.

    python benchmarks/video_decode.py [--repeats 7] [--out benchmarks/results/video_decode.json]

Measured:
* ``decode_only``: PyAV decoding of every frame, no pixel conversion (the codec's cost);
* ``read_video``: :func:`read_video` of the whole clip to a uint8 RGB array (what users get);
* ``random_access_32``: :meth:`VideoReader.read` of 32 sorted random frames of the 300 (a
  training clip; x264's default 250-frame GOP means this decodes most of the file), counting
  returned frames;
* ``write_video``: encoding speed of the writer;
* ``world_clips``: the embedded world's own mp4s (32 frames at 224x224, written by
  ``generate_world``'s defaults), ``decode_only`` and ``read_video`` over ten clip files one
  after another (open and decoder set-up included) and over the same frames in one file.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import write_result  # noqa: E402

from motionscope.io.video import VideoReader, read_video, write_video  # noqa: E402

PRESETS = ("ultrafast", "medium")  # write_video's default first
SHARED_CLIP = Path(os.environ.get("MOTIONSCOPE_SHARED", ROOT.parent / "shared")) / \
    "data" / "rgb_action_clips" / "mmaction2" / "test.mp4"


def _source_frames(n: int = 300, size: int = 224) -> tuple[np.ndarray, str]:
    if SHARED_CLIP.exists():
        return read_video(SHARED_CLIP, size=(size, size))[:n], f"real: {SHARED_CLIP.name} resized"
    rng = np.random.default_rng(0)
    tex = rng.integers(0, 256, (size * 2, size * 2, 3), dtype=np.uint8)
    frames = np.stack([np.roll(np.roll(tex, 2 * t, 0), 3 * t, 1)[:size, :size]
                       for t in range(n)])
    return frames, "procedural moving texture"


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _decode_only(path: Path) -> int:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_count, s.thread_type = 1, "SLICE"
        return sum(1 for _ in c.decode(s))


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def _summary(frames: int, times: list[tuple[float, float]]) -> dict:
    wall = [frames / w for w, _ in times]
    cpu = [frames / c for _, c in times if c > 0]
    return {"frames_per_s": round(statistics.median(wall), 1),
            "frames_per_cpu_s": round(statistics.median(cpu), 1) if cpu else None,
            "runs_wall": [round(r, 1) for r in wall], "runs_cpu": [round(r, 1) for r in cpu]}


def _median_rate(fn, frames: int, repeats: int) -> dict:
    fn()  # warm-up (page cache, codec init)
    return _summary(frames, [_timed(fn) for _ in range(repeats)])


def _world_section(d: Path, repeats: int, n_clips: int = 10) -> dict:
    """Decode speed of the embedded world's own mp4s: one 32-frame 224x224 clip per class,
    rendered and written exactly as ``generate_world`` does (``write_video`` defaults:
    ultrafast, crf 18; 10 fps), read one file after another (so the per-file open and
    decoder set-up count), and the same frames as one long file (the codec's rate alone)."""
    from motionscope.synth.actions import get_classes
    from motionscope.synth.camera import plan_world
    from motionscope.synth.export import WorldConfig, render_plan

    cfg = WorldConfig()
    plans = plan_world(get_classes(cfg.classes), n_clips)[::n_clips][:n_clips]
    paths, frames = [], []
    for i, plan in enumerate(plans):
        rgb = render_plan(cfg, plan)[1].rgb
        paths.append(d / f"world_{i:02d}.mp4")
        write_video(paths[-1], rgb, fps=cfg.fps, crf=cfg.crf)
        frames.append(rgb)
    long = d / "world_long.mp4"
    write_video(long, np.concatenate(frames), fps=cfg.fps, crf=cfg.crf)
    F = sum(len(f) for f in frames)
    res = {}
    for name, fn in (("decode_only", _decode_only), ("read_video", read_video)):
        res[f"clips_{name}"] = _median_rate(lambda fn=fn: [fn(p) for p in paths], F, repeats)
        res[f"one_file_{name}"] = _median_rate(lambda fn=fn: fn(long), F, repeats)
    return {"clips": len(paths), "frames_per_clip": cfg.frames, "size": list(cfg.size),
            "fps": cfg.fps, "crf": cfg.crf, "preset": "ultrafast",
            "bytes_per_clip": int(np.mean([p.stat().st_size for p in paths])),
            "results": res}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "video_decode.json"))
    args = ap.parse_args()
    frames, source = _source_frames()
    T = len(frames)
    load_before = os.getloadavg()
    results, clips = {}, {}
    with tempfile.TemporaryDirectory() as d:
        rng = np.random.default_rng(0)
        for preset in PRESETS:
            path = Path(d) / f"{preset}.mp4"
            res = {"write_video": _median_rate(
                lambda p=path, pr=preset: write_video(p, frames, fps=30, preset=pr), T,
                max(3, args.repeats // 2))}
            with av.open(str(path)) as c:
                keyframes = sum(1 for p in c.demux(video=0) if p.size and p.is_keyframe)
            clips[preset] = {"bytes": path.stat().st_size, "keyframes": keyframes}
            results[preset] = res
        for name, fn in (("decode_only", _decode_only), ("read_video", read_video)):
            runs = {p: [] for p in PRESETS}
            for _ in range(args.repeats + 1):  # alternate presets; first round is warm-up
                for preset in PRESETS:
                    runs[preset].append(_timed(partial(fn, Path(d) / f"{preset}.mp4")))
            for preset in PRESETS:
                results[preset][name] = _summary(T, runs[preset][1:])
        for preset in PRESETS:
            path = Path(d) / f"{preset}.mp4"
            idx = iter([np.sort(rng.choice(T, 32, replace=False))
                        for _ in range(args.repeats + 1)])

            def random_clip(path=path, idx=idx):
                with VideoReader(path) as r:
                    r.read(next(idx))

            results[preset]["random_access_32"] = _median_rate(random_clip, 32, args.repeats)
        world = _world_section(Path(d), args.repeats)
    default = results[PRESETS[0]]
    result = {
        "benchmark": "video_decode",
        "what": "frames/s per core (threads=1, one process) for a 224x224 H.264 mp4",
        "goal": ">= 1000 frames/s per core for decoding (issue #3)",
        "clip": {"source": source, "frames": T, "size": [224, 224], "crf": 18,
                 "encodings": {p: {"preset": p, **clips[p]} for p in PRESETS}},
        "results": results,
        "pass_decode_only_default_encoding":
            default["decode_only"]["frames_per_cpu_s"] >= 1000,
        "pass_read_video_default_encoding": default["read_video"]["frames_per_cpu_s"] >= 1000,
        "world_clips": world,
        "pass_read_video_world_clips":
            world["results"]["clips_read_video"]["frames_per_cpu_s"] >= 1000,
        "machine": {"cpu": _cpu_name(), "cores": os.cpu_count(), "python":
                    platform.python_version(), "pyav": av.__version__,
                    "ffmpeg_libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
                    "loadavg_1m_before": round(load_before[0], 2),
                    "loadavg_1m_after": round(os.getloadavg()[0], 2)},
        "date": time.strftime("%Y-%m-%d"),
    }
    write_result("video_decode", result, args.out)


if __name__ == "__main__":
    main()
