"""NTU ingestion rules (specs/mamp.md sections 3-5) on generated .skeleton files, each rule
triggered and not triggered, plus the real samples."""

from __future__ import annotations

import numpy as np
import pytest
from ntu_fakes import body, present, write

from motionscope.errors import DataError
from motionscope.io.ntu import read_skeleton
from motionscope.prepare.ntu import (
    NOISE_LEN_THRES,
    JointsOnly,
    collect_bodies,
    denoise_bodies,
    denoise_skeleton,
    process_file,
    read_ntu_joints,
)

T = 40


def _joints(path):
    """The file's joints as read back (7 significant digits), per body id order."""
    return [b.joints for b in read_skeleton(path).bodies]


def _run(path, padding="zeros"):
    stats: dict = {}
    out = denoise_skeleton(read_skeleton(path), padding, path, stats)
    return out, stats


def _origin(j):  # spine middle (joint 2) of the first frame
    return j[0, 1]


def test_single_body_is_translated_to_spine_middle_of_first_frame(tmp_path):
    p = write(tmp_path / "S001C001P001R001A001.skeleton", [(body(T, drift=0.5), present(T))], T)
    out, stats = _run(p)
    (j,) = _joints(p)
    assert out.shape == (T, 150) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :75].reshape(T, 25, 3), j - _origin(j))
    assert not out[:, 75:].any()  # NTU-60: zero second person
    assert stats.get("multi_body_samples", 0) == 0


def test_ntu120_duplicates_a_single_actor(tmp_path):
    p = write(tmp_path / "S018C001P050R001A061.skeleton", [(body(T), present(T))], T)
    out, _ = _run(p, "duplicate")
    np.testing.assert_array_equal(out[:, :75], out[:, 75:])
    assert out[:, :75].any()


def test_frames_without_bodies_are_dropped_not_zero_filled(tmp_path):
    empty = np.zeros(T, bool)
    empty[[0, 5, 6, 30]] = True
    p = write(tmp_path / "S001C001P001R001A001.skeleton", [(body(T), present(T))], T,
              empty=empty)
    out, stats = _run(p)
    assert len(out) == T - 4 and stats["frames_without_bodies"] == 4
    assert np.all(np.any(out[:, :75] != 0, axis=1))  # every kept frame holds the body


@pytest.mark.parametrize("short_len, removed", [(NOISE_LEN_THRES, True),
                                                (NOISE_LEN_THRES + 1, False)])
def test_length_rule(tmp_path, short_len, removed):
    """A body seen in <= 11 frames is noise; 12 frames is kept (as the second actor)."""
    main = (body(T, drift=1.0, seed=1), present(T))
    short = (body(T, x=1.5, seed=2), present(T, 10, 10 + short_len))
    p = write(tmp_path / "S001C001P001R001A050.skeleton", [main, short], T)
    out, stats = _run(p)
    assert stats["bodies_removed_length"] == int(removed)
    assert out[:, 75:].any() != removed
    np.testing.assert_array_equal(out[:, :75].reshape(T, 25, 3),
                                  _joints(p)[0] - _origin(_joints(p)[0]))


@pytest.mark.parametrize("wide_frames, removed", [(28, True), (27, False)])
def test_spread_rule_threshold(tmp_path, wide_frames, removed):
    """Noisy share >= 0.69754 removes a body: 28/40 = 0.70 removed, 27/40 = 0.675 kept."""
    lying = np.zeros(T, bool)
    lying[:wide_frames] = True
    a = (body(T, drift=0.2, seed=1), present(T))
    b = (body(T, x=1.5, seed=2, lying=lying), present(T))
    p = write(tmp_path / "S001C001P001R001A050.skeleton", [a, b], T)
    out, stats = _run(p)
    assert stats.get("bodies_removed_spread", 0) == int(removed)
    assert bool(out[:, 75:].any()) != removed  # removed: a one-actor sample, zero second slot
    assert out[:, :75].any()


def test_spread_rule_lowers_motion_and_changes_the_ranking(tmp_path):
    """Body B moves a lot only in its (few) wide frames: its raw motion beats A's, but the rule
    lowers it to the motion of its valid frames, so A becomes actor 1."""
    lying = np.zeros(T, bool)
    lying[::4] = True  # 25 % noisy frames: kept, motion re-estimated
    a = (body(T, drift=0.6, seed=1), present(T))
    jb = body(T, x=1.5, seed=2, wave=0.0, lying=lying)
    jb[lying, :, 1] += 1.5  # lying higher up: a large raw variance
    b = (jb, present(T))
    p = write(tmp_path / "S001C001P001R001A050.skeleton", [a, b], T)
    bodies, n, _ = collect_bodies(read_skeleton(p))
    assert bodies[1].motion > bodies[0].motion  # raw motion: B first
    ranked = denoise_bodies(bodies)
    assert [r.body_id for r in ranked] == [bodies[0].body_id, bodies[1].body_id]
    out, _ = _run(p)
    ja, jb = _joints(p)
    np.testing.assert_array_equal(out[:, :75].reshape(T, 25, 3), ja - _origin(ja))
    np.testing.assert_allclose(out[:, 75:].reshape(T, 25, 3), jb - _origin(ja), atol=1e-6)


def test_actor_one_is_the_body_with_most_motion(tmp_path):
    calm = (body(T, seed=1, wave=0.01), present(T))
    busy = (body(T, x=1.0, seed=2, drift=1.5), present(T))
    p = write(tmp_path / "S001C001P001R001A050.skeleton", [calm, busy], T)
    out, _ = _run(p)
    jc, jb = _joints(p)
    np.testing.assert_array_equal(out[:, :75].reshape(T, 25, 3), jb - _origin(jb))
    np.testing.assert_allclose(out[:, 75:].reshape(T, 25, 3), jc - _origin(jb), atol=1e-6)


def test_slot_rules_touching_intervals_and_discarded_third_body(tmp_path):
    """A (0-24, most motion) is actor 1; B overlaps A -> actor 2 (whose virtual [0, 0] never
    overlaps); C starts where A ends (touching: no overlap) -> actor 1's slot, overwriting the
    shared frame; D overlaps both running intervals -> discarded."""
    a = (body(T, drift=4.0, seed=1), present(T, 0, 25))
    b = (body(T, x=1.0, drift=2.0, seed=2), present(T, 0, 30))
    c = (body(T, x=-1.0, drift=1.5, seed=3), present(T, 24, T))
    d = (body(T, x=2.0, seed=4, wave=0.0), present(T, 5, T))
    p = write(tmp_path / "S001C001P001R001A050.skeleton", [a, b, c, d], T,
              ids=["A", "B", "C", "D"])
    bodies, n, _ = collect_bodies(read_skeleton(p))
    assert [x.body_id for x in bodies] == ["A", "B", "D", "C"]  # order of first appearance
    assert [x.body_id for x in denoise_bodies(bodies)] == ["A", "B", "C", "D"]  # by motion
    out, stats = _run(p)
    j = {b.body_id: b.joints for b in read_skeleton(p).bodies}
    ja, jb, jc = j["A"], j["B"], j["C"]
    o = _origin(ja)
    got1 = out[:, :75].reshape(T, 25, 3)
    np.testing.assert_allclose(got1[:24], ja[:24] - o, atol=1e-6)
    np.testing.assert_allclose(got1[24:], jc - o, atol=1e-6)  # frame 24: C overwrote A
    got2 = out[:, 75:].reshape(T, 25, 3)
    np.testing.assert_allclose(got2[:30], jb - o, atol=1e-6)
    assert not got2[30:].any()  # actor 2 missing there: re-zeroed after translation
    assert stats["bodies_discarded_overlap"] == 1


def test_intervals_are_compacted_over_a_gap_as_the_official_code(tmp_path):
    """A body absent for 10 frames keeps its appearances contiguous from its first frame (the
    official ``interval[-1] + 1``), so its data shift left and its last rows stay empty."""
    gap = present(T)
    gap[10:20] = False
    a = (body(T, drift=2.0, seed=1), gap)
    b = (body(T, x=1.0, seed=2), present(T))
    p = write(tmp_path / "S001C001P001R001A050.skeleton", [a, b], T)
    out, _ = _run(p)
    ja, _ = _joints(p)  # ja: the 30 frames A is present in, in order
    assert len(ja) == 30
    got1 = out[:, :75].reshape(-1, 25, 3)
    np.testing.assert_allclose(got1[:30], ja - _origin(ja), atol=1e-6)
    assert not got1[30:].any()


def test_missing_frames_are_removed_for_multi_body_samples_only(tmp_path):
    """After the length rule removes a short body, the frames only it occupied are empty rows
    and are cut (two-body path); a one-body file keeps its length."""
    a = (body(36, seed=1), present(36, 0, 30))
    noise = (body(36, x=1.0, seed=2), present(36, 30, 36))
    p = write(tmp_path / "S001C001P001R001A050.skeleton", [a, noise], 36)
    out, stats = _run(p)
    assert len(out) == 30 and stats["missing_frames_removed"] == 6
    assert stats["bodies_removed_length"] == 1


@pytest.mark.parametrize("name", ["S001C001P001R001A011", "S002C001P003R001A003",
                                  "S003C001P015R001A034", "S004C002P003R001A017",
                                  "S001C003P008R002A058"])
def test_real_samples_parse_and_denoise(shared_data, name):
    src = shared_data("ntu_rgbd_skeleton_samples", f"{name}.skeleton")
    res = process_file((str(src), "zeros"))
    assert "error" not in res and "skipped" not in res, res
    out = res["joints"]
    skel = read_skeleton(src)
    assert out.shape == (skel.num_frames, 150) and out.dtype == np.float32
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[0, 3:6], 0)  # spine middle of actor 1, first frame
    # centred: the actor stays within ~1 m of its starting spine (Kinect space is 1.5-5 m away)
    assert np.abs(out[:, :75]).max() < 1.5
    two = len(skel.bodies) > 1
    assert bool(out[:, 75:].any()) == two
    if two:  # handshaking: the partner stands beside actor 1
        d = np.linalg.norm(out[:, 75:78] - out[:, 0:3], axis=1)
        assert 0.2 < np.median(d) < 2.5


def _same(a, b):
    assert a.num_frames == b.num_frames and np.array_equal(a.body_counts, b.body_counts)
    assert [x.body_id for x in a.bodies] == [x.body_id for x in b.bodies]
    for x, y in zip(a.bodies, b.bodies):
        np.testing.assert_array_equal(x.frame_index, y.frame_index)
        np.testing.assert_array_equal(x.joints, y.joints)
        assert x.joints.dtype == np.float32


def test_fast_reader_equals_the_full_reader_and_falls_back(tmp_path):
    gap = present(T)
    gap[3:9] = False
    empty = np.zeros(T, bool)
    empty[[0, 20]] = True
    p = write(tmp_path / "S001C001P001R001A050.skeleton",
              [(body(T, seed=1), gap), (body(T, x=1.0, seed=2), present(T, 5, 30))], T,
              empty=empty)
    fast = read_ntu_joints(p)
    assert isinstance(fast, JointsOnly)  # canonical file: the fast path
    _same(fast, read_skeleton(p))
    text = p.read_bytes().decode()
    odd = tmp_path / "S001C001P001R001A051.skeleton"
    odd.write_bytes(text.replace(" ", "  ", 40).encode())  # valid, but not canonical spacing
    slow = read_ntu_joints(odd)
    assert not isinstance(slow, JointsOnly)
    _same(slow, read_skeleton(p))
    bad = tmp_path / "S001C001P001R001A052.skeleton"
    lines = text.split("\r\n")
    toks = lines[10].split()
    toks[8] = "x"  # a field MAMP does not use (orientation)
    lines[10] = " ".join(toks)
    bad.write_bytes("\r\n".join(lines).encode())
    with pytest.raises(DataError, match="line 11: non-numeric field 'x'"):
        read_ntu_joints(bad)


def test_fast_reader_on_real_samples(shared_data):
    root = shared_data("ntu_rgbd_skeleton_samples")
    for f in sorted(root.glob("*.skeleton")):
        fast = read_ntu_joints(f)
        assert isinstance(fast, JointsOnly)
        _same(fast, read_skeleton(f))
