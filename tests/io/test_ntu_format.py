"""NTU RGB+D .skeleton reader/writer: real samples, round trips, names, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from motionscope.errors import DataError
from motionscope.io.ntu import (
    INFO_FIELDS,
    NTUBody,
    NTUSkeleton,
    format_ntu_name,
    parse_ntu_name,
    read_missing_list,
    read_skeleton,
    write_skeleton,
)

# frames / bodies per real sample, from ntu_rgbd_skeleton_samples/SOURCE.txt
REAL = {
    "S001C001P001R001A011": (82, 1),
    "S002C001P003R001A003": (100, 1),
    "S003C001P015R001A034": (71, 1),
    "S004C002P003R001A017": (124, 1),
    "S001C003P008R002A058": (70, 2),
}


def _dense(skel: NTUSkeleton):
    """Per-body dense arrays (NaN joints where absent) to feed write_skeleton."""
    M, T = len(skel.bodies), skel.num_frames
    out = {
        "joints": np.full((M, T, 25, 3), np.nan), "depth_xy": np.zeros((M, T, 25, 2)),
        "color_xy": np.zeros((M, T, 25, 2)), "orientation": np.zeros((M, T, 25, 4)),
        "tracking": np.zeros((M, T, 25)), "info": np.zeros((M, T, 9)),
    }
    for m, b in enumerate(skel.bodies):
        for k in out:
            out[k][m, b.frame_index] = getattr(b, k)
    return out


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_sample_parses_and_rewrites_byte_identical(shared_data, tmp_path, name):
    src = shared_data("ntu_rgbd_skeleton_samples", f"{name}.skeleton")
    skel = read_skeleton(src)
    frames, bodies = REAL[name]
    assert skel.num_frames == frames and len(skel.bodies) == bodies
    assert skel.name == name and (skel.body_counts == bodies).all()
    for b in skel.bodies:
        assert b.joints.shape == (frames, 25, 3) and b.joints.dtype == np.float32
        assert b.depth_xy.shape == b.color_xy.shape == (frames, 25, 2)
        assert b.orientation.shape == (frames, 25, 4) and b.info.shape == (frames, 9)
        assert set(np.unique(b.tracking)) <= {0, 1, 2}
        # Kinect camera space: people stand 1.5-5 m in front of the sensor
        assert 1.0 < np.median(b.joints[..., 2]) < 5.0
        # colour pixels lie inside the 1920x1080 frame
        assert (b.color_xy[..., 0] < 1920).mean() > 0.99
    arr = skel.to_array(max_bodies=2)
    assert arr.shape == (2, frames, 25, 3) and arr.dtype == np.float32
    if bodies == 1:
        assert not arr[1].any()
    out = tmp_path / f"{name}.skeleton"
    write_skeleton(out, body_ids=[b.body_id for b in skel.bodies], **_dense(skel))
    assert out.read_bytes() == src.read_bytes()


def test_two_person_sample_has_distinct_ids(shared_data):
    skel = read_skeleton(shared_data("ntu_rgbd_skeleton_samples", "S001C003P008R002A058.skeleton"))
    a, b = skel.bodies
    assert a.body_id != b.body_id and a.body_id.isdigit()
    assert (a.order == 0).all() and (b.order == 1).all()
    # two people shaking hands: their spine bases are apart but within arm's reach
    d = np.linalg.norm(a.joints[:, 0] - b.joints[:, 0], axis=-1)
    assert (d > 0.3).all() and (d < 2.5).all()
    assert parse_ntu_name(skel.name).label == 57


def test_missing_list(shared_data):
    names = read_missing_list(
        shared_data("ntu_rgbd_skeleton_samples", "NTU_RGBD_samples_with_missing_skeletons.txt"))
    assert len(names) == 302
    assert "S001C002P005R002A008" in names
    assert all(len(n) == 20 for n in names)


def test_missing_list_rejects_garbage(tmp_path):
    p = tmp_path / "missing.txt"
    p.write_text("S001C002P005R002A008\nhello\n")
    with pytest.raises(DataError, match=r"missing\.txt.*line 2"):
        read_missing_list(p)


@pytest.mark.parametrize("text", [
    "S001C002P003R002A006", "/data/nturgb+d_skeletons/S001C002P003R002A006.skeleton",
    "S001C002P003R002A006_rgb.avi", "S001C002P003R002A006_depth"])
def test_parse_ntu_name(text):
    n = parse_ntu_name(text)
    assert n == (1, 2, 3, 2, 6) and n.label == 5 and n.name == "S001C002P003R002A006"


def test_format_ntu_name_roundtrip():
    assert format_ntu_name(17, 3, 106, 2, 120) == "S017C003P106R002A120"
    assert parse_ntu_name(format_ntu_name(32, 1, 1, 1, 1)) == (32, 1, 1, 1, 1)
    with pytest.raises(ValueError):
        format_ntu_name(1000, 1, 1, 1, 1)
    with pytest.raises(DataError, match="not an NTU sample name"):
        parse_ntu_name("video_0001.mp4")


def test_roundtrip_with_empty_frames_and_gaps(tmp_path):
    rng = np.random.default_rng(0)
    M, T = 3, 12
    joints = rng.normal(0, 1, (M, T, 25, 3))
    joints[:, 0] = np.nan  # frame 0: nobody
    joints[1, 4:7] = np.nan  # body 1 leaves and comes back
    joints[2, :8] = np.nan  # body 2 appears late
    depth = rng.uniform(0, 512, (M, T, 25, 2))
    color = rng.uniform(0, 1920, (M, T, 25, 2))
    orient = rng.normal(0, 1, (M, T, 25, 4))
    track = rng.integers(0, 3, (M, T, 25))
    info = np.zeros((M, T, 9))
    info[..., 6:8] = rng.normal(0, 0.3, (M, T, 2))
    info[..., 8] = 2
    ids = ["72057594037931648", "72057594037931649", "7"]
    p = tmp_path / "S001C001P001R001A001.skeleton"
    write_skeleton(p, joints, depth, color, body_ids=ids, orientation=orient, tracking=track,
                   info=info)
    skel = read_skeleton(p)
    assert skel.num_frames == T
    assert skel.body_counts.tolist() == [0, 2, 2, 2, 1, 1, 1, 2, 3, 3, 3, 3]
    assert [b.body_id for b in skel.bodies] == ids
    b1 = skel.bodies[1]
    assert b1.frame_index.tolist() == [1, 2, 3, 7, 8, 9, 10, 11]
    np.testing.assert_allclose(b1.joints, joints[1, b1.frame_index], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(b1.color_xy, color[1, b1.frame_index], rtol=1e-6)
    np.testing.assert_allclose(b1.orientation, orient[1, b1.frame_index], rtol=1e-6, atol=1e-7)
    assert (b1.tracking == track[1, b1.frame_index]).all()
    np.testing.assert_allclose(b1.info, info[1, b1.frame_index], rtol=1e-6, atol=1e-7)
    arr = skel.to_array(max_bodies=3)
    assert not arr[:, 0].any() and not arr[1, 4:7].any()
    np.testing.assert_allclose(arr[2, 8:], joints[2, 8:], rtol=1e-6, atol=1e-7)
    # ST-GCN style slots: in frame 8 body 2 is listed third, in frame 5 body 2 is absent and
    # body 0 is listed first
    by_frame = skel.to_array(max_bodies=2, slots="frame")
    np.testing.assert_allclose(by_frame[1, 5], 0)
    np.testing.assert_allclose(by_frame[1, 8], joints[1, 8], rtol=1e-6, atol=1e-7)
    trk = skel.to_array(field="tracking", max_bodies=1)
    assert trk.shape == (1, T, 25, 1) and (trk[0, 1:, :, 0] == track[0, 1:]).all()


def test_defaults_and_written_layout(tmp_path):
    joints = np.zeros((1, 2, 25, 3))
    joints[0, 0, 0] = [1e-5, -0.0, 12345.678]
    p = tmp_path / "x.skeleton"
    write_skeleton(p, joints, np.zeros((1, 2, 25, 2)), np.zeros((1, 2, 25, 2)))
    lines = p.read_bytes().split(b"\r\n")
    assert lines[:2] == [b"2", b"1"]
    assert lines[2] == f"{2**56 + 1000} 0 0 0 0 0 0 0 0 2".encode()
    assert lines[3] == b"25"
    assert lines[4] == b"1E-05 0 12345.68 0 0 0 0 0 0 0 0 2"
    assert read_skeleton(p).bodies[0].info[0, 8] == 2


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False, width=32), min_size=75, max_size=75))
def test_values_keep_seven_significant_digits(tmp_path_factory, values):
    joints = np.array(values, np.float32).reshape(1, 1, 25, 3)
    p = tmp_path_factory.mktemp("ntu") / "h.skeleton"
    write_skeleton(p, joints, np.zeros((1, 1, 25, 2)), np.zeros((1, 1, 25, 2)))
    got = read_skeleton(p).bodies[0].joints[None]
    np.testing.assert_allclose(got, joints, rtol=5.1e-7, atol=1e-30)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-9_999_999, 9_999_999), min_size=75, max_size=75),
       st.integers(-9, 2))
@example([0] * 74 + [994], -9)  # float32(9.94e-07) prints 9.939999E-07 with a plain %.7g
def test_seven_digit_decimals_roundtrip_exactly(tmp_path_factory, mantissas, exponent):
    # the released files hold 7-digit decimals: reading then writing must reproduce them
    texts = [format(float(f"{m}e{exponent}"), ".7g").replace("e", "E") for m in mantissas]
    joints = np.array([float(t) for t in texts], np.float32).reshape(1, 1, 25, 3)
    p = tmp_path_factory.mktemp("ntu") / "d.skeleton"
    write_skeleton(p, joints, np.zeros((1, 1, 25, 2)), np.zeros((1, 1, 25, 2)))
    lines = p.read_text().splitlines()[4:29]
    assert [tok for ln in lines for tok in ln.split()[:3]] == texts


def test_body_built_by_hand_gets_listing_order():
    def body(frames):
        n = len(frames)
        return NTUBody("1", np.array(frames), np.ones((n, 25, 3), np.float32),
                       np.zeros((n, 25, 2), np.float32), np.zeros((n, 25, 2), np.float32),
                       np.zeros((n, 25, 4), np.float32), np.full((n, 25), 2, np.int8),
                       np.zeros((n, 9), np.float32))
    skel = NTUSkeleton(num_frames=4, bodies=[body([0, 1]), body([1, 2, 3])])
    assert skel.body_counts.tolist() == [1, 2, 1, 1]
    assert skel.bodies[1].order.tolist() == [1, 0, 0]
    assert len(INFO_FIELDS) == 9


def test_writer_rejects_bad_shapes_and_leaves_nothing(tmp_path):
    p = tmp_path / "bad.skeleton"
    with pytest.raises(ValueError, match="joints"):
        write_skeleton(p, np.zeros((1, 2, 20, 3)), np.zeros((1, 2, 20, 2)),
                       np.zeros((1, 2, 20, 2)))
    color = np.zeros((1, 2, 25, 2))
    color[0, 1, 3] = np.nan
    with pytest.raises(ValueError, match="color_xy.*frame 1"):
        write_skeleton(p, np.zeros((1, 2, 25, 3)), np.zeros((1, 2, 25, 2)), color)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- bad input
def _good_text(frames=3, bodies=1) -> str:
    joint = "0.1 0.2 3.0 250 200 1000 500 0.5 0.5 0.5 0.5 2"
    body = "72057594037931648 0 1 1 1 1 0 0.1 0.1 2\n25\n" + "\n".join([joint] * 25) + "\n"
    return f"{frames}\n" + f"{bodies}\n{body * bodies}" * frames


def test_bad_input_messages(tmp_path):
    p = tmp_path / "S001C001P001R001A001.skeleton"
    p.write_text(_good_text())
    assert read_skeleton(p).num_frames == 3  # LF line ends read too

    text = _good_text()
    cut = text[: text.index("\n", len(text) // 2)]  # cut inside frame 2's joint lines
    p.write_text(cut)
    with pytest.raises(DataError, match=r"S001C001P001R001A001\.skeleton.*cut mid-frame"):
        read_skeleton(p)

    p.write_text(_good_text().replace("\n25\n", "\n20\n", 1))
    with pytest.raises(DataError, match=r"skeleton: line 4: joint count 20, expected 25"):
        read_skeleton(p)

    lines = _good_text().split("\n")
    lines[10] = lines[10].replace("250", "2S0")
    p.write_text("\n".join(lines))
    with pytest.raises(DataError, match=r"skeleton: line 11: non-numeric field '2S0'"):
        read_skeleton(p)

    lines = _good_text().split("\n")
    lines[10] = lines[10].rsplit(" ", 1)[0]
    p.write_text("\n".join(lines))
    with pytest.raises(DataError, match=r"line 11: 11 numbers, expected 12"):
        read_skeleton(p)

    p.write_text("3\nx\n")
    with pytest.raises(DataError, match=r"line 2: expected the body count \(frame 1 of 3\)"):
        read_skeleton(p)

    p.write_text(_good_text(frames=2).replace("2\n", "3\n", 1))
    with pytest.raises(DataError, match="frame 3 of 3"):
        read_skeleton(p)

    p.write_text(_good_text() + "1\n")
    with pytest.raises(DataError, match="unexpected data after the last of 3 frames"):
        read_skeleton(p)

    p.write_bytes(b"\x89PNG\r\n")
    with pytest.raises(DataError, match="not a text"):
        read_skeleton(p)

    with pytest.raises(DataError, match="cannot read"):
        read_skeleton(tmp_path / "absent.skeleton")
