"""B-KinD extraction speed: batched ``model.detect`` against the official loop (one image at a
time, BatchNorm in training mode), and training pairs/s with peak memory, in one process.

    python benchmarks/bkind.py [--size 128] [--keypoints 10] [--frames 64] [--full]

``--full`` uses the full ResNet-50 layout (the default is the bkind_world preset's CPU-sized
encoder, for the shared 2-core machine). Results: benchmarks/results/bkind.json.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch
from common import median, timed, write_result

from motionscope.models.bkind import BKinD


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--keypoints", type=int, default=10)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--train-batch", type=int, default=8)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(0)
    enc = {} if a.full else {"encoder_layers": (1, 1, 1, 1), "encoder_base_width": 8}
    model = BKinD(num_keypoints=a.keypoints, image_size=a.size, perceptual="pyramid", **enc)
    frames = torch.randn(a.frames, 3, a.size, a.size)

    def batched():
        for i in range(0, a.frames, a.batch):
            model.detect(frames[i:i + a.batch])

    def official():  # extract_features.py: one image per forward, BatchNorm in train mode
        model.official_bn_train = True
        try:
            for i in range(a.frames):
                model.detect(frames[i:i + 1])
        finally:
            model.official_bn_train = False

    tb = median(timed(batched, a.repeats))
    to = median(timed(official, a.repeats))
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
        "extract_frames_per_s_batched": a.frames / tb,
        "extract_frames_per_s_official_loop": a.frames / to,
        "extract_speedup": to / tb,
        "train_pairs_per_s": a.train_batch / t_pre,
        "train_pairs_per_s_with_curriculum": a.train_batch / t_cur,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "time": time.strftime("%H:%M:%S"),
    })


if __name__ == "__main__":
    main()
