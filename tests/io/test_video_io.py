"""PyAV video reading/writing: seeking equals sequential decode, determinism, bad files."""

from __future__ import annotations

import av
import numpy as np
import pytest

from motionscope.errors import DataError
from motionscope.io.video import VideoReader, iter_frames, read_video, video_info, write_video


def _clip(T=40, H=48, W=64) -> np.ndarray:
    """Frames that all differ (moving gratings + a frame-number bar) so misindexing shows."""
    yy, xx = np.mgrid[:H, :W]
    out = np.empty((T, H, W, 3), np.uint8)
    for t in range(T):
        g = np.sin((xx + 3 * t) / 6.0) + np.cos((yy - 2 * t) / 5.0)
        out[t, ..., 0] = (g * 60 + 128).clip(0, 255)
        out[t, ..., 1] = (t * 6) % 256
        out[t, ..., 2] = 255 - out[t, ..., 0]
    return out


def _nearest(decoded: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Index of the reference frame closest to each decoded frame."""
    d = np.abs(decoded[:, None].astype(np.int16) - ref[None].astype(np.int16)).mean((2, 3, 4))
    return d.argmin(1)


@pytest.mark.parametrize("name,codec,gop", [("a.mp4", "libx264", 8), ("b.mkv", "libx264", 6),
                                            ("c.avi", "mpeg4", 8), ("d.mp4", "libx264", None)])
def test_write_read_roundtrip_and_seek(tmp_path, name, codec, gop):
    ref = _clip()
    p = tmp_path / name
    write_video(p, ref, fps=25, codec=codec, gop=gop)
    info = video_info(p)
    assert (info.num_frames, info.width, info.height, info.fps) == (40, 64, 48, 25.0)
    assert info.codec == ("mpeg4" if codec == "mpeg4" else "h264")
    full = read_video(p)
    assert full.shape == ref.shape and full.dtype == np.uint8
    assert (_nearest(full, ref) == np.arange(40)).all()  # lossy but in order
    assert np.abs(full.astype(int) - ref).mean() < 8
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 40, 15)
    np.testing.assert_array_equal(read_video(p, indices=idx), full[idx])
    for i in (39, 0, 17, 16, 8, 7):  # single frames around keyframes, backwards
        np.testing.assert_array_equal(read_video(p, indices=[i])[0], full[i])
    np.testing.assert_array_equal(read_video(p, start=13, num=9), full[13:22])
    np.testing.assert_array_equal(np.stack(list(iter_frames(p, start=30))), full[30:])


def test_write_is_deterministic_and_atomic(tmp_path):
    ref = _clip(T=12)
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    write_video(a, ref, fps=30)
    write_video(b, iter(ref), fps=30)  # an iterator of frames gives the same bytes
    assert a.read_bytes() == b.read_bytes()
    bad = ref.copy().astype(np.float32)
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "c.mp4", bad)
    frames = list(ref)
    frames[5] = frames[5][:, :-2]
    with pytest.raises(ValueError, match="frame 5"):
        write_video(tmp_path / "c.mp4", frames)
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "c.mp4", np.zeros((2, 15, 16, 3), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "b.mp4"]


def test_avi_with_b_frames_reads_in_display_order(tmp_path):
    ref = _clip(T=30)
    p = tmp_path / "b.avi"
    with av.open(str(p), "w") as c:  # an AVI with B-frames and open GOPs
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.gop_size, s.codec_context.max_b_frames = 8, 2
        for t, img in enumerate(ref):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = t
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    full = read_video(p)
    assert (_nearest(full, ref) == np.arange(30)).all()
    for i in (29, 9, 8, 3):
        np.testing.assert_array_equal(read_video(p, indices=[i])[0], full[i])


def test_reader_resize_and_reuse(tmp_path):
    ref = _clip()
    p = tmp_path / "a.mp4"
    write_video(p, ref, gop=10)
    with VideoReader(p, size=(24, 32)) as r:
        assert len(r) == 40
        small = r.read([3, 30, 3])
        assert small.shape == (3, 24, 32, 3)
        np.testing.assert_array_equal(small[0], small[2])
        again = r.read([31])  # forward from the current position
        assert again.shape == (1, 24, 32, 3)
        with pytest.raises(IndexError, match="frame 40 out of range"):
            r.read([40])
        assert r.read([]).shape == (0, 24, 32, 3)


REAL_CLIPS = [
    ("mmskeleton_kinetics/clean_and_jerk.mp4", 300, 340, 256, "h264"),
    ("mmaction2/test.avi", 164, 320, 240, "mpeg4"),
    ("mmskeleton_kinetics/ta_chi.mp4", 300, 340, 256, "h264"),
]


@pytest.mark.parametrize("rel,frames,w,h,codec", REAL_CLIPS)
def test_real_clips_seek_matches_sequential_decode(shared_data, rel, frames, w, h, codec):
    p = shared_data("rgb_action_clips", rel)
    info = video_info(p)
    assert (info.num_frames, info.width, info.height, info.codec) == (frames, w, h, codec)
    full = read_video(p)
    assert full.shape == (frames, h, w, 3)
    idx = np.random.default_rng(1).integers(0, frames, 10)
    np.testing.assert_array_equal(read_video(p, indices=idx), full[idx])
    np.testing.assert_array_equal(read_video(p, indices=[frames - 1])[0], full[-1])
    # consecutive frames of a real clip are more alike than frames far apart
    d1 = np.abs(np.diff(full[:20].astype(np.int16), axis=0)).mean()
    d2 = np.abs(full[:10].astype(np.int16) - full[-10:].astype(np.int16)).mean()
    assert d1 < d2


def test_real_ntu_avi_h264(shared_data):
    p = shared_data("rgb_action_clips", "ntu_rgbd", "S001C001P001R001A001_rgb.avi")
    info = video_info(p)
    assert (info.num_frames, info.width, info.height, info.fps) == (103, 1920, 1080, 30.0)
    small = read_video(p, indices=[30, 0], size=(135, 240))
    assert small.shape == (2, 135, 240, 3)
    # the decoder's output order is the display order even though the AVI's pts are not
    seq = read_video(p, start=28, num=4, size=(135, 240))
    np.testing.assert_array_equal(seq[2], small[0])


def test_bad_videos(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(DataError, match=r"garbage\.mp4"):
        read_video(garbage)
    with pytest.raises(DataError, match="not found"):
        video_info(tmp_path / "absent.mp4")
    p = tmp_path / "good.mp4"
    write_video(p, _clip())
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(p.read_bytes()[: p.stat().st_size // 2])  # moov at the end is lost
    with pytest.raises(DataError, match=r"cut\.mp4"):
        read_video(cut)
    # header first (faststart), then half the frames' data missing
    fs = tmp_path / "fs.mp4"
    with av.open(str(fs), "w", options={"movflags": "+faststart"}) as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for t, img in enumerate(_clip()):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = t
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    cut2 = tmp_path / "cut2.mp4"
    cut2.write_bytes(fs.read_bytes()[: int(fs.stat().st_size * 0.6)])
    with pytest.raises(DataError, match=r"cut2\.mp4.*truncated"):
        read_video(cut2)
    with pytest.raises(DataError, match=r"cut2\.mp4"):
        read_video(cut2, indices=[39])
