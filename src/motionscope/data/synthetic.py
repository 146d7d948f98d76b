"""Generated tensor datasets: learnable, deterministic per index, no files.

They let the engine be tested end to end (and the demo run) before any dataset is on disk:
each class moves with its own frequency and phase pattern, so a model that reads motion can
separate them while a single frame carries little class information.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, {"train": 0, "val": 1, "test": 2}.get(split, 3), index])


class SyntheticSkeletonDataset(Dataset):
    """Skeleton sequences ``(C, T, V, M)`` whose joint trajectories oscillate per class."""

    def __init__(self, split: str = "train", num_samples: int = 256, num_classes: int = 10,
                 frames: int = 16, num_joints: int = 25, num_persons: int = 2, channels: int = 3,
                 seed: int = 0):
        self.split, self.n, self.k = split, num_samples, num_classes
        self.t, self.v, self.m, self.c, self.seed = frames, num_joints, num_persons, channels, seed
        self.classes = [f"class_{i}" for i in range(num_classes)]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict:
        g = _rng(self.seed, self.split, index)
        label = index % self.k
        base = g.normal(0, 0.1, (self.c, 1, self.v, self.m))
        t = np.arange(self.t)[None, :, None, None]
        freq = 1.0 + 0.5 * (label % 3)  # cycles per clip
        phase = g.uniform(0, 2 * np.pi)
        # which joints move, and along which axis, depends on the class
        joint_gain = np.cos(np.arange(self.v) * 0.9 * (label // 3 + 1))[None, None, :, None]
        axis = np.zeros((self.c, 1, 1, 1))
        axis[label % self.c] = 1.0
        motion = 0.5 * axis * joint_gain * np.sin(2 * np.pi * freq * t / self.t + phase)
        x = base + motion + g.normal(0, 0.03, (self.c, self.t, self.v, self.m))
        return {"skeleton": torch.from_numpy(x.astype(np.float32)), "label": label,
                "index": index}


class SyntheticClipDataset(Dataset):
    """RGB clips ``(3, T, H, W)``: a blob moving in a class-specific direction and speed."""

    def __init__(self, split: str = "train", num_samples: int = 256, num_classes: int = 10,
                 frames: int = 8, size: int = 32, seed: int = 0):
        self.split, self.n, self.k, self.t, self.s, self.seed = split, num_samples, num_classes, \
            frames, size, seed
        self.classes = [f"class_{i}" for i in range(num_classes)]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict:
        g = _rng(self.seed, self.split, index)
        label = index % self.k
        angle = 2 * np.pi * label / self.k
        speed = self.s / (3.0 * self.t)
        cy, cx = g.uniform(0.35, 0.65, 2) * self.s
        yy, xx = np.mgrid[0 : self.s, 0 : self.s].astype(np.float32)
        colour = g.uniform(0.3, 1.0, 3)[:, None, None, None]
        frames = []
        for i in range(self.t):
            py, px = cy + speed * i * np.sin(angle), cx + speed * i * np.cos(angle)
            frames.append(np.exp(-((yy - py) ** 2 + (xx - px) ** 2) / (2 * (self.s / 10) ** 2)))
        clip = colour * np.stack(frames)[None] + g.normal(0, 0.05, (3, self.t, self.s, self.s))
        return {"video": torch.from_numpy(clip.astype(np.float32)), "label": label, "index": index}
