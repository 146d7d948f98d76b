"""FRP heat maps: the vectorised batch path against the official-style per-window loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionscope.errors import ConfigError, DataError
from motionscope.motion.frp import (
    dynamic_heatmaps,
    dynamic_heatmaps_reference,
    heatmap_of_clip,
    rank_pool_weights,
    window_maps,
)


def _moving_clips(b: int, t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Noisy clips with a bright square moving right: the heat must follow real motion."""
    rng = np.random.default_rng(seed)
    clips = rng.integers(0, 40, size=(b, t, h, w, 3)).astype(np.uint8)
    for i in range(b):
        for f in range(t):
            x0 = (2 * f + 3 * i) % (w - 8)
            clips[i, f, h // 3:h // 3 + 8, x0:x0 + 8] = 220
    return clips


def test_rank_pool_weights_sum_to_zero():
    assert rank_pool_weights(4) == [-3.0, -1.0, 1.0, 3.0]
    for n in range(1, 12):
        assert sum(rank_pool_weights(n)) == 0


@pytest.mark.parametrize("window", [4, 10])
def test_vectorised_equals_reference_loop(window):
    clips = _moving_clips(2, 16, 20, 24)
    fast = dynamic_heatmaps(torch.from_numpy(clips), window)
    assert fast.shape == (2, 1, 16, 20, 24) and fast.dtype == torch.float32
    for b in range(2):
        ref, dyn, static = dynamic_heatmaps_reference(clips[b], window, return_parts=True)
        np.testing.assert_allclose(fast[b].numpy(), ref, atol=1e-6, rtol=0)
        d, s = window_maps(torch.from_numpy(clips[b:b + 1]), window)
        np.testing.assert_allclose(d[0].numpy(), dyn, atol=1e-6, rtol=0)
        np.testing.assert_allclose(s[0].numpy(), static, atol=1e-6, rtol=0)


def test_chunked_cpu_path_is_the_same_maps(monkeypatch):
    """On the CPU a few windows are computed at a time: any chunk size gives the same maps."""
    import motionscope.motion.frp as frp

    clips = torch.from_numpy(_moving_clips(2, 20, 20, 24, seed=3))
    whole = dynamic_heatmaps(clips, 4)
    for chunk in (1, 2 * 20 * 24 * 3 * 3, 2 * 20 * 24 * 3 * 7):  # 1, 3 and 7 windows a chunk
        monkeypatch.setattr(frp, "CPU_CHUNK", chunk)
        assert torch.equal(dynamic_heatmaps(clips, 4), whole)
        d, s = window_maps(clips, 4)
        assert d.shape == s.shape == (2, 17, 20, 24)
    ref = dynamic_heatmaps_reference(clips[1].numpy(), 4)
    np.testing.assert_allclose(whole[1].numpy(), ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("hw", [(1, 1), (1, 5), (2, 2), (3, 2), (5, 1)])
def test_tiny_frames_match_opencv_morphology(hw):
    """The separable erode / dilate against OpenCV's at the edge cases of 1-3 pixel sides."""
    rng = np.random.default_rng(sum(hw))
    clip = rng.integers(0, 255, size=(6, *hw, 3)).astype(np.uint8)
    fast = heatmap_of_clip(torch.from_numpy(clip), 3)
    np.testing.assert_allclose(fast.numpy(), dynamic_heatmaps_reference(clip, 3), atol=1e-6, rtol=0)


def test_long_windows_accumulate_without_overflow():
    """uint8 frames are rank-pooled in integers (int16 for short windows, int32 beyond)."""
    clip = _moving_clips(1, 30, 20, 24, seed=5)[0]
    clip[::2] = 255  # the largest sums a window can reach
    clip[1::2] = 0
    fast = heatmap_of_clip(torch.from_numpy(clip), 25)
    np.testing.assert_allclose(fast.numpy(), dynamic_heatmaps_reference(clip, 25), atol=1e-6, rtol=0)


def test_leading_zero_maps_and_range():
    clips = _moving_clips(1, 14, 16, 32)
    heat = dynamic_heatmaps(torch.from_numpy(clips), 10)[0, 0]
    assert torch.count_nonzero(heat[:9]) == 0
    assert all(heat[t].max() > 0 for t in range(9, 14))
    assert heat.min() >= 0 and heat.max() <= 2 + 1e-6
    # the square is the moving thing: the heat is highest on its row band
    rows = torch.zeros(16, dtype=torch.bool)
    rows[16 // 3:16 // 3 + 8] = True
    assert heat[9:, rows].mean() > 3 * heat[9:, ~rows].mean()


def test_clip_shorter_than_window_gives_zero_maps():
    clips = torch.from_numpy(_moving_clips(2, 6, 12, 12))
    heat = dynamic_heatmaps(clips, 10)
    assert heat.shape == (2, 1, 6, 12, 12) and torch.count_nonzero(heat) == 0
    ref = dynamic_heatmaps_reference(clips[0].numpy(), 10)
    assert ref.shape == (1, 6, 12, 12) and not ref.any()


def test_normalised_float_frames_give_the_same_maps():
    clips = _moving_clips(1, 12, 16, 16, seed=3)
    raw = dynamic_heatmaps(torch.from_numpy(clips), 4)
    norm = dynamic_heatmaps((torch.from_numpy(clips).float() - 127.5) / 128, 4)
    torch.testing.assert_close(norm, raw, atol=1e-5, rtol=0)


def test_single_channel_and_single_clip():
    clips = torch.from_numpy(_moving_clips(1, 12, 16, 16))
    grey = clips[..., :1]
    heat = dynamic_heatmaps(grey, 4)
    assert heat.shape == (1, 1, 12, 16, 16) and heat[0, 0, 3:].amax() > 0
    torch.testing.assert_close(heatmap_of_clip(clips[0], 4), dynamic_heatmaps(clips, 4)[0])


def test_constant_clip_is_all_zero():
    clips = torch.full((1, 12, 8, 8, 3), 77, dtype=torch.uint8)
    assert torch.count_nonzero(dynamic_heatmaps(clips, 4)) == 0


def test_bad_shapes_and_windows():
    with pytest.raises(DataError, match="B, T, H, W, C"):
        dynamic_heatmaps(torch.zeros(12, 8, 8, 3), 4)
    with pytest.raises(DataError, match="channels"):
        dynamic_heatmaps(torch.zeros(1, 12, 8, 8, 2), 4)
    with pytest.raises(ConfigError, match="window"):
        dynamic_heatmaps(torch.zeros(1, 12, 8, 8, 3), 0)
    with pytest.raises(DataError, match="T, H, W, C"):
        heatmap_of_clip(torch.zeros(1, 12, 8, 8, 3), 4)
