"""Samplers whose global batches do not depend on the number of processes.

With :class:`ShardedBatchSampler` the global batch at step ``i`` is the same set of samples
whether one process takes all of it or ``W`` processes take ``1/W`` each, so a DDP run and a
single-process run of the same global batch compute the same gradients, and a resumed run
replays exactly the same order (the permutation depends only on ``seed`` and ``epoch``).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ShardedBatchSampler(Sampler[list[int]]):
    """Yields this rank's slice of each global batch of a seeded per-epoch permutation."""

    def __init__(self, num_samples: int, batch_size: int, world_size: int = 1, rank: int = 0,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = True):
        if num_samples <= 0:
            raise ValueError("the dataset is empty")
        self.n, self.bs, self.world, self.rank = num_samples, batch_size, world_size, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        self.global_bs = batch_size * world_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        if self.drop_last:
            return max(self.n // self.global_bs, 1 if self.n >= self.world else 0)
        return -(-self.n // self.global_bs)

    def __iter__(self) -> Iterator[list[int]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        gbs = self.global_bs if self.n >= self.global_bs else self.n - self.n % self.world
        for b in range(len(self)):
            chunk = order[b * gbs : (b + 1) * gbs]
            if not chunk:
                return
            per = -(-len(chunk) // self.world)
            mine = chunk[self.rank * per : (self.rank + 1) * per]
            if mine:
                yield mine


class ShardedEvalSampler(Sampler[int]):
    """Every sample exactly once across ranks (no padding), so reduced metrics are exact."""

    def __init__(self, num_samples: int, world_size: int = 1, rank: int = 0):
        self.indices = list(range(rank, num_samples, world_size))

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)
