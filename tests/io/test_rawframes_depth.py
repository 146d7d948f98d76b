"""Frame folders, rawframe lists and 16-bit depth PNG folders."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motionscope.errors import DataError
from motionscope.io.depth import detect_depth_template, read_depth_folder, write_depth_folder
from motionscope.io.index import Sample
from motionscope.io.rawframes import (
    FrameTemplate,
    count_frames,
    read_frames,
    read_rawframe_list,
    write_frames,
    write_rawframe_list,
)


def _frames(T=5, H=20, W=24):
    """Smooth, different frames (JPEG keeps them within a few grey levels)."""
    yy, xx = np.mgrid[:H, :W]
    out = np.empty((T, H, W, 3), np.uint8)
    for t in range(T):
        out[t, ..., 0] = 128 + 100 * np.sin((xx + 2 * t) / 5.0)
        out[t, ..., 1] = 128 + 100 * np.cos((yy - t) / 4.0)
        out[t, ..., 2] = 40 * t
    return out


def test_frames_roundtrip_png_exact_and_jpeg_close(tmp_path):
    ref = _frames()
    assert write_frames(tmp_path / "png", ref, template="{:06d}.png") == 5
    assert (tmp_path / "png" / "000001.png").exists()
    np.testing.assert_array_equal(read_frames(tmp_path / "png", template="{:06d}.png"), ref)
    write_frames(tmp_path / "jpg", ref, quality=95)
    assert sorted(p.name for p in (tmp_path / "jpg").iterdir())[0] == "img_00001.jpg"
    assert count_frames(tmp_path / "jpg") == 5
    got = read_frames(tmp_path / "jpg", [4, 0, 4])
    assert got.shape == (3, 20, 24, 3)
    assert np.abs(got.astype(int) - ref[[4, 0, 4]]).mean() < 6
    np.testing.assert_array_equal(got[0], got[2])
    # channel order: a pure red frame stays red (RGB in, RGB out)
    red = np.zeros((1, 16, 16, 3), np.uint8)
    red[..., 0] = 255
    write_frames(tmp_path / "red", red, template="f{:03d}.png", start=0)
    assert (read_frames(tmp_path / "red", [0], template="f{:03d}.png", start=0)[0, ..., 0]
            == 255).all()


def test_write_frames_is_deterministic_and_atomic(tmp_path):
    ref = _frames()
    write_frames(tmp_path / "a", ref)
    write_frames(tmp_path / "b", ref)
    for i in range(1, 6):
        name = f"img_{i:05d}.jpg"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()

    def bad_frames():
        yield ref[0]
        yield ref[1].astype(np.float32)

    with pytest.raises(ValueError, match="frame 1"):
        write_frames(tmp_path / "c", bad_frames())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no half-written folder
    # rewriting a shorter clip into an existing folder leaves no stale frames, other files stay
    (tmp_path / "a" / "flow_x_00001.jpg").write_bytes(b"x")
    write_frames(tmp_path / "a", ref[:2])
    assert count_frames(tmp_path / "a") == 2
    assert (tmp_path / "a" / "flow_x_00001.jpg").exists()


def test_gray_and_rgba_become_rgb(tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    gray = np.full((8, 8), 77, np.uint8)
    cv2.imwrite(str(d / "img_00001.png"), gray)
    bgra = np.zeros((8, 8, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 200, 10  # blue, almost transparent
    cv2.imwrite(str(d / "img_00002.png"), bgra)
    got = read_frames(d, template="img_{:05d}.png")
    assert got.shape == (2, 8, 8, 3)
    assert (got[0] == 77).all()
    assert (got[1, ..., 2] == 200).all() and (got[1, ..., :2] == 0).all()  # alpha dropped


def test_frame_folder_errors(tmp_path):
    write_frames(tmp_path / "v", _frames())
    (tmp_path / "v" / "img_00003.jpg").unlink()
    with pytest.raises(DataError, match=r"v: frame img_00003\.jpg is missing"):
        count_frames(tmp_path / "v")
    with pytest.raises(DataError, match=r"img_00003\.jpg.*missing"):
        read_frames(tmp_path / "v", [2])
    with pytest.raises(DataError, match=r"img_00003\.jpg is missing"):
        read_frames(tmp_path / "v")
    np.testing.assert_array_equal(read_frames(tmp_path / "v", [3]).shape, (1, 20, 24, 3))
    (tmp_path / "v" / "img_00004.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"img_00004\.jpg: not a readable image"):
        read_frames(tmp_path / "v", [3])
    with pytest.raises(DataError, match="not found"):
        count_frames(tmp_path / "absent")
    with pytest.raises(DataError, match="starts at 2"):
        write_frames(tmp_path / "w", _frames(), start=2)
        count_frames(tmp_path / "w")
    with pytest.raises(ValueError, match="one positional field"):
        FrameTemplate("img_{}_{}.jpg")


def test_rawframe_list_roundtrip(tmp_path):
    samples = [Sample("ucf/v_ApplyEyeMakeup_g01_c01", 120, 0), Sample("ucf/with space", 7, 3)]
    p = tmp_path / "train.txt"
    write_rawframe_list(p, samples)
    assert p.read_text() == "ucf/v_ApplyEyeMakeup_g01_c01 120 0\nucf/with space 7 3\n"
    got = read_rawframe_list(p, root="/data")
    assert [(s.path, s.num_frames, s.label) for s in got] == [
        ("/data/ucf/v_ApplyEyeMakeup_g01_c01", 120, 0), ("/data/ucf/with space", 7, 3)]
    # THU-READ lists start with a space; blank lines and comments are skipped
    p.write_text(" RGB_open_laptop_lhh_2 169 2\n\n# comment\n")
    assert read_rawframe_list(p)[0].path == "RGB_open_laptop_lhh_2"
    p.write_text("a 10 0\nb ten 1\n")
    with pytest.raises(DataError, match=r"train\.txt: line 2"):
        read_rawframe_list(p)
    p.write_text("a 10\n")
    with pytest.raises(DataError, match="line 1"):
        read_rawframe_list(p)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"[A-Za-z0-9_/.\-]{1,20}", fullmatch=True),
                          st.integers(0, 10**6), st.integers(0, 999)), max_size=8))
def test_rawframe_list_property(tmp_path_factory, rows):
    p = tmp_path_factory.mktemp("lists") / "l.txt"
    write_rawframe_list(p, rows)
    assert [(s.path, s.num_frames, s.label) for s in read_rawframe_list(p)] == rows


# ----------------------------------------------------------------------------- depth
def test_depth_roundtrip_ntu_names(tmp_path):
    rng = np.random.default_rng(0)
    depth = rng.integers(0, 8000, (4, 12, 16)).astype(np.uint16)
    depth[0, 0, 0] = 65535
    write_depth_folder(tmp_path / "S001C001P001R001A001", depth)
    assert (tmp_path / "S001C001P001R001A001" / "MDepth-00000001.png").exists()
    assert detect_depth_template(tmp_path / "S001C001P001R001A001") == ("MDepth-{:08d}.png", 1)
    got = read_depth_folder(tmp_path / "S001C001P001R001A001")
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, depth)
    np.testing.assert_array_equal(
        read_depth_folder(tmp_path / "S001C001P001R001A001", indices=[3, 1]), depth[[3, 1]])
    with pytest.raises(ValueError, match="uint16"):
        write_depth_folder(tmp_path / "x", depth.astype(np.float32))


def test_depth_detects_unpadded_names(tmp_path):
    d = tmp_path / "seq"
    d.mkdir()
    for i in range(1, 12):
        cv2.imwrite(str(d / f"d{i}.png"), np.full((4, 4), i * 10, np.uint16))
    assert detect_depth_template(d) == ("d{}.png", 1)
    got = read_depth_folder(d)
    assert got[:, 0, 0].tolist() == [i * 10 for i in range(1, 12)]


def test_depth_errors(tmp_path):
    d = tmp_path / "eight"
    write_depth_folder(d, np.ones((3, 4, 4), np.uint16))
    cv2.imwrite(str(d / "MDepth-00000002.png"), np.ones((4, 4), np.uint8))
    with pytest.raises(DataError, match=r"MDepth-00000002\.png: 8-bit PNG where 16-bit"):
        read_depth_folder(d)
    (d / "MDepth-00000002.png").unlink()
    with pytest.raises(DataError, match=r"eight: depth frame MDepth-00000002\.png is missing"):
        read_depth_folder(d)
    (d / "notes.png").write_bytes(b"")
    with pytest.raises(DataError, match="no frame number"):
        read_depth_folder(d)
    with pytest.raises(DataError, match="not found"):
        read_depth_folder(tmp_path / "absent")
    rgb = tmp_path / "rgb"
    rgb.mkdir()
    cv2.imwrite(str(rgb / "001.png"), np.ones((4, 4, 3), np.uint16))
    with pytest.raises(DataError, match="single-channel"):
        read_depth_folder(rgb)


def test_real_depth_sample(shared_data):
    d = shared_data("depth_png_sample", "png_a01_s01_e01")
    assert detect_depth_template(d) == ("{:03d}.png", 1)
    depth = read_depth_folder(d)
    assert depth.shape == (54, 240, 160) and depth.dtype == np.uint16
    body = depth[depth > 0]
    assert 0.1 < (depth > 0).mean() < 0.5  # the person fills part of the masked frame
    lo, mid = np.percentile(body, [5, 50])
    assert 480 <= lo and 500 < mid < 540 and body.max() <= 570  # SOURCE: ~490-556 mm on the body


@pytest.mark.parametrize("rel", ["../frames", "ucf/../../frames", "/abs/frames"])
def test_rawframe_list_folders_cannot_leave_the_root(tmp_path, rel):
    p = tmp_path / "train.txt"
    p.write_text(f"ucf/ok 4 0\n# comment\n{rel} 4 1\n")
    with pytest.raises(DataError, match=rf"train\.txt: line 3: path '{rel}'"):
        read_rawframe_list(p, root=tmp_path / "data")
    assert [s.meta for s in read_rawframe_list(p)] == [  # no root: kept as written
        {"list": str(p), "line": 1}, {"list": str(p), "line": 3}]
