"""Stimulus clip writers: exactness, history-independent bytes, frame rates, odd widths, GIFs."""

from __future__ import annotations

import numpy as np

from motionscope.io.video import read_video, video_info
from motionscope.stimuli.encode import ClipEncoder, gray_to_i420, write_gif, write_gray_mp4


def _dots(seed: int, T: int = 6, H: int = 48, W: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = np.zeros((T, H, W), np.uint8)
    for t in range(T):
        for _ in range(5):
            y, x = rng.integers(2, [H - 2, W - 2])
            g[t, y - 1:y + 2, x - 1:x + 2] = rng.integers(100, 256)
    return g


def test_lossless_and_default_quality(tmp_path):
    g = _dots(0)
    write_gray_mp4(tmp_path / "lossless.mp4", g, 10.0, qp=0)
    back = read_video(tmp_path / "lossless.mp4")
    assert back.shape == (6, 48, 64, 3) and np.abs(back[..., 0].astype(int) - g).max() <= 1
    write_gray_mp4(tmp_path / "q18.mp4", g, 10.0)
    back = read_video(tmp_path / "q18.mp4")[..., 0].astype(int)
    assert np.abs(back - g).mean() < 1.0


def test_clip_bytes_do_not_depend_on_what_was_encoded_before(tmp_path):
    a, b = gray_to_i420(_dots(1)), gray_to_i420(_dots(2, T=3))
    e1 = ClipEncoder(64, 48)
    e1.write(tmp_path / "b_alone.mp4", b, 10.0)
    e2 = ClipEncoder(64, 48)
    e2.write(tmp_path / "a.mp4", a, 10.0)
    e2.write(tmp_path / "a2.mp4", a, 10.0)
    e2.write(tmp_path / "b_after.mp4", b, 10.0)
    assert (tmp_path / "b_alone.mp4").read_bytes() == (tmp_path / "b_after.mp4").read_bytes()
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "a2.mp4").read_bytes()


def test_frame_rate_and_unaligned_sizes(tmp_path):
    g = _dots(3, T=4, H=518, W=154)  # rows not a multiple of the encoder's alignment
    write_gray_mp4(tmp_path / "x.mp4", g, 30 * 4 / 32)
    info = video_info(tmp_path / "x.mp4")
    assert (info.num_frames, info.height, info.width) == (4, 518, 154)
    assert abs(info.fps - 3.75) < 1e-6
    assert np.abs(read_video(tmp_path / "x.mp4")[..., 0].astype(int) - g).mean() < 1.0


def test_gif(tmp_path):
    from PIL import Image

    write_gif(tmp_path / "g.gif", _dots(4), fps=5)
    with Image.open(tmp_path / "g.gif") as im:
        assert im.n_frames == 6 and im.size == (64, 48) and im.info["duration"] == 200


def test_sparse_clips_encode_like_dense_ones(tmp_path):
    from motionscope.stimuli.render import draw_dots, draw_dots_sparse

    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 60, (5, 7, 2))
    alpha = rng.uniform(0.3, 1.0, (5, 7))
    sparse = draw_dots_sparse(xy, alpha, (48, 64), 1.4)
    dense = draw_dots(xy, alpha, (48, 64), 1.4)
    assert np.array_equal(sparse.dense(), dense) and len(sparse) == 5
    assert np.array_equal(sparse.take([4, 0, 0]).dense(), dense[[4, 0, 0]])
    write_gray_mp4(tmp_path / "d.mp4", dense, 10.0)
    write_gray_mp4(tmp_path / "s.mp4", sparse, 10.0)
    assert (tmp_path / "d.mp4").read_bytes() == (tmp_path / "s.mp4").read_bytes()
