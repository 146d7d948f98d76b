"""RGB clip pipeline throughput: clips/s from disk to augmented tensors, 2 DataLoader workers.

The same 24 clips are stored twice, as H.264 mp4 videos (``VideoDataset``, PyAV) and as JPEG
frame folders (``RawframeDataset``, quality 90), at 340x256 (frames extracted with a 256 short
side, the usual TSN/MMAction2 layout), 64 frames each. Content: the real mmaction2
``test.mp4`` (Kinetics clip, natural video) when ``../shared`` is beside the checkout, else a
procedural moving texture.

Measured per storage and configuration: one epoch over all clips through a ``DataLoader``
with ``num_workers`` workers (default 2) and batch 8, workers started fresh each epoch (as the
engine runs them), repeated; the median clips/s is reported, with the single-process rate
(``num_workers=0``) for reference. Configurations:

* ``mienet_train`` - MIE-Net Diving48/SSv2 sampling (8 segments x 4 frames = 32 frames),
  multi-scale crop + flip to 224;
* ``mienet_eval`` - the same frames, scale 256 + centre crop 224;
* ``tsn_train`` - 8 segments x 1 frame, multi-scale crop + flip.

Wall-clock rates depend on what else runs on the machine (the load average is recorded), so
the CPU time one process spends per clip is reported too, with the rate two idle cores would
give (``2000 / cpu_ms_per_clip``, workers scale linearly while cores are free).

    python benchmarks/video_pipeline.py [--repeats 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import machine, write_result  # noqa: E402

from motionscope.data.video import RawframeDataset, VideoDataset  # noqa: E402
from motionscope.io.rawframes import write_frames, write_rawframe_list  # noqa: E402
from motionscope.io.splits import write_video_csv  # noqa: E402
from motionscope.io.video import read_video, write_video  # noqa: E402

SHARED_CLIP = Path(os.environ.get("MOTIONSCOPE_SHARED", ROOT.parent / "shared")) / \
    "data" / "rgb_action_clips" / "mmaction2" / "test.mp4"
W, H, FRAMES, CLIPS = 340, 256, 64, 24
CONFIGS = {
    "mienet_train": {"training": True, "num_segments": 8, "frames_per_segment": 4},
    "mienet_eval": {"training": False, "num_segments": 8, "frames_per_segment": 4},
    "tsn_train": {"training": True, "num_segments": 8, "frames_per_segment": 1},
}


def _source() -> tuple[np.ndarray, str]:
    if SHARED_CLIP.exists():
        return read_video(SHARED_CLIP, size=(H, W)), f"real: {SHARED_CLIP.name} at {W}x{H}"
    rng = np.random.default_rng(0)
    tex = rng.integers(0, 256, (H * 2, W * 2, 3), dtype=np.uint8)
    frames = np.stack([np.roll(np.roll(tex, 2 * t, 0), 3 * t, 1)[:H, :W] for t in range(300)])
    return frames, "procedural moving texture"


def _write_set(d: Path, frames: np.ndarray) -> None:
    rows = []
    for i in range(CLIPS):
        start = (i * 11) % (len(frames) - FRAMES)
        clip = frames[start:start + FRAMES]
        write_video(d / "videos" / f"c{i:02d}.mp4", clip, fps=30)
        write_frames(d / "frames" / f"c{i:02d}", clip, quality=90)
        rows.append(i % 4)
    write_video_csv(d / "list.csv", [(f"c{i:02d}.mp4", lab) for i, lab in enumerate(rows)])
    write_rawframe_list(d / "list.txt", [(f"c{i:02d}", FRAMES, lab)
                                         for i, lab in enumerate(rows)])


def _epoch_rate(ds, workers: int) -> float:
    loader = DataLoader(ds, batch_size=8, shuffle=True, num_workers=workers,
                        persistent_workers=False)
    t0 = time.perf_counter()
    n = sum(len(b["label"]) for b in loader)
    return n / (time.perf_counter() - t0)


def _cpu_ms_per_clip(ds) -> float:
    """CPU time one process spends per clip (independent of other load on the machine)."""
    c0 = time.process_time()
    for i in range(len(ds)):
        ds[i]
    return 1000 * (time.process_time() - c0) / len(ds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" /
                                         "video_pipeline.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    frames, source = _source()
    load_before = os.getloadavg()
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        _write_set(d, frames)
        sizes = {"videos": sum(p.stat().st_size for p in (d / "videos").iterdir()),
                 "rawframes": sum(p.stat().st_size for p in (d / "frames").rglob("*.jpg"))}
        for cname, cfg in CONFIGS.items():
            for kind in ("videos", "rawframes"):
                if kind == "videos":
                    ds = VideoDataset(d / "list.csv", d / "videos", **cfg)
                else:
                    ds = RawframeDataset(d / "list.txt", d / "frames", **cfg)
                _epoch_rate(ds, args.workers)  # warm-up: page cache, codec init
                runs = [_epoch_rate(ds, args.workers) for _ in range(args.repeats)]
                single = [_epoch_rate(ds, 0) for _ in range(max(2, args.repeats // 2))]
                cpu_ms = statistics.median(_cpu_ms_per_clip(ds) for _ in range(3))
                sample = ds[0]["video"]
                results.setdefault(cname, {})[kind] = {
                    "clips_per_s": round(statistics.median(runs), 2),
                    "runs": [round(r, 2) for r in runs],
                    "clips_per_s_single_process": round(statistics.median(single), 2),
                    "cpu_ms_per_clip": round(cpu_ms, 1),
                    "clips_per_s_2_idle_cores": round(2000 / cpu_ms, 1),
                    "frames_per_clip": cfg["num_segments"] * cfg["frames_per_segment"],
                    "output_shape": list(sample.shape),
                }
                print(cname, kind, results[cname][kind], flush=True)
    result = {
        "benchmark": "video_pipeline",
        "what": f"clips/s from disk to augmented float tensors, DataLoader with {args.workers} "
                "workers (fresh each epoch), batch 8, one torch thread per process; median of "
                f"{args.repeats} epochs over {CLIPS} clips",
        "clips": {"source": source, "count": CLIPS, "frames": FRAMES, "size": [W, H],
                  "videos": "H.264 mp4, crf 18, preset veryfast (write_video defaults)",
                  "rawframes": "JPEG quality 90, img_{:05d}.jpg", "bytes": sizes},
        "configs": CONFIGS,
        "results": results,
        "machine": {**machine(), "cores": os.cpu_count(),
                    "loadavg_1m_before": round(load_before[0], 2),
                    "loadavg_1m_after": round(os.getloadavg()[0], 2)},
        "date": time.strftime("%Y-%m-%d"),
    }
    write_result("video_pipeline", result, args.out)


if __name__ == "__main__":
    main()
