"""Paired streams (RGB and depth of a clip, two frames of a pair) get one random draw."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from motionscope.data.transforms import TrainClipTransform


def test_paired_streams_share_one_crop_and_flip():
    t = TrainClipTransform(24, flip=True, mean=(0, 0, 0), std=(1, 1, 1))
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (3, 40, 56, 3), dtype=np.uint8)
    depth = rgb[..., :1].astype(np.uint16) * 10  # the same picture, as 16-bit "depth"
    flips = set()
    for seed in range(12):
        a, d = t.paired(rgb, depth, rng=random.Random(seed), normalise=[True, False])
        assert a.shape == (3, 3, 24, 24) and d.shape == (1, 3, 24, 24) and d.dtype == torch.float32
        # same crop and flip: depth / 10 is the red channel, to interpolation rounding
        torch.testing.assert_close(d[0] / 10, a[0] * 255, atol=1.0, rtol=0)
        flips.add(t.draw(56, 40, random.Random(seed))["flip"])
    assert flips == {True, False}
    # one stream alone is what the plain call gives with the same draw
    one = t(rgb, random.Random(3))
    torch.testing.assert_close(one, t.paired(rgb, rng=random.Random(3))[0])


def test_paired_streams_of_different_sizes_are_refused():
    t = TrainClipTransform(16)
    with pytest.raises(ValueError, match="share H x W"):
        t.paired(np.zeros((2, 20, 20, 3), np.uint8), np.zeros((2, 10, 10, 1), np.uint16))
