"""2D keypoint formats: AlphaPose/COCO JSON, DeepLabCut CSV/H5, SLEAP .slp/analysis .h5."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from motionscope.errors import DataError
from motionscope.io.keypoints import (
    KeypointSet,
    read_alphapose_json,
    read_coco_json,
    read_dlc_csv,
    read_dlc_h5,
    read_keypoints,
    read_sleap,
    read_sleap_analysis,
    write_alphapose_json,
    write_coco_json,
    write_dlc_csv,
    write_dlc_h5,
)


def _kps(M=2, T=6, V=26, seed=0, names=None) -> KeypointSet:
    rng = np.random.default_rng(seed)
    kp = rng.uniform(0, 640, (M, T, V, 2)).round(2)
    sc = rng.uniform(0.05, 1.0, (M, T, V)).round(3)
    if M > 1:
        kp[1, 2] = np.nan  # person 1 missing in frame 2
    kp[0, 4, V - 1] = np.nan  # one undetected joint
    return KeypointSet(kp, sc, layout="halpe26" if V == 26 else None, image_size=(480, 640),
                       frame_names=names)


def test_keypointset_convention():
    k = _kps()
    assert k.scores[1, 2].sum() == 0 and k.scores[0, 4, 25] == 0  # NaN <=> score 0
    assert k.present()[:, 2].tolist() == [True, False]
    assert (k.num_persons, k.num_frames, k.num_joints) == (2, 6, 26)
    with pytest.raises(ValueError, match="scores"):
        KeypointSet(np.zeros((1, 2, 3, 2)), np.zeros((1, 2, 4)))


def test_alphapose_roundtrip_tracked_and_untracked(tmp_path):
    k = _kps()
    p = tmp_path / "alphapose-results.json"
    write_alphapose_json(p, k)
    rows = json.loads(p.read_text())
    assert len(rows) == 11  # 2 persons x 6 frames - 1 absent
    assert rows[0]["image_id"] == "0.jpg" and len(rows[0]["keypoints"]) == 78
    assert rows[0]["category_id"] == 1 and rows[0]["idx"] == 0
    got = read_keypoints(p)
    assert got.layout == "halpe26" and got.frame_names[:2] == ["0.jpg", "1.jpg"]
    np.testing.assert_allclose(got.keypoints, k.keypoints, atol=1e-3)
    np.testing.assert_allclose(got.scores, k.scores, atol=1e-4)
    # untracked: persons per frame are ordered by detection score
    write_alphapose_json(p, k, tracked=False)
    un = read_alphapose_json(p)
    assert un.track_names is None and un.num_persons == 2
    hi = np.argmax([k.scores[m, 0].mean() for m in range(2)])
    np.testing.assert_allclose(un.keypoints[0, 0], k.keypoints[hi, 0], atol=1e-3)


def test_alphapose_frames_without_detections_are_empty(tmp_path):
    det = {"category_id": 1, "keypoints": [1.0, 2.0, 0.9] * 17, "score": 2.5}
    rows = [dict(det, image_id="3.jpg"), dict(det, image_id="0.jpg"),
            dict(det, image_id="3.jpg", keypoints=[5.0, 6.0, 0.8] * 17, score=1.0)]
    p = tmp_path / "a.json"
    p.write_text(json.dumps(rows))
    k = read_alphapose_json(p, num_frames=5)
    assert k.layout == "coco17" and k.keypoints.shape == (2, 5, 17, 2)
    assert k.frame_names == ["0.jpg", "1.jpg", "2.jpg", "3.jpg", "4.jpg"]
    assert k.present().tolist() == [[True, False, False, True, False],
                                    [False, False, False, True, False]]
    assert k.keypoints[1, 3, 0].tolist() == [5.0, 6.0]  # lower score -> second slot
    assert np.isnan(k.keypoints[0, 1]).all() and (k.scores[0, 1] == 0).all()
    # idx as AlphaPose's tracker writes it (a one-element list) keeps identities
    rows = [dict(det, image_id="img_00002.jpg", idx=[7]), dict(det, image_id="img_00001.jpg",
                                                               idx=[3])]
    p.write_text(json.dumps(rows))
    k = read_alphapose_json(p)
    assert k.track_names == ["7", "3"] and k.present().tolist() == [[False, True], [True, False]]


def test_coco_roundtrip(tmp_path):
    k = _kps(V=17, names=[f"frame_{t:04d}.png" for t in range(6)])
    k.joint_names = [f"kp{j}" for j in range(17)]
    p = tmp_path / "coco.json"
    write_coco_json(p, k, skeleton=[(0, 1), (1, 2)])
    data = json.loads(p.read_text())
    assert data["categories"][0]["skeleton"][0] == [1, 2]
    ann = data["annotations"][0]
    assert ann["keypoints"][2] in (1, 2) and ann["num_keypoints"] == 17
    got = read_keypoints(p)
    assert got.frame_names == k.frame_names and got.image_size == (480, 640)
    assert got.joint_names == k.joint_names and got.layout == "coco17"
    np.testing.assert_allclose(got.keypoints, k.keypoints, atol=1e-3)
    np.testing.assert_allclose(got.scores, k.scores, atol=1e-4)


def test_coco_ground_truth_visibility(tmp_path):
    data = {
        "images": [{"id": 42, "file_name": "a.jpg", "height": 10, "width": 20},
                   {"id": 7, "file_name": "b.jpg", "height": 10, "width": 20}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 1,
                         "keypoints": [1, 2, 2, 3, 4, 1, 0, 0, 0]}],
        "categories": [{"id": 1, "name": "person", "keypoints": ["a", "b", "c"]}],
    }
    p = tmp_path / "gt.json"
    p.write_text(json.dumps(data))
    k = read_coco_json(p)
    assert k.keypoints.shape == (1, 2, 3, 2) and not k.present()[0, 0]
    assert k.scores[0, 1].tolist() == [1.0, 0.5, 0.0]
    assert np.isnan(k.keypoints[0, 1, 2]).all()


def test_dlc_csv_and_h5_roundtrip(tmp_path):
    k = _kps(M=2, V=4)
    k.joint_names = ["snout", "leftear", "rightear", "tailbase"]
    k.track_names = ["mouse1", "mouse2"]
    for writer, reader, name in ((write_dlc_csv, read_dlc_csv, "a.csv"),
                                 (write_dlc_h5, read_dlc_h5, "a.h5")):
        writer(tmp_path / name, k, scorer="DLC_resnet50")
        got = reader(tmp_path / name)
        assert got.joint_names == k.joint_names and got.track_names == k.track_names
        assert got.meta["scorer"] == "DLC_resnet50"
        np.testing.assert_allclose(got.keypoints, k.keypoints, rtol=1e-6)
        np.testing.assert_allclose(got.scores, k.scores, rtol=1e-6)
        assert (read_keypoints(tmp_path / name).keypoints.shape == k.keypoints.shape)
    lines = (tmp_path / "a.csv").read_text().splitlines()
    assert [ln.split(",")[0] for ln in lines[:4]] == ["scorer", "individuals", "bodyparts",
                                                      "coords"]
    assert lines[3].split(",")[1:4] == ["x", "y", "likelihood"]
    single = KeypointSet(k.keypoints[:1], k.scores[:1], joint_names=k.joint_names)
    write_dlc_csv(tmp_path / "s.csv", single, likelihood=False)
    assert (tmp_path / "s.csv").read_text().splitlines()[2].startswith("coords,x,y,x,y")
    got = read_dlc_csv(tmp_path / "s.csv")
    assert got.track_names is None
    assert set(np.unique(got.scores)) == {0.0, 1.0}  # labelled data: present points score 1


def test_dlc_labelled_data_csv_with_path_index(tmp_path):
    text = ("scorer,,,Mackenzie,Mackenzie,Mackenzie,Mackenzie\n"
            "bodyparts,,,hand,hand,Finger1,Finger1\n"
            "coords,,,x,y,x,y\n"
            "labeled-data,reachingvideo1,img000.png,,,92.9,6.6\n"
            "labeled-data,reachingvideo1,img001.png,84.1,6.7,34.4,43.0\n")
    p = tmp_path / "CollectedData_Mackenzie.csv"
    p.write_text(text)
    k = read_dlc_csv(p)
    assert k.frame_names == ["labeled-data/reachingvideo1/img000.png",
                             "labeled-data/reachingvideo1/img001.png"]
    assert np.isnan(k.keypoints[0, 0, 0]).all() and k.keypoints[0, 1, 0].tolist() == \
        pytest.approx([84.1, 6.7])


def test_dlc_h5_readable_by_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables")
    k = _kps(M=1, V=3)
    k.joint_names = ["a", "b", "c"]
    write_dlc_h5(tmp_path / "mine.h5", k)
    df = pd.read_hdf(tmp_path / "mine.h5")
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    np.testing.assert_allclose(df[("motionscope", "b", "likelihood")].values, k.scores[0, :, 1],
                               rtol=1e-6)
    df.to_hdf(tmp_path / "table.h5", key="df_with_missing", format="table", mode="w")
    np.testing.assert_allclose(read_dlc_h5(tmp_path / "table.h5").keypoints, k.keypoints,
                               rtol=1e-6)


def _write_analysis(path, tracks, nodes, transposed=True, scores=None):
    with h5py.File(path, "w") as f:
        f["tracks"] = tracks.transpose(1, 3, 2, 0) if transposed else tracks.transpose(0, 2, 3, 1)
        f["node_names"] = np.array([n.encode() for n in nodes])
        f["track_names"] = np.array([b"t0", b"t1"])
        if scores is not None:
            f["point_scores"] = scores.transpose(1, 2, 0) if transposed else scores


@pytest.mark.parametrize("transposed", [True, False])
def test_sleap_analysis_layouts(tmp_path, transposed):
    rng = np.random.default_rng(0)
    tracks = rng.uniform(0, 100, (5, 2, 3, 2))  # (frames, tracks, nodes, xy) as SLEAP exports
    tracks[1, 0] = np.nan
    scores = rng.uniform(0, 1, (5, 3, 2)) if not transposed else rng.uniform(0, 1, (5, 2, 3))
    p = tmp_path / "a.analysis.h5"
    _write_analysis(p, tracks, ["head", "thorax", "tail"], transposed,
                    scores.transpose(0, 1, 2) if transposed else scores)
    k = read_sleap_analysis(p)
    assert k.keypoints.shape == (2, 5, 3, 2) and k.joint_names == ["head", "thorax", "tail"]
    np.testing.assert_allclose(k.keypoints, tracks.transpose(1, 0, 2, 3), rtol=1e-6)
    assert not k.present()[0, 1] and k.track_names == ["t0", "t1"]


SLEAP_FILES = {
    "clip.slp": ((2, 1500, 13), ["female", "male"], "head"),
    "dance.mp4.labels.slp": ((1, 450, 17), None, "nose"),
    "centered_pair_predictions.h5": ((27, 1100, 24), None, "head"),
    "20190128_113421.120s.predictions.analysis.h5": ((2, 3000, 13), None, "head"),
}


@pytest.mark.parametrize("name", sorted(SLEAP_FILES))
def test_real_sleap_files(shared_data, name):
    shape, tracks, first_node = SLEAP_FILES[name]
    k = read_keypoints(shared_data("behavior_videos", "sleap", name))
    assert k.keypoints.shape == shape + (2,)
    assert k.joint_names[0] == first_node
    if tracks:
        assert k.track_names == tracks
    present = k.present()
    assert present.any(1).all()
    xy = k.keypoints[np.isfinite(k.keypoints)]
    assert xy.min() >= 0 and xy.max() <= 1024  # inside the videos' frames
    if name == "dance.mp4.labels.slp":
        # one dancer, a prediction (or its user correction) in every frame, node order kept
        assert present.all() and k.joint_names[:3] == ["nose", "left_eye", "right_eye"]
        assert (k.scores[0, 0][np.isfinite(k.keypoints[0, 0, :, 0])] == 1.0).all()  # user
    if name == "clip.slp":
        # the two flies are distinct animals: their thoraxes are never on top of each other
        d = np.linalg.norm(k.keypoints[0, :, 1] - k.keypoints[1, :, 1], axis=-1)
        assert np.nanmin(d) > 5


def test_sleap_legacy_offset_and_user_over_predicted(tmp_path):
    meta = {"nodes": [{"name": "b"}, {"name": "a"}],
            "skeletons": [{"nodes": [{"id": 1}, {"id": 0}], "links": []}]}
    inst_t = np.dtype([("instance_id", "<i8"), ("instance_type", "u1"), ("frame_id", "<u8"),
                       ("skeleton", "<u4"), ("track", "<i4"), ("from_predicted", "<i8"),
                       ("score", "<f4"), ("point_id_start", "<u8"), ("point_id_end", "<u8")])
    frame_t = np.dtype([("frame_id", "<u8"), ("video", "<u4"), ("frame_idx", "<u8"),
                        ("instance_id_start", "<u8"), ("instance_id_end", "<u8")])
    pt = np.dtype([("x", "<f8"), ("y", "<f8"), ("visible", "?"), ("complete", "?")])
    ppt = np.dtype(pt.descr + [("score", "<f8")])
    p = tmp_path / "legacy.slp"
    with h5py.File(p, "w") as f:
        f.create_group("metadata").attrs["json"] = np.bytes_(json.dumps(meta).encode())
        f["frames"] = np.array([(0, 0, 3, 0, 2)], frame_t)
        f["instances"] = np.array([(0, 1, 0, 0, -1, -1, 0.9, 0, 2),
                                   (1, 0, 0, 0, -1, 0, np.nan, 0, 2)], inst_t)
        f["points"] = np.array([(10.5, 20.5, True, True), (0, 0, False, False)], pt)
        f["pred_points"] = np.array([(1, 1, True, False, 0.5), (2, 2, True, False, 0.6)], ppt)
        f["tracks_json"] = np.zeros(0)
    k = read_sleap(p)
    assert k.joint_names == ["a", "b"] and k.keypoints.shape == (1, 4, 2, 2)
    assert k.keypoints[0, 3, 0].tolist() == [10.0, 20.0]  # format 1.0: -0.5 pixel shift
    assert np.isnan(k.keypoints[0, 3, 1]).all() and k.scores[0, 3].tolist() == [1.0, 0.0]


def test_malformed_keypoint_files(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('[{"image_id": "0.jpg", "keypoints": [1, 2')
    with pytest.raises(DataError, match=r"broken\.json: not valid JSON"):
        read_keypoints(p)
    p.write_text(json.dumps([{"image_id": "0.jpg", "keypoints": [1, 2, 0.5, 3]}]))
    with pytest.raises(DataError, match=r"broken\.json: detection 0: 4 keypoint numbers"):
        read_keypoints(p)
    p.write_text(json.dumps([{"image_id": "0.jpg", "keypoints": [1, 2, 0.5]},
                             {"image_id": "1.jpg", "keypoints": [1, 2, 0.5] * 2}]))
    with pytest.raises(DataError, match="detection 1: 6 keypoint numbers, expected 3"):
        read_keypoints(p)
    p.write_text(json.dumps([{"keypoints": [1, 2, 0.5]}]))
    with pytest.raises(DataError, match="needs 'image_id'"):
        read_keypoints(p)
    p.write_text(json.dumps({"images": [{"id": 1}], "annotations": [
        {"image_id": 9, "keypoints": [1, 2, 2]}]}))
    with pytest.raises(DataError, match="image_id 9 is not in 'images'"):
        read_keypoints(p)
    c = tmp_path / "bad.csv"
    c.write_text("scorer,s,s\nbodyparts,a,a\ncoords,x,y\n0,1.0,oops\n")
    with pytest.raises(DataError, match=r"bad\.csv: line 4: non-numeric value 'oops'"):
        read_keypoints(c)
    c.write_text("frame,x,y\n0,1,2\n")
    with pytest.raises(DataError, match="not a DeepLabCut CSV"):
        read_keypoints(c)
    h = tmp_path / "other.h5"
    with h5py.File(h, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DataError, match=r"other\.h5: HDF5 file is neither"):
        read_keypoints(h)
    (tmp_path / "fake.slp").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match=r"fake\.slp: not an HDF5 file"):
        read_keypoints(tmp_path / "fake.slp")
    x = tmp_path / "x.txt"
    x.write_text("")
    with pytest.raises(DataError, match=r"x\.txt: unknown keypoint format"):
        read_keypoints(x)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**31 - 1),
       st.sampled_from(["alphapose", "coco", "dlc_csv", "dlc_h5"]))
# person 0 only in frame 1, person 1 only in frame 0: track 1 appears first in the file
@example(M=2, T=2, V=1, seed=16777215, fmt="alphapose")
@example(M=2, T=2, V=1, seed=16777215, fmt="coco")
def test_writers_roundtrip_property(tmp_path_factory, M, T, V, seed, fmt):
    rng = np.random.default_rng(seed)
    kp = rng.uniform(0, 2000, (M, T, V, 2)).round(3)
    sc = rng.uniform(0.01, 1, (M, T, V)).round(4)
    kp[rng.uniform(size=(M, T, V)) < 0.2] = np.nan  # missing joints
    k = KeypointSet(kp, sc, frame_names=[f"{t}.jpg" for t in range(T)])
    d = tmp_path_factory.mktemp("kp")
    path = d / {"alphapose": "a.json", "coco": "c.json", "dlc_csv": "d.csv",
                "dlc_h5": "d.h5"}[fmt]
    {"alphapose": write_alphapose_json, "coco": write_coco_json, "dlc_csv": write_dlc_csv,
     "dlc_h5": write_dlc_h5}[fmt](path, k)
    got = read_keypoints(path, **({"num_frames": T} if fmt == "alphapose" else {}))
    order = list(range(M))
    if fmt in ("alphapose", "coco"):
        # detection lists: the writers store each slot as its track id (``idx`` /
        # ``track_id``), the readers give tracks slots in order of first appearance in the file
        # (frame by frame, slot order within a frame) and keep the ids as track_names; persons
        # absent from every frame cannot be represented
        present = k.present()
        order = sorted((m for m in range(M) if present[m].any()),
                       key=lambda m: int(np.argmax(present[m])))
        if not order:  # an empty detection list says nothing about V
            assert got.num_persons == 0
            return
        assert got.track_names == [str(m) for m in order]
    np.testing.assert_allclose(got.keypoints, k.keypoints[order], atol=1e-3)
    np.testing.assert_allclose(got.scores, k.scores[order], atol=1e-4)
