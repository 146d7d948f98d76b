"""Generic skeleton dataset file, pyskl pickles, UTKinect-Action3D conversion."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

from motionscope.errors import DataError
from motionscope.io.skeleton_dataset import (
    read_pyskl_pickle,
    read_skeleton_dataset,
    write_skeleton_dataset,
)
from motionscope.io.utkinect import (
    UTK_CLASSES,
    read_utkinect,
    read_utkinect_joints,
    utkinect_to_skeleton_dataset,
)


def _samples(n=5, V=17, C=2, scores=True, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        M, T = 1 + i % 2, 3 + 2 * i
        s = {"keypoint": rng.normal(0, 1, (M, T, V, C)).astype(np.float32), "label": i % 3,
             "name": f"clip{i}", "split": "train" if i < 3 else "val"}
        if scores:
            s["score"] = rng.uniform(0, 1, (M, T, V)).astype(np.float32)
        out.append(s)
    return out


@pytest.mark.parametrize("scores,compress", [(True, False), (False, True)])
def test_roundtrip_and_splits(tmp_path, scores, compress):
    samples = _samples(scores=scores)
    p = tmp_path / "ds.npz"
    write_skeleton_dataset(p, samples, ["a", "b", "c"], "coco17", splits={"odd": [1, "clip3"]},
                           meta={"fps": 30}, compress=compress)
    ds = read_skeleton_dataset(p)
    assert len(ds) == 5 and ds.classes == ["a", "b", "c"] and ds.layout == "coco17"
    assert ds.split_names == ["odd", "train", "val"] and ds.meta == {"fps": 30}
    for s, got in zip(samples, ds):
        np.testing.assert_array_equal(got["keypoint"], s["keypoint"])  # persons not padded
        assert got["label"] == s["label"] and got["name"] == s["name"]
        if scores:
            np.testing.assert_array_equal(got["score"], s["score"])
        else:
            assert got["score"] is None
    val = ds.split("val")
    assert val.names == ["clip3", "clip4"] and val.labels.tolist() == [0, 1]
    assert val[1]["keypoint"].shape == (1, 11, 17, 2) and val.num_frames.tolist() == [9, 11]
    assert ds.split("odd").split("val").names == ["clip3"]  # nested views intersect
    with pytest.raises(KeyError, match="no split 'test'"):
        ds.split("test")
    with pytest.raises(IndexError):
        val[2]


def test_writer_validation(tmp_path):
    p = tmp_path / "x.npz"
    bad = _samples()
    bad[1]["name"] = "clip0"
    with pytest.raises(ValueError, match="unique"):
        write_skeleton_dataset(p, bad, ["a", "b", "c"], None)
    with pytest.raises(ValueError, match="outside the 2 classes"):
        write_skeleton_dataset(p, _samples(), ["a", "b"], None)
    mixed = _samples()
    del mixed[2]["score"]
    with pytest.raises(ValueError, match="every sample has a score"):
        write_skeleton_dataset(p, mixed, ["a", "b", "c"], None)
    with pytest.raises(ValueError, match="split name"):
        write_skeleton_dataset(p, _samples(), ["a", "b", "c"], None, splits={"x/y": [0]})
    other = _samples()
    other[1]["keypoint"] = other[1]["keypoint"][..., :10, :]
    with pytest.raises(ValueError, match="joints/channels"):
        write_skeleton_dataset(p, other, ["a", "b", "c"], None)
    assert not p.exists() and list(tmp_path.iterdir()) == []


def test_read_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_skeleton_dataset(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=r"junk\.npz"):
        read_skeleton_dataset(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataError, match="not a motionscope-skeleton-dataset file"):
        read_skeleton_dataset(tmp_path / "other.npz")


def _pyskl(tmp_path, annotations, split):
    p = tmp_path / "ntu60_2d.pkl"
    with open(p, "wb") as f:
        pickle.dump({"split": split, "annotations": annotations}, f)
    return p


def test_pyskl_pickle(tmp_path):
    rng = np.random.default_rng(0)
    anns = [{"frame_dir": f"S001C001P001R001A00{i + 1}", "label": i, "total_frames": 4,
             "img_shape": (1080, 1920), "keypoint": rng.normal(0, 1, (2, 4, 17, 2)),
             "keypoint_score": rng.uniform(0, 1, (2, 4, 17)).astype(np.float16)}
            for i in range(3)]
    p = _pyskl(tmp_path, anns, {"xsub_train": ["S001C001P001R001A001", "S001C001P001R001A003"],
                                "xsub_val": ["S001C001P001R001A002"]})
    ds = read_skeleton_dataset(p)  # numpy arrays only: allowed without trust
    assert len(ds) == 3 and ds.split("xsub_train").labels.tolist() == [0, 2]
    np.testing.assert_allclose(ds[1]["keypoint"], anns[1]["keypoint"], rtol=1e-6)
    np.testing.assert_allclose(ds[2]["score"], anns[2]["keypoint_score"], rtol=1e-3)
    assert ds.classes == ["0", "1", "2"]
    ds2 = read_pyskl_pickle(p, classes=["drink", "eat", "brush"], layout="coco17")
    assert ds2.classes[2] == "brush" and ds2.layout == "coco17"


class Sneaky:
    def __reduce__(self):
        return (print, ("this ran",))


def test_pyskl_pickle_refuses_code(tmp_path, capsys):
    p = _pyskl(tmp_path, [{"frame_dir": "x", "label": 0, "keypoint": np.zeros((1, 2, 3, 2)),
                           "extra": Sneaky()}], {})
    with pytest.raises(DataError, match=r"ntu60_2d\.pkl: refused to unpickle.*builtins\.print"):
        read_skeleton_dataset(p)
    assert "this ran" not in capsys.readouterr().out
    (tmp_path / "cut.pkl").write_bytes(p.read_bytes()[:40])
    with pytest.raises(DataError, match=r"cut\.pkl"):
        read_skeleton_dataset(tmp_path / "cut.pkl")


# ----------------------------------------------------------------------------- UTKinect
def test_real_utkinect(shared_data, tmp_path):
    root = shared_data("utkinect_action3d_skeleton")
    with pytest.warns(UserWarning, match="skipped 1 label entry with NaN"):
        segs = read_utkinect(root)
    assert len(segs) == 199
    counts = np.bincount([s.label for s in segs], minlength=10)
    assert counts.tolist() == [20, 20, 20, 20, 19, 20, 20, 20, 20, 20]  # carry lost one
    assert {s.subject for s in segs} == set(range(1, 11))
    s0 = segs[0]
    assert s0.name == "s01_e01_walk" and s0.joints.shape[1:] == (20, 3)
    assert s0.frame_ids[0] >= 252 and s0.frame_ids[-1] <= 390
    assert all((np.diff(s.frame_ids) > 0).all() for s in segs)
    # Kinect v1 camera space: the person stands 1-5 m in front of the sensor
    z = np.concatenate([s.joints[..., 2].ravel() for s in segs])
    assert 1.0 < np.median(z) < 5.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = utkinect_to_skeleton_dataset(root, tmp_path / "utk.npz")
    ds = read_skeleton_dataset(tmp_path / "utk.npz")
    assert n == len(ds) == 199 and ds.classes == list(UTK_CLASSES) and ds.layout == "kinect20"
    train, test = ds.split("train"), ds.split("test")
    assert len(train) + len(test) == 199
    assert {nm[:3] for nm in test.names} == {"s02", "s04", "s06", "s08", "s10"}
    np.testing.assert_array_equal(ds[0]["keypoint"][0], s0.joints)


def test_utkinect_synthetic_and_errors(tmp_path):
    rows = [[i] + list(np.full(60, i / 100.0)) for i in (10, 12, 12, 14, 16, 18)]
    np.savetxt(tmp_path / "joints_s01_e01.txt", np.array(rows), fmt="%g")
    (tmp_path / "actionLabel.txt").write_text("s01_e01\nwalk: 12 16\nthrow:  NaN NaN\n")
    with pytest.warns(UserWarning):
        segs = read_utkinect(tmp_path)
    assert len(segs) == 1 and segs[0].frame_ids.tolist() == [12, 14, 16]  # repeated id dropped
    ids, joints = read_utkinect_joints(tmp_path / "joints_s01_e01.txt")
    assert ids.tolist() == [10, 12, 14, 16, 18] and joints.shape == (5, 20, 3)
    (tmp_path / "actionLabel.txt").write_text("s01_e01\nfly: 12 16\n")
    with pytest.raises(DataError, match=r"actionLabel\.txt: line 2: unknown action 'fly'"):
        read_utkinect(tmp_path)
    (tmp_path / "actionLabel.txt").write_text("s01_e01\nwalk: 100 200\n")
    with pytest.raises(DataError, match="no frames of s01_e01"):
        read_utkinect(tmp_path)
    (tmp_path / "joints_s01_e01.txt").write_text("1 2 3\n")
    with pytest.raises(DataError, match=r"joints_s01_e01\.txt: line 1: 3 numbers, expected 61"):
        read_utkinect_joints(tmp_path / "joints_s01_e01.txt")
