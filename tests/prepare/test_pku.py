"""`prepare pku` on a generated PKU-MMD layout: instances, splits, no centring, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from motionscope.errors import DataError
from motionscope.prepare import prepare
from motionscope.prepare.pku import read_pku_labels, read_pku_split


def _video(rng, frames):
    x = rng.normal(0, 0.2, (frames, 150)) + np.tile([0.5, 0.0, 3.0], 50)
    x[:, 75:] = 0  # second body absent
    return x


def _layout(root, version=1, hyphen=True):
    rng = np.random.default_rng(0)
    (root / "skeleton").mkdir(parents=True)
    (root / "label").mkdir()
    videos = {"0002-L": 450, "0002-M": 350, "0003-L": 320}
    for v, n in videos.items():
        np.savetxt(root / "skeleton" / f"{v}.txt", _video(rng, n), fmt="%.6f")
    (root / "label" / "0002-L.txt").write_text("3,10,60,1\n51,100,420,2\n")  # 2nd: cut to 300
    (root / "label" / "0002-M.txt").write_text("1,0,40,1\n7,340,345,1\n")  # 2nd: 5 frames
    (root / "label" / "0003-L.txt").write_text("12,5,80,1\n")
    x = np.loadtxt(root / "skeleton" / "0003-L.txt")
    x[200:260] = 0
    np.savetxt(root / "skeleton" / "0003-L.txt", x, fmt="%.6f")
    (root / "label" / "0003-L.txt").write_text("12,5,80,1\n4,200,260,1\n")  # 2nd: all zero
    if version == 1:
        xs, xv = ("cross-subject.txt", "cross-view.txt") if hyphen else \
            ("cross_subject.txt", "cross_view.txt")
    else:
        xs, xv = "cross_subject_v2.txt", "cross_view_v2.txt"
    (root / xs).write_text("Training videos:\n0002-L, 0002-M\nValidation videos:\n0003-L\n")
    (root / xv).write_text("Training videos:\n0002-M, 0003-L, \nValidation videos:\n0002-L\n")


@pytest.mark.parametrize("version, hyphen", [(1, True), (1, False), (2, True)])
def test_pku_instances_splits_and_layout(tmp_path, version, hyphen):
    _layout(tmp_path / "raw", version, hyphen)
    s = prepare("pku", tmp_path / "raw", tmp_path / "out", version=version, workers=1,
                progress=False)
    tag = f"pkuv{version}"
    assert s["samples_kept"] == 5 and s["num_failed"] == 0
    assert s["dropped"] == {"all_zero": 1}
    assert s["stats"]["instances_cut_to_300"] == 1
    assert s["benchmarks"][f"{tag}_xsub"]["train"] == 4
    assert s["benchmarks"][f"{tag}_xview"] == {"file": f"PKUv{version}_XView.npz", "train": 3,
                                                "test": 2}
    with np.load(tmp_path / "out" / f"PKUv{version}_XSub.npz") as z:
        assert z["x_train"].shape == (4, 300, 150) and z["y_train"].shape == (4, 51)
        assert list(z["names_train"]) == ["0002-L_0", "0002-L_1", "0002-M_0", "0002-M_1"]
        assert list(np.argmax(z["y_train"], 1)) == [2, 50, 0, 6]
        assert list(z["names_test"]) == ["0003-L_0"]
        raw = np.loadtxt(tmp_path / "raw" / "skeleton" / "0002-L.txt", dtype=np.float32)
        np.testing.assert_array_equal(z["x_train"][0, :50], raw[10:60])  # not centred
        assert not z["x_train"][0, 50:].any()  # zero padding to 300
        np.testing.assert_array_equal(z["x_train"][1], raw[100:400])  # 320 frames  # cut at 300 frames
        np.testing.assert_array_equal(z["x_train"][3, :5], np.loadtxt(
            tmp_path / "raw" / "skeleton" / "0002-M.txt", dtype=np.float32)[340:345])


def test_pku_bad_input_is_reported_per_file(tmp_path):
    _layout(tmp_path / "raw")
    sk = tmp_path / "raw" / "skeleton"
    (sk / "0004-L.txt").write_text("1 2 3\n")  # wrong width
    (tmp_path / "raw" / "label" / "0004-L.txt").write_text("1,0,1,1\n")
    lines = (sk / "0002-M.txt").read_text().splitlines()
    lines[3] = lines[3].replace(lines[3].split()[0], "x1", 1)
    (sk / "0002-M.txt").write_text("\n".join(lines) + "\n")
    (sk / "0005-L.txt").write_text("0 " * 150 + "\n")  # no label file
    s = prepare("pku", tmp_path / "raw", tmp_path / "out", workers=1, progress=False)
    assert s["failed"] == {"non_numeric": 1, "unreadable": 1, "wrong_field_count": 1}
    errs = sorted(f["error"] for f in s["failures"])
    assert any("0002-M.txt: frame 4: non-numeric field 'x1'" in e for e in errs)
    assert any("0004-L.txt" in e and "3 numbers, expected 150" in e for e in errs)
    assert any("0005-L.txt" in e for e in errs)
    assert s["samples_kept"] == 3


def test_pku_label_and_split_readers(tmp_path):
    p = tmp_path / "l.txt"
    p.write_text("3, 10, 60, 1\n\n52,1,2,1\n")
    with pytest.raises(DataError, match="label 52 outside 1..51"):
        read_pku_labels(p)
    p.write_text("3,10\n")
    with pytest.raises(DataError, match="expected 'label,start,end,confidence'"):
        read_pku_labels(p)
    p.write_text("only one line\n")
    with pytest.raises(DataError, match="no second line"):
        read_pku_split(p)
    p.write_text("Training videos:\r\n0002-L, 0002-M\r\n")
    assert read_pku_split(p) == {"0002-L", "0002-M"}
    with pytest.raises(DataError, match="no skeleton folder"):
        prepare("pku", tmp_path, tmp_path / "o", progress=False)
