"""Video CSV lists and NTU split rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motionscope.errors import DataError
from motionscope.io.index import Sample
from motionscope.io.ntu import format_ntu_name
from motionscope.io.splits import (
    NTU60_XSUB_TRAIN_SUBJECTS,
    NTU120_XSUB_TRAIN_SUBJECTS,
    ntu_split,
    read_video_csv,
    write_video_csv,
)


def test_video_csv_roundtrip_and_header(tmp_path):
    p = tmp_path / "train_RGB.csv"
    rows = [Sample("A024/AlphaPose_S007C002P001R002A024_rgb.mp4", label=4), ("a,b.mp4", 0)]
    write_video_csv(p, rows)
    assert p.read_text() == "A024/AlphaPose_S007C002P001R002A024_rgb.mp4,4\na,b.mp4,0\n"
    got = read_video_csv(p, root="/videos")
    assert [(s.path, s.label, s.num_frames) for s in got] == [
        ("/videos/A024/AlphaPose_S007C002P001R002A024_rgb.mp4", 4, None), ("/videos/a,b.mp4", 0)
        + (None,)]
    write_video_csv(p, rows, header=True)
    assert p.read_text().startswith("path,label\n")
    assert len(read_video_csv(p)) == 2
    p.write_text("x.mp4 3\ny.mp4 4")  # PySlowFast's space separator, no trailing newline
    assert [s.label for s in read_video_csv(p, sep=" ")] == [3, 4]


def test_video_csv_errors(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("a.mp4,1\nb.mp4,x\n")
    with pytest.raises(DataError, match=r"bad\.csv: line 2: label 'x'"):
        read_video_csv(p)
    p.write_text("a.mp4\n")
    with pytest.raises(DataError, match="line 1"):
        read_video_csv(p)
    with pytest.raises(DataError, match="cannot read"):
        read_video_csv(tmp_path / "absent.csv")


def test_ntu_subject_lists_match_protocol():
    assert len(NTU60_XSUB_TRAIN_SUBJECTS) == 20
    assert len(NTU120_XSUB_TRAIN_SUBJECTS) == 53
    assert NTU60_XSUB_TRAIN_SUBJECTS < NTU120_XSUB_TRAIN_SUBJECTS
    assert max(NTU120_XSUB_TRAIN_SUBJECTS) <= 106


@pytest.mark.parametrize("name,bench,expect", [
    ("S001C001P001R001A001", "ntu60_xsub", "train"),
    ("S001C001P003R001A001", "ntu60_xsub", "test"),
    ("S010C002P038R002A060", "NTU60-XSub", "train"),
    ("S001C001P001R001A001", "ntu60_xview", "test"),
    ("S001C002P003R001A001", "ntu60_xview", "train"),
    ("S001C003P003R001A001_rgb.avi", "ntu60_xview", "train"),
    ("S018C001P045R001A061", "ntu120_xsub", "train"),
    ("S018C001P044R001A061", "ntu120_xsub", "test"),
    ("S032C001P106R001A120", "ntu120_xsub", "test"),
    ("S018C001P044R001A061", "ntu120_xset", "train"),
    ("S017C001P044R001A061", "ntu120_xset", "test"),
])
def test_ntu_split(name, bench, expect):
    assert ntu_split(name, bench) == expect


def test_ntu_split_counts_and_errors():
    names = [format_ntu_name(1, c, p, 1, 1) for c in (1, 2, 3) for p in range(1, 41)]
    xsub = [ntu_split(n, "ntu60_xsub") for n in names]
    assert xsub.count("train") == 60 and xsub.count("test") == 60
    xview = [ntu_split(n, "ntu60_xview") for n in names]
    assert xview.count("train") == 80
    with pytest.raises(DataError, match="not an NTU RGB\\+D 60 sample"):
        ntu_split("S018C001P001R001A001", "ntu60_xsub")
    with pytest.raises(DataError, match="not an NTU RGB\\+D 60 sample"):
        ntu_split("S001C001P001R001A061", "ntu60_xview")
    with pytest.raises(ValueError, match="unknown NTU benchmark"):
        ntu_split("S001C001P001R001A001", "ntu60_xset")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"[A-Za-z0-9_/.,\- ]{0,15}[A-Za-z0-9_.]", fullmatch=True),
                          st.integers(0, 10**4)), max_size=8),
       st.booleans())
def test_video_csv_property(tmp_path_factory, rows, header):
    p = tmp_path_factory.mktemp("csv") / "l.csv"
    write_video_csv(p, rows, header=header)
    assert [(s.path, s.label) for s in read_video_csv(p)] == [(r.strip(), y) for r, y in rows]


@pytest.mark.parametrize("rel", ["../x.mp4", "a/../../x.mp4", "/abs/x.mp4"])
def test_video_csv_paths_cannot_leave_the_root(tmp_path, rel):
    (tmp_path / "x.mp4").write_bytes(b"")  # exists outside the root
    p = tmp_path / "l.csv"
    p.write_text(f"ok.mp4,0\n{rel},1\n")
    with pytest.raises(DataError, match=rf"l\.csv: line 2: path '{rel}'"):
        read_video_csv(p, root=tmp_path / "videos")


def test_video_csv_samples_know_their_list_and_line(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("path,label\na.mp4,0\n\nb.mp4,1\n")
    assert [s.meta for s in read_video_csv(p, root=tmp_path)] == [
        {"list": str(p), "line": 2}, {"list": str(p), "line": 4}]
