"""`prepare ntu` end to end on small generated datasets: outputs, splits, summary, bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from ntu_fakes import body, make_dataset, present, write

from motionscope.cli import main as cli_main
from motionscope.errors import DataError
from motionscope.io.ntu import parse_ntu_name
from motionscope.prepare import prepare
from motionscope.prepare.common import ArraySpec, write_npz_streaming
from motionscope.prepare.ntu import NTU_CLASSES, process_file
from motionscope.prepare.ntu_missing import NTU60_MISSING, NTU120_MISSING

# performers 1, 2 train and 3 test under x-sub; cameras 2, 3 train and 1 test under x-view
NAMES = ["S001C001P001R001A001", "S001C002P003R001A002", "S001C003P002R002A003",
         "S002C001P002R001A058", "S002C002P001R002A010", "S002C003P003R001A059"]


def _load(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def test_ntu60_outputs_match_the_official_layout(tmp_path):
    raw = tmp_path / "raw"
    make_dataset(raw, NAMES, frames=30, two=("S002C001P002R001A058",))
    s = prepare("ntu", raw, tmp_path / "out", workers=1, progress=False)
    assert s["files_found"] == 6 and s["samples_kept"] == 6 and s["num_failed"] == 0
    assert s["benchmarks"]["ntu60_xsub"] == {"file": "NTU60_XSub.npz", "train": 4, "test": 2}
    assert s["benchmarks"]["ntu60_xview"] == {"file": "NTU60_XView.npz", "train": 4, "test": 2}
    z = _load(tmp_path / "out" / "NTU60_XSub.npz")
    assert z["x_train"].shape == (4, 30, 150) and z["x_train"].dtype == np.float32
    assert z["y_train"].shape == (4, 60) and z["y_train"].dtype == np.float64
    np.testing.assert_array_equal(z["y_train"].sum(1), 1)
    # official order: grouped by performer in the list order 1, 2, 4, ... then name order
    assert list(z["names_train"]) == ["S001C001P001R001A001", "S002C002P001R002A010",
                                      "S001C003P002R002A003", "S002C001P002R001A058"]
    assert list(z["names_test"]) == ["S001C002P003R001A002", "S002C003P003R001A059"]
    labels = np.argmax(z["y_train"], 1)
    assert [parse_ntu_name(n).label for n in z["names_train"]] == list(labels)
    assert list(z["classes"]) == list(NTU_CLASSES[:60])
    # each row is the file's denoised sequence
    k = list(z["names_train"]).index("S002C001P002R001A058")
    ref = process_file((str(raw / "S002C001P002R001A058.skeleton"), "zeros"))["joints"]
    np.testing.assert_array_equal(z["x_train"][k], ref)
    assert z["x_train"][k, :, 75:].any()  # the two-person sample keeps its partner
    one = list(z["names_train"]).index("S001C001P001R001A001")
    assert not z["x_train"][one, :, 75:].any()  # NTU-60 pads with zeros
    xv = _load(tmp_path / "out" / "NTU60_XView.npz")
    assert [parse_ntu_name(n).camera for n in xv["names_train"]] == [2, 2, 3, 3]
    assert [parse_ntu_name(n).camera for n in xv["names_test"]] == [1, 1]
    split_list = (tmp_path / "out" / "splits" / "ntu60_xview_test.txt").read_text().split()
    assert split_list == list(xv["names_test"])
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert saved["samples_kept"] == 6 and saved["benchmarks"] == s["benchmarks"]


def test_xsub_order_is_grouped_by_performer_in_list_order(tmp_path):
    names = ["S001C001P002R001A001", "S001C001P001R001A002", "S001C001P004R001A003",
             "S001C002P001R001A001", "S001C001P003R001A004"]
    make_dataset(tmp_path / "raw", names, frames=12)
    prepare("ntu", tmp_path / "raw", tmp_path / "out", workers=1, progress=False)
    z = _load(tmp_path / "out" / "NTU60_XSub.npz")
    assert list(z["names_train"]) == ["S001C001P001R001A002", "S001C002P001R001A001",
                                      "S001C001P002R001A001", "S001C001P004R001A003"]
    assert list(z["names_test"]) == ["S001C001P003R001A004"]


def test_ntu120_duplicates_single_actors_and_splits_by_setup(tmp_path):
    names = ["S001C001P001R001A001", "S018C001P003R001A061", "S019C002P045R002A120",
             "S002C001P003R001A005"]
    make_dataset(tmp_path / "raw", names, frames=16)
    s = prepare("ntu", tmp_path / "raw", tmp_path / "out", ntu120=True, workers=1,
                progress=False)
    assert s["padding"] == "duplicate" and s["num_classes"] == 120
    z = _load(tmp_path / "out" / "NTU120_XSet.npz")
    assert [parse_ntu_name(n).setup for n in z["names_train"]] == [2, 18]
    assert [parse_ntu_name(n).setup for n in z["names_test"]] == [1, 19]
    np.testing.assert_array_equal(z["x_train"][..., :75], z["x_train"][..., 75:])
    assert z["y_test"].shape == (2, 120) and np.argmax(z["y_test"][1]) == 119
    zs = _load(tmp_path / "out" / "NTU120_XSub.npz")
    assert sorted(zs["names_train"]) == ["S001C001P001R001A001", "S019C002P045R002A120"]


def test_missing_list_and_ntu120_files_are_excluded_from_ntu60(tmp_path):
    missing = sorted(NTU60_MISSING)[0]
    assert missing in NTU120_MISSING and len(NTU60_MISSING) == 302 and len(NTU120_MISSING) == 535
    make_dataset(tmp_path / "raw", [NAMES[0], NAMES[2], missing, "S018C001P008R001A061"],
                 frames=12)
    s = prepare("ntu", tmp_path / "raw", tmp_path / "out", workers=1, progress=False)
    assert s["excluded"] == {"missing_skeleton_list": 1, "not_ntu60": 1}
    assert s["samples_kept"] == 2 and s["files_processed"] == 2


def _bad_files(raw):
    """One malformed or unusable file per failure / skip reason."""
    good = write(raw / "S001C001P001R001A001.skeleton", [(body(20), present(20))], 20)
    lines = good.read_bytes().decode().split("\r\n")
    (raw / "S001C001P001R001A002.skeleton").write_bytes(  # cut mid-frame
        "\r\n".join(lines[:40]).encode())
    bad = list(lines)
    bad[3] = "24"  # joint count
    (raw / "S001C001P001R001A003.skeleton").write_bytes("\r\n".join(bad).encode())
    bad = list(lines)
    bad[5] = bad[5].replace(bad[5].split()[1], "abc", 1)
    (raw / "S001C001P001R001A004.skeleton").write_bytes("\r\n".join(bad).encode())
    bad = list(lines)
    bad[5] = "nan " + " ".join(bad[5].split()[1:])
    (raw / "S001C001P001R001A005.skeleton").write_bytes("\r\n".join(bad).encode())
    write(raw / "S001C001P001R001A006.skeleton", [(np.zeros((20, 25, 3)), present(20))], 20)
    write(raw / "S001C001P001R001A007.skeleton", [(body(3), present(3))], 3)
    (raw / "S001C001P001R001A008.skeleton").write_text("3\r\n0\r\n0\r\n0\r\n")
    (raw / "S001C001P001R001A009.skeleton").write_bytes(b"\xff\xfe garbage")


def test_bad_files_are_named_and_counted_and_the_run_goes_on(tmp_path):
    _bad_files(tmp_path / "raw")
    s = prepare("ntu", tmp_path / "raw", tmp_path / "out", workers=2, progress=False)
    assert s["samples_kept"] == 1 and s["files_processed"] == 9
    assert s["failed"] == {"non_finite": 1, "non_numeric": 1, "not_text": 1, "truncated": 1,
                           "wrong_joint_count": 1}
    assert s["dropped"] == {"all_zero": 1, "no_bodies": 1, "too_short": 1}
    errors = {f["file"].rsplit("/", 1)[1]: f["error"] for f in s["failures"]}
    assert "file ends early" in errors["S001C001P001R001A002.skeleton"]
    assert "joint count 24" in errors["S001C001P001R001A003.skeleton"]
    assert "'abc'" in errors["S001C001P001R001A004.skeleton"]
    assert all(name.split(".")[0] in err for name, err in errors.items())
    z = _load(tmp_path / "out" / "NTU60_XSub.npz")
    assert list(z["names_train"]) == ["S001C001P001R001A001"]  # nothing silently zero-filled


def test_cli_prepare_reports_and_exit_codes(tmp_path, capsys):
    make_dataset(tmp_path / "raw", NAMES[:3], frames=12)
    cli_main(["prepare", "ntu", "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "o"),
              "--workers", "1"])
    out = capsys.readouterr().out
    assert "3 samples kept" in out and "ntu60_xsub: 2 train / 1 test" in out
    with pytest.raises(SystemExit) as e:
        cli_main(["prepare", "ntu", "--raw", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    assert "raw data folder not found" in capsys.readouterr().err


def test_empty_or_duplicated_raw_folders_fail_clearly(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no NTU60 .skeleton files"):
        prepare("ntu", tmp_path / "empty", tmp_path / "out", progress=False)
    make_dataset(tmp_path / "dup" / "a", NAMES[:1], frames=12)
    shutil.copytree(tmp_path / "dup" / "a", tmp_path / "dup" / "b")
    with pytest.raises(DataError, match="found twice"):
        prepare("ntu", tmp_path / "dup", tmp_path / "out", progress=False)


def test_streamed_npz_is_numpy_compatible_and_checks_sizes(tmp_path):
    rows = [np.arange(6, dtype=np.float32).reshape(1, 2, 3) + k for k in range(4)]
    write_npz_streaming(tmp_path / "a.npz", {"x": ArraySpec((4, 2, 3), np.float32, rows),
                                             "names": np.array(["a", "b"])})
    with np.load(tmp_path / "a.npz") as z:
        np.testing.assert_array_equal(z["x"], np.concatenate(rows))
        assert list(z["names"]) == ["a", "b"]
    with pytest.raises(ValueError, match="bytes"):
        write_npz_streaming(tmp_path / "b.npz", {"x": ArraySpec((5, 2, 3), np.float32, rows)})
    assert not (tmp_path / "b.npz").exists()  # atomic: nothing half-written


def test_another_dataset_in_ntu_format_gets_its_class_count_and_names(tmp_path, capsys):
    raw = tmp_path / "raw"
    names = ["S001C001P001R001A001", "S001C002P003R001A018", "S001C001P002R001A005"]
    make_dataset(raw, names, frames=20)
    labels = tmp_path / "classes.txt"
    labels.write_text("".join(f"gesture {i}\n" for i in range(18)))
    s = prepare("ntu", raw, tmp_path / "out", workers=1, progress=False, class_names=labels)
    assert s["num_classes"] == 18
    z = _load(tmp_path / "out" / "NTU60_XSub.npz")
    assert z["y_train"].shape[1] == 18 and list(z["classes"]) == [f"gesture {i}" for i in range(18)]
    with pytest.raises(DataError, match="actions past the 10 classes"):
        prepare("ntu", raw, tmp_path / "out2", workers=1, progress=False, num_classes=10)
    with pytest.raises(DataError, match="lists 18 class names but --num-classes is 20"):
        prepare("ntu", raw, tmp_path / "out3", workers=1, progress=False, num_classes=20,
                class_names=labels)
    # only training performers (1, 2) and cameras (2, 3): both test splits are empty, and said
    make_dataset(tmp_path / "raw4", ["S001C002P001R001A001", "S001C003P002R001A002"], frames=20)
    assert cli_main(["prepare", "ntu", "--raw", str(tmp_path / "raw4"), "--out",
                     str(tmp_path / "out4"), "--workers", "1"]) is None
    err = capsys.readouterr().err
    assert "warning: ntu60_xsub: the test split is empty" in err
    assert "warning: ntu60_xview: the test split is empty" in err


def test_lost_tracking_frames_are_flagged_and_fixed_on_request(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    j = body(40, seed=3, drift=0.3)
    j[10:13] = 0.0  # the tracker lost the body: every joint reads 0
    f = write(raw / "S001C001P001R001A001.skeleton", [(j, present(40))], 40)
    keep = process_file((str(f), "zeros"))["joints"]  # the official behaviour
    assert np.allclose(keep[10, :3], keep[11, :3])  # the lost frames became one far-off pose
    assert np.abs(keep[11, :75] - keep[9, :75]).max() > 1.0  # ... a jump of metres
    drop = process_file((str(f), "zeros", "drop"))["joints"]
    assert len(drop) == 37 and np.any(drop[:, :75] != 0, axis=1).all()
    interp = process_file((str(f), "zeros", "interpolate"))["joints"]
    assert len(interp) == 40
    np.testing.assert_allclose(interp[11, :75], (interp[9, :75] + interp[13, :75]) / 2, atol=1e-5)
    assert cli_main(["prepare", "ntu", "--raw", str(raw), "--out", str(tmp_path / "out"),
                     "--workers", "1"]) is None
    assert "3 frames of 1 files lost tracking" in capsys.readouterr().err
    assert cli_main(["prepare", "ntu", "--raw", str(raw), "--out", str(tmp_path / "out2"),
                     "--workers", "1", "--lost-frames", "interpolate"]) is None
    assert "lost tracking" not in capsys.readouterr().err
