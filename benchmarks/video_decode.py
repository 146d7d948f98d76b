"""Video decode/encode speed of ``motionscope.io.video`` on a 224x224 H.264 mp4, per core.

Everything runs single-threaded in one process (``threads=1``), so frames/s is frames/s per
core. The clip is the real mmaction2 ``test.mp4`` resized to 224x224 (300 frames of natural
video) when ``../shared`` is beside the checkout, else a procedural textured clip; it is
encoded with :func:`write_video` defaults (libx264, crf 18, preset veryfast), as the embedded
world writes its videos. Each measurement is repeated and the median reported; the load
average is recorded because the development machines are shared.

    python benchmarks/video_decode.py [--repeats 7] [--out benchmarks/results/video_decode.json]

Measured:
* ``decode_only``: PyAV decoding of every frame, no pixel conversion (the codec's cost);
* ``read_video``: :func:`read_video` of the whole clip to a uint8 RGB array (what users get);
* ``random_access_32``: :meth:`VideoReader.read` of 32 sorted random frames (a training clip);
  frames/s counts returned frames;
* ``write_video``: encoding speed of the writer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from motionscope.fsutil import atomic_write_text  # noqa: E402
from motionscope.io.video import VideoReader, read_video, write_video  # noqa: E402

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


def _median_rate(fn, frames: int, repeats: int) -> dict:
    fn()  # warm-up (page cache, codec init)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        rates.append(frames / (time.perf_counter() - t0))
    return {"frames_per_s": round(statistics.median(rates), 1),
            "runs": [round(r, 1) for r in rates]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "video_decode.json"))
    args = ap.parse_args()
    frames, source = _source_frames()
    T = len(frames)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "clip224.mp4"
        enc = _median_rate(lambda: write_video(path, frames, fps=30), T, max(3, args.repeats // 2))
        load_before = os.getloadavg()
        res = {
            "decode_only": _median_rate(lambda: _decode_only(path), T, args.repeats),
            "read_video": _median_rate(lambda: read_video(path), T, args.repeats),
        }
        rng = np.random.default_rng(0)
        idx = [np.sort(rng.choice(T, 32, replace=False)) for _ in range(args.repeats + 1)]
        it = iter(idx)

        def random_clip():
            with VideoReader(path) as r:
                r.read(next(it))

        res["random_access_32"] = _median_rate(random_clip, 32, args.repeats)
        res["write_video"] = enc
        size_bytes = path.stat().st_size
        with av.open(str(path)) as c:
            keyframes = sum(1 for p in c.demux(video=0) if p.size and p.is_keyframe)
    result = {
        "benchmark": "video_decode",
        "what": "frames/s per core (threads=1, one process) for a 224x224 H.264 mp4",
        "goal": ">= 1000 frames/s per core for decoding (issue #3)",
        "clip": {"source": source, "frames": T, "size": [224, 224], "codec": "libx264 crf 18 "
                 "preset veryfast (write_video defaults)", "bytes": size_bytes,
                 "keyframes": keyframes},
        "results": res,
        "pass_decode_only": res["decode_only"]["frames_per_s"] >= 1000,
        "pass_read_video": res["read_video"]["frames_per_s"] >= 1000,
        "machine": {"cpu": _cpu_name(), "cores": os.cpu_count(), "python":
                    platform.python_version(), "pyav": av.__version__,
                    "ffmpeg_libavcodec": av.library_versions.get("libavcodec"),
                    "loadavg_1m_before": round(load_before[0], 2),
                    "loadavg_1m_after": round(os.getloadavg()[0], 2)},
        "date": time.strftime("%Y-%m-%d"),
    }
    text = json.dumps(result, indent=2) + "\n"
    atomic_write_text(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
