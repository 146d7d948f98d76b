"""B-KinD extraction speed, a video file to keypoints: ours (``discover extract``'s path: frames
decoded in order, batched resize + normalisation, ``model.detect`` in eval mode on the finest
GlobalNet level) against the official ``extract_features.py`` loop (per frame: cv2 read, PIL
resize, ToTensor + Normalize, one image per forward with BatchNorm in training mode, all four
GlobalNet levels computed as ``Model.forward`` does), in fp32 and with ``--precision bf16``
(autocast: fast where the CPU has AVX512-BF16 or AMX); the fp32 network alone on a ready batch
(the ceiling of any fp32 speed-up that does the same arithmetic); then training pairs/s and peak
memory.
Both in one process, medians of ``--repeats`` runs.

    python benchmarks/bkind.py [--size 128] [--keypoints 10] [--frames 96] [--threads 1,2] [--full]

``--full`` uses the full ResNet-50 layout (the default is the bkind_world preset's CPU-sized
encoder). Results: benchmarks/results/bkind.json (one entry per thread count).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from common import median, timed, write_result
from PIL import Image

from motionscope.data.pairs import IMAGENET_MEAN, IMAGENET_STD
from motionscope.models.bkind import BKinD
from motionscope.motion.keypoints import heatmap_moments, spatial_softmax
from motionscope.tasks.discover import extract_source, for_extraction


def write_video(path: Path, frames: int, w: int = 320, h: int = 240) -> Path:
    """A lab-like clip: a grey arena with a dark blob walking about (content does not change
    the cost; the codec is what users have)."""
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (w, h))
    yy, xx = np.mgrid[:h, :w]
    for t in range(frames):
        cx, cy = w / 2 + 0.3 * w * np.cos(t / 15), h / 2 + 0.3 * h * np.sin(t / 11)
        img = np.full((h, w), 170, np.float32) - 120 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 300)
        out.write(cv2.cvtColor(img.clip(0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR))
    out.release()
    return path


def official_loop(model: BKinD, video: Path, size: int) -> np.ndarray:
    """extract_features.py's per-frame work; BatchNorm statistics restored afterwards."""
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    model.train()
    kps = []
    cap = cv2.VideoCapture(str(video))
    try:
        with torch.no_grad():
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                img = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).resize(
                    (size, size), Image.BILINEAR)
                x = (torch.from_numpy(np.asarray(img, np.float32) / 255.0).permute(2, 0, 1) - mean) / std
                outs = model.kptNet(model.encode(x[None]))  # every level, as Model.forward
                mom = heatmap_moments(spatial_softmax(outs[-1]))
                kps.append(torch.stack((mom["u_x"], mom["u_y"]), -1)[0].numpy())
    finally:
        cap.release()
        model.load_state_dict(saved)
        model.eval()
    return np.stack(kps)


def cpu_info() -> dict:
    """The CPU's model and whether it has bf16 instructions (what the bf16 figures depend on)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    model = next((ln.split(":", 1)[1].strip() for ln in text.splitlines()
                  if ln.startswith("model name")), None)
    flags = set(next((ln.split(":", 1)[1].split() for ln in text.splitlines()
                      if ln.startswith("flags")), []))
    return {"cpu_model": model, "avx512_bf16": "avx512_bf16" in flags, "amx_bf16": "amx_bf16" in flags}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--keypoints", type=int, default=10)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--train-batch", type=int, default=8)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(0)
    enc = {} if a.full else {"encoder_layers": (1, 1, 1, 1), "encoder_base_width": 8}
    model = BKinD(num_keypoints=a.keypoints, image_size=a.size, perceptual="pyramid", **enc).eval()
    settings = {"image_size": a.size, "grayscale": False, "crop": None, "mean": IMAGENET_MEAN,
                "std": IMAGENET_STD}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        video = write_video(Path(tmp) / "clip.mp4", a.frames)
        for n in map(int, a.threads.split(",")):
            torch.set_num_threads(n)
            cv2.setNumThreads(n)
            official = median(timed(lambda: official_loop(model, video, a.size), a.repeats))
            for_extraction(model, torch.device("cpu"))  # as discover extract does
            ours = median(timed(lambda: extract_source(model, video, settings, batch_size=a.batch,
                                                       show_progress=False), a.repeats))
            # the network alone on a ready batch: what fp32 costs with no decoding, resizing or
            # Python at all, so official / this bounds any fp32 speed-up with the same arithmetic
            xb = torch.randn(a.batch, 3, a.size, a.size).contiguous(memory_format=torch.channels_last)
            with torch.no_grad():
                net = median(timed(lambda xb=xb: model.detect(xb), 2 * a.repeats)) / a.batch
            ours16 = median(timed(lambda: extract_source(model, video, settings, batch_size=a.batch,
                                                         show_progress=False, precision="bf16"),
                                  a.repeats))
            model.to(memory_format=torch.contiguous_format)
            results[f"threads_{n}"] = {"extract_frames_per_s": round(a.frames / ours, 2),
                                       "extract_frames_per_s_official_loop": round(a.frames / official, 2),
                                       "extract_speedup": round(official / ours, 2),
                                       "extract_frames_per_s_bf16": round(a.frames / ours16, 2),
                                       "extract_speedup_bf16": round(official / ours16, 2),
                                       "network_only_frames_per_s_fp32": round(1 / net, 2),
                                       "fp32_speedup_ceiling": round(official / a.frames / net, 2)}
            print(n, results[f"threads_{n}"], flush=True)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    batch = {"image0": torch.randn(a.train_batch, 3, a.size, a.size),
             "image1": torch.randn(a.train_batch, 3, a.size, a.size)}
    model.train()

    def step():
        loss = sum(model(batch)["losses"].values())
        opt.zero_grad()
        loss.backward()
        opt.step()

    model.set_epoch(0)
    t_pre = median(timed(step, a.repeats))
    model.set_epoch(model.curriculum)
    t_cur = median(timed(step, a.repeats))
    write_result("bkind", {
        "config": vars(a),
        "extraction": results,
        **cpu_info(),
        "video": f"{a.frames} frames 320x240 mp4 (mp4v), squash-resized to {a.size}",
        "train_pairs_per_s": a.train_batch / t_pre,
        "train_pairs_per_s_with_curriculum": a.train_batch / t_cur,
        "train_threads": torch.get_num_threads(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "time": time.strftime("%H:%M:%S"),
    })


if __name__ == "__main__":
    main()
