"""Box CSVs, boxes from track files, and the checks against a video."""

from __future__ import annotations

import numpy as np
import pytest

from motionscope.errors import DataError
from motionscope.io.boxes import (
    BoxTrack,
    boxes_from_keypoints,
    check_frames,
    drop_outside,
    read_box_csv,
    read_boxes,
    write_box_csv,
)
from motionscope.io.keypoints import KeypointSet, write_dlc_csv


def test_box_csv_both_layouts_and_round_trip(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("frame,track,x,y,w,h\n0,fly1,1,2,10,20\n2,fly2,5,5,4,4\n")
    t = read_box_csv(p)
    assert t.track_names == ["fly1", "fly2"] and t.boxes.shape == (2, 3, 4)
    assert t.boxes[0, 0].tolist() == [1, 2, 11, 22] and np.isnan(t.boxes[0, 1]).all()
    q = tmp_path / "c.csv"
    q.write_text("frame,x1,y1,x2,y2\n1,0,0,3,3\n")
    c = read_box_csv(q, first_frame=1)
    assert c.track_names == ["agent0"] and c.boxes[0, 0].tolist() == [0, 0, 3, 3]
    write_box_csv(tmp_path / "d.csv", t)
    assert np.allclose(np.nan_to_num(read_box_csv(tmp_path / "d.csv").boxes),
                       np.nan_to_num(t.boxes), atol=0.01)


@pytest.mark.parametrize("text, match", [
    ("x,y,w,h\n1,2,3,4\n", "'frame' column"),
    ("frame,x,y\n1,2,3\n", "x,y,w,h or x1,y1,x2,y2"),
    ("frame,x,y,w,h\n0,1,1,0,5\n", "line 2: box width"),
    ("frame,x,y,w,h\n0,a,1,1,5\n", "line 2: frame and box values"),
    ("frame,x,y,w,h\n0,1,1,2,5\n0,1,1,2,5\n", "line 3: .*already has a box .line 2"),
])
def test_bad_box_csv_names_file_and_line(tmp_path, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=match) as e:
        read_box_csv(p)
    assert str(p) in str(e.value)


def test_boxes_from_keypoints_pad_square_and_missing():
    kp = np.full((1, 3, 3, 2), np.nan, np.float32)
    kp[0, 0] = [[10, 10], [30, 20], [20, 15]]
    kp[0, 1, 0] = [5, 5]  # one point only: no box
    b = boxes_from_keypoints(kp, padding=0.25, min_size=4)
    side = 20 * 1.5
    assert np.allclose(b[0, 0], [20 - side / 2, 15 - side / 2, 20 + side / 2, 15 + side / 2])
    assert np.isnan(b[0, 1]).all() and np.isnan(b[0, 2]).all()


def test_boxes_from_a_deeplabcut_track_file_keep_individuals(tmp_path):
    kp = np.zeros((2, 4, 3, 2), np.float32)
    kp[0] += [[10, 10], [20, 20], [15, 12]]
    kp[1] += [[50, 50], [60, 70], [55, 60]]
    p = tmp_path / "t.csv"
    write_dlc_csv(p, KeypointSet(kp, np.ones((2, 4, 3)), track_names=["mouseA", "mouseB"]))
    t = read_boxes(p)
    assert t.track_names == ["mouseA", "mouseB"] and t.boxes.shape == (2, 4, 4)
    assert t.boxes[1, 0, 0] < 50 and t.boxes[1, 0, 3] > 70


def test_track_file_of_another_video_and_boxes_outside(tmp_path):
    t = BoxTrack(np.array([[[0, 0, 5, 5]] * 10], np.float32), ["a"], "tracks.slp")
    with pytest.raises(DataError, match=r"tracks.slp: has boxes up to frame 9 but the video "
                                         r"v.mp4 has 5 frames"):
        check_frames(t, 5, "v.mp4")
    assert check_frames(t, 12, "v.mp4").num_frames == 12
    t.boxes[0, 3] = [200, 200, 220, 220]
    t.boxes[0, 4] = [-10, -10, 2, 2]  # partly outside: kept
    kept, n = drop_outside(t, 100, 100)
    assert n == 1 and np.isnan(kept.boxes[0, 3]).all() and np.isfinite(kept.boxes[0, 4]).all()


def test_real_sleap_tracks_give_one_box_track_per_fly(shared_data):
    p = shared_data("behavior_videos", "sleap", "clip.slp")
    t = read_boxes(p)
    assert t.num_agents == 2 and t.num_frames == 1500
    assert t.present().mean() > 0.9
