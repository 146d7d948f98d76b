"""The reader's shared single-threaded swscale context gives PyAV's own RGB pixels."""

from __future__ import annotations

import av
import numpy as np

from motionscope.io.video import VideoReader, read_video, write_video


def _pyav_rgb(path, **kw) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24", **kw) for f in c.decode(video=0)])


def test_rgb_and_resized_frames_equal_pyav_conversion(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:48, :64]
    frames = np.stack([np.dstack([(xx * 4 + 9 * t) % 256, (yy * 5) % 256,
                                  rng.integers(0, 256, (48, 64))]) for t in range(12)])
    p = tmp_path / "a.mp4"
    write_video(p, frames.astype(np.uint8), fps=10)
    np.testing.assert_array_equal(read_video(p), _pyav_rgb(p))
    small = _pyav_rgb(p, width=32, height=24)
    np.testing.assert_array_equal(read_video(p, size=(24, 32)), small)
    with VideoReader(p, size=(24, 32)) as r:  # the context is reused after a seek
        np.testing.assert_array_equal(r.read([9, 2, 9]), small[[9, 2, 9]])
