"""B-KinD frame pairs: layouts, gaps in frames and seconds, crops, grey input, boxes, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from motionscope.data.datasets import build_dataset
from motionscope.data.pairs import (
    FramePairDataset,
    crop_regions,
    region_to_frame,
    to_model_input,
)
from motionscope.errors import ConfigError, DataError
from motionscope.io.rawframes import write_frames
from motionscope.io.video import write_video


def _frames(n, h=32, w=48, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (n, h, w, 3), dtype=np.uint8)
    base[:, :, :, 0] = (np.arange(n) * 5 % 255)[:, None, None]  # frame number in red
    return base


def _cfg(name, root=None, **args):
    return OmegaConf.create({"name": name, "root": None if root is None else str(root),
                             "args": args, "num_classes": 1})


def test_to_model_input_is_the_spec_transform():
    f = np.full((2, 10, 20, 3), 255, np.uint8)
    x = to_model_input(f, 16)
    assert x.shape == (2, 3, 16, 16) and x.dtype == torch.float32
    expect = (1 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(x[0, :, 5, 5], expect, atol=1e-5)
    grey = to_model_input(np.zeros((1, 8, 8), np.uint8) + 100, 8)  # grey frames -> 3 channels
    assert grey.shape == (1, 3, 8, 8)
    mixed = to_model_input([np.zeros((8, 8, 3), np.uint8), np.zeros((16, 4, 3), np.uint8)], 8)
    assert mixed.shape == (2, 3, 8, 8)  # frames of different sizes: each resized on its own
    colour = np.zeros((1, 8, 8, 3), np.uint8)
    colour[..., 0] = 255
    g = to_model_input(colour, 8, grayscale=True)
    raw = g * torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) + \
        torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    assert torch.allclose(raw[0, :, 0, 0], torch.full((3,), 76 / 255), atol=1e-3)  # luma of red


def test_custom_layout_frame_folders_and_videos(tmp_path):
    write_frames(tmp_path / "train" / "a", _frames(30))
    write_video(tmp_path / "train" / "b.mp4", _frames(25), fps=10)
    ds = build_dataset(_cfg("frame_pairs", tmp_path, image_size=32, frame_gap=5), "train",
                       training=True)
    assert len(ds.videos) == 2
    # pairs (i, i + 5) for i in range(0, n - 5, 5 // 10 + 1): 25 + 20
    assert len(ds) == 25 + 20
    s = ds[0]
    assert s["image0"].shape == (3, 32, 32) and s["image1"].shape == (3, 32, 32)
    u, i, j = ds.pair(3)
    assert j - i == 5


def test_random_pairs_stay_inside_the_video(tmp_path):
    write_frames(tmp_path / "v", _frames(12))
    ds = FramePairDataset([tmp_path / "v"], training=True, image_size=16, frame_gap=4,
                          random_pairs=True)
    import random

    rng = random.Random(0)
    draws = {ds.pair(0, rng)[1] for _ in range(200)}
    assert draws == set(range(8))


def test_gap_in_seconds_follows_variable_frame_rate_timestamps(tmp_path):
    import av

    path = tmp_path / "vfr.mkv"
    with av.open(str(path), "w") as c:  # frames at 0, 0.1, 0.2, then every 0.5 s
        st = c.add_stream("mpeg4", rate=10)
        st.width, st.height, st.pix_fmt = 32, 32, "yuv420p"
        st.time_base = __import__("fractions").Fraction(1, 1000)
        times = [0, 100, 200, 700, 1200, 1700]
        for t, f in zip(times, _frames(len(times))):
            fr = av.VideoFrame.from_ndarray(f, format="rgb24")
            fr.pts = t
            fr.time_base = st.time_base
            c.mux(st.encode(fr))
        c.mux(st.encode(None))
    ds = FramePairDataset([path], image_size=16, gap_seconds=0.5, stride=1)
    partners = {i: j for (_, i), (_, _, j) in zip(ds.pairs, (ds.pair(k) for k in range(len(ds))))}
    assert partners[0] == 3 and partners[2] == 3 and partners[3] == 4
    assert any("variable frame rate" in w for w in ds.warnings)


def test_gap_longer_than_every_video_is_one_error_naming_the_longest(tmp_path):
    write_frames(tmp_path / "train" / "short", _frames(6))
    with pytest.raises(DataError, match=r"shorter than the frame gap \(20 frames\).*short.*6 frames"):
        build_dataset(_cfg("frame_pairs", tmp_path, image_size=16), "train", training=True)


def test_short_video_beside_a_long_one_is_skipped_with_a_warning(tmp_path):
    write_frames(tmp_path / "long", _frames(30))
    write_frames(tmp_path / "short", _frames(4))
    with pytest.warns(UserWarning, match="short"):
        ds = FramePairDataset([tmp_path / "long", tmp_path / "short"], image_size=16,
                              frame_gap=10)
    assert {ds.units[u]["video"] for u, _ in ds.pairs} == {0}


def test_crop_outside_the_frame_names_the_video(tmp_path):
    write_video(tmp_path / "v.mp4", _frames(20), fps=10)
    with pytest.raises(ConfigError, match=r"v.mp4.*crop.*48x32"):
        FramePairDataset([tmp_path / "v.mp4"], image_size=16, frame_gap=2, crop=[40, 0, 20, 10])
    ds = FramePairDataset([tmp_path / "v.mp4"], image_size=16, frame_gap=2, crop=[8, 4, 16, 16])
    assert ds[0]["image0"].shape == (3, 16, 16)


def test_frames_of_different_sizes_in_one_folder(tmp_path):
    import cv2

    d = tmp_path / "mixed"
    d.mkdir()
    for k in range(8):
        cv2.imwrite(str(d / f"{k:03d}.png"), np.zeros((20 + 4 * (k % 2), 30, 3), np.uint8))
    ds = FramePairDataset([d], image_size=16, frame_gap=1, augment=True, training=True)
    assert ds[0]["image0"].shape == (3, 16, 16)


def test_box_mode_one_pair_source_per_agent_and_box_outside_dropped(tmp_path):
    write_frames(tmp_path / "v", _frames(10, 40, 40))
    csv = tmp_path / "boxes.csv"
    rows = ["frame,track,x,y,w,h"]
    for t in range(10):
        rows.append(f"{t},a,2,2,10,10")
        rows.append(f"{t},b,{500 if t < 5 else 20},20,10,10")  # outside for t < 5
    csv.write_text("\n".join(rows) + "\n")
    ds = FramePairDataset([tmp_path / "v"], image_size=16, frame_gap=2, boxes=[str(csv)])
    assert [u["agent"] for u in ds.units] == ["a", "b"]
    starts_b = {i for u, i in ds.pairs if ds.units[u]["agent"] == "b"}
    assert min(starts_b) == 5
    assert any("outside" in w for w in ds.warnings)
    assert ds[0]["image0"].shape == (3, 16, 16)


def test_region_mapping_round_trip():
    boxes = np.array([[10.0, 20.0, 41.0, 51.0]])
    r = crop_regions(boxes)
    assert r.tolist() == [[10, 20, 42, 52]]  # pixels 10..41 and 20..51
    # input pixels 0 and 31 of that 32-px crop at 32 px are frame pixels 10 and 41
    p = region_to_frame(np.array([[[0.0, 0.0], [31.0, 31.0]]]), r, 32)
    assert np.allclose(p[0], [[10, 20], [41, 51]])
    # at half the size: input pixel 0 covers frame pixels 10 and 11 (centre 10.5)
    assert np.allclose(region_to_frame(np.zeros((1, 1, 2)), r, 16)[0, 0], [10.5, 20.5])


def test_world_pairs_reads_the_behaviour_layout(tmp_path):
    from motionscope.synth import generate_world

    generate_world(tmp_path / "w", classes="pick_up,throw", clips_per_class=1, frames=8,
                   size=(32, 32), formats=("behavior",), behavior_videos=(1, 1),
                   behavior_segments=2, progress=False)
    ds = build_dataset(_cfg("world_pairs", tmp_path / "w", image_size=32, frame_gap=2), "val")
    assert len(ds.videos) == 1 and "val" in str(ds.videos[0].path)
    assert ds[0]["image1"].shape == (3, 32, 32)


def test_unknown_argument_names_the_closest(tmp_path):
    with pytest.raises(ConfigError, match="frame_gap"):
        build_dataset(_cfg("video_pairs", paths=["x.mp4"], frame_gapp=3), "train")
