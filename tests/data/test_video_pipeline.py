"""RGB clip pipeline: TSN sampling, group transforms, both dataset kinds, bad input, predict,
and an end-to-end ``train`` of a tiny embedded-world preset."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from motionscope.config import load_config
from motionscope.data.datasets import DATASETS, build_dataset
from motionscope.data.inputs import INPUT_READERS, read_input
from motionscope.data.transforms import (
    TSN_SCALES,
    EvalClipTransform,
    GroupMultiScaleCrop,
    TrainClipTransform,
    crop_size_pairs,
    eval_crop_boxes,
    fixed_crop_offsets,
)
from motionscope.data.video import (
    RawframeDataset,
    VideoDataset,
    eval_segment_starts,
    segment_frame_indices,
    train_segment_starts,
)
from motionscope.errors import ConfigError, DataError
from motionscope.io.rawframes import write_frames, write_rawframe_list
from motionscope.io.splits import write_video_csv
from motionscope.io.video import write_video
from motionscope.tasks.runs import check_data_against_model

PLAIN = {"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}  # output = pixel / 255


def coded_frames(n: int, h: int = 40, w: int = 48) -> np.ndarray:
    """Frame k is uniformly grey 6k+4, so a decoded pixel tells which frame it came from."""
    return np.stack([np.full((h, w, 3), 6 * k + 4, np.uint8) for k in range(n)])


def frame_ids(video: torch.Tensor) -> list[int]:
    """Which coded frame each time step of a ``(3, N, H, W)`` PLAIN-normalised clip is."""
    v = video.mean(dim=(0, 2, 3)) * 255
    return [int(round((float(x) - 4) / 6)) for x in v]


# ----------------------------------------------------------------------------- sampling
def test_train_starts_are_random_inside_their_segments():
    rs = np.random.RandomState(0)
    f, t, n_len = 50, 3, 4
    avg = (f - n_len + 1) // t  # 15
    seen = [set() for _ in range(t)]
    for _ in range(400):
        s = train_segment_starts(f, t, n_len, rs)
        for k in range(t):
            assert k * avg + 1 <= s[k] <= k * avg + avg  # 1-based, inside segment k
            seen[k].add(int(s[k]))
    assert all(len(x) == avg for x in seen)  # every offset of each segment is drawn


def test_eval_starts_are_segment_centres():
    # tick = (50 - 3) / 3 = 15.67: int(7.83) + 1, int(23.5) + 1, int(39.17) + 1
    assert eval_segment_starts(50, 3, 4).tolist() == [8, 24, 40]
    # 8 segments of a 300-frame clip, 1 frame each: tick 37.5
    assert eval_segment_starts(300, 8, 1).tolist() == [19, 57, 94, 132, 169, 207, 244, 282]
    # two clips = official twice_sample: centres, then segment starts
    assert eval_segment_starts(50, 3, 4, clip=1, num_clips=2).tolist() == [1, 16, 32]
    assert eval_segment_starts(5, 3, 4).tolist() == [1, 1, 1]  # too short: all from frame 1


def test_groups_are_consecutive_and_repeat_the_last_frame():
    idx = segment_frame_indices(np.array([1, 9]), 4, 10)
    assert idx.tolist() == [0, 1, 2, 3, 8, 9, 9, 9]


def test_short_video_fallbacks():
    rs = np.random.RandomState(1)
    f, t = 10, 8  # avg = (10 - 4 + 1) // 8 = 0, but F > T
    pan = np.concatenate([train_segment_starts(f, t, 4, rs, "pan") for _ in range(300)])
    mie = np.concatenate([train_segment_starts(f, t, 4, rs, "mie") for _ in range(300)])
    assert pan.min() >= 1 and pan.max() == f - 4 + 1  # every group fits inside the clip
    assert mie.max() == f  # released +4: starts reach the last frame ...
    assert (mie > f - 4 + 1).any()
    # ... and for single frames it would pass the end: clamped here
    one = np.concatenate([train_segment_starts(f, t, 1, rs, "mie") for _ in range(300)])
    assert one.max() <= f
    for s in (pan, mie, one):
        assert (np.diff(s.reshape(-1, t), axis=1) >= 0).all()  # sorted within a clip
    assert train_segment_starts(6, 8, 4, rs).tolist() == [1] * 8  # F <= T
    with pytest.raises(ConfigError, match="short_video_fallback"):
        train_segment_starts(10, 8, 4, rs, "nope")


# ----------------------------------------------------------------------------- transforms
def test_thirteen_fixed_crop_offsets():
    offs = fixed_crop_offsets(340, 256, 224, 224)
    ws, hs = (340 - 224) // 4, (256 - 224) // 4
    assert len(offs) == len(set(offs)) == 13
    assert set(offs) == {(a * ws, b * hs) for a, b in [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2),
                                                         (0, 2), (4, 2), (2, 4), (2, 0),
                                                         (1, 1), (3, 1), (1, 3), (3, 3)]}
    assert len(fixed_crop_offsets(340, 256, 224, 224, more_fix_crop=False)) == 5


def test_crop_sizes_scales_snapping_and_distortion():
    pairs = crop_size_pairs(340, 256, (224, 224), TSN_SCALES, max_distort=1)
    sides = [256, 224, 192, 168]  # int(256 * s); 224 is exact
    assert pairs == [(w, h) for i, h in enumerate(sides) for j, w in enumerate(sides)
                     if abs(i - j) <= 1]
    assert len(pairs) == 10
    # int(254 * .875) = 222 is within 3 px of 224: snapped
    assert (224, 224) in crop_size_pairs(400, 254, (224, 224))
    assert len(crop_size_pairs(340, 256, (224, 224), max_distort=0)) == 4


def test_multiscale_crop_draws_only_official_boxes():
    crop = GroupMultiScaleCrop(224)
    rng = random.Random(0)
    pairs = set(crop_size_pairs(340, 256, (224, 224)))
    boxes = set()
    for _ in range(500):
        x, y, w, h = crop.params(340, 256, rng)
        assert (w, h) in pairs
        assert (x, y) in fixed_crop_offsets(340, 256, w, h)
        assert x + w <= 340 and y + h <= 256
        boxes.add((x, y, w, h))
    assert len(boxes) > 60  # sizes and positions both vary
    out = crop(torch.zeros(5, 3, 256, 340, dtype=torch.uint8), rng)
    assert out.shape == (5, 3, 224, 224) and out.dtype == torch.uint8


def test_flip_switch():
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    frames[:, :, :8] = 255  # bright left edge
    left = lambda v: float(v[:, :, :, :8].mean())  # noqa: E731
    on = TrainClipTransform(32, scales=(1.0,), flip=True, **PLAIN)
    off = TrainClipTransform(32, scales=(1.0,), flip=False, **PLAIN)
    rng = random.Random(0)
    on_left = [left(on(frames, rng)) for _ in range(40)]
    assert all(left(off(frames, rng)) == 1.0 for _ in range(40))
    assert 0 < sum(x == 1.0 for x in on_left) < 40  # some flipped, some not
    assert all(x in (0.0, 1.0) for x in on_left)  # the whole clip flips together


def test_eval_crops_and_views():
    boxes = eval_crop_boxes(298, 256, (224, 224), 3)  # left, right, centre
    assert boxes == [(0, 16, False), (72, 16, False), (36, 16, False)]
    assert eval_crop_boxes(298, 256, (224, 224), 1) == [(37, 16, False)]
    assert sum(f for *_, f in eval_crop_boxes(298, 256, (224, 224), 10)) == 5
    tf = EvalClipTransform(224, num_crops=3)
    out = tf(np.zeros((12, 240, 320, 3), np.uint8))
    assert out.shape == (3, 3, 12, 224, 224)  # (views, C, frames, H, W)
    assert tf.scale_size == 256  # 224 * 256 // 224


# ----------------------------------------------------------------------------- datasets
@pytest.fixture
def tiny_set(tmp_path: Path) -> Path:
    """Three coded clips as frame folders (PNG, lossless) and as mp4 videos, with lists."""
    for i, n in enumerate([30, 17, 9]):
        write_frames(tmp_path / "frames" / f"clip{i}", coded_frames(n), "img_{:05d}.png")
        write_video(tmp_path / "videos" / f"clip{i}.mp4", coded_frames(n), fps=10, crf=0)
    write_rawframe_list(tmp_path / "train.txt", [(f"clip{i}", n, i % 2)
                                                 for i, n in enumerate([30, 17, 9])])
    write_video_csv(tmp_path / "train.csv", [(f"clip{i}.mp4", i % 2) for i in range(3)])
    return tmp_path


def _rawframes(root: Path, **kw) -> RawframeDataset:
    return RawframeDataset(root / "train.txt", root, frames_dir="frames",
                           template="img_{:05d}.png", **{**PLAIN, **kw})


def _videos(root: Path, **kw) -> VideoDataset:
    return VideoDataset(root / "train.csv", root, videos_dir="videos", **{**PLAIN, **kw})


@pytest.mark.parametrize("kind", ["rawframes", "videos"])
def test_datasets_read_the_sampled_frames(tiny_set, kind):
    make = _rawframes if kind == "rawframes" else _videos
    ds = make(tiny_set, num_segments=3, frames_per_segment=4, input_size=32)
    assert len(ds) == 3 and ds.labels == [0, 1, 0] and ds.classes == ["0", "1"]
    assert ds.names[0] in ("clip0", "clip0.mp4")
    s = ds[0]
    assert set(s) == {"video", "label", "index"} and s["label"] == 0 and s["index"] == 0
    assert s["video"].shape == (3, 12, 32, 32) and s["video"].dtype == torch.float32
    expect = segment_frame_indices(eval_segment_starts(30, 3, 4), 4, 30).tolist()
    assert frame_ids(s["video"]) == expect  # segment-major, 4 consecutive frames each
    train = make(tiny_set, num_segments=3, frames_per_segment=4, input_size=32, training=True)
    np.random.seed(0)
    for _ in range(5):
        ids = frame_ids(train[1]["video"])  # 17 frames: avg = 4
        for k in range(3):
            g = ids[4 * k:4 * k + 4]
            assert g == list(range(g[0], g[0] + 4)) and 4 * k <= g[0] < 4 * k + 4


def test_multi_worker_loading_matches_one_process(tiny_set):
    from torch.utils.data import DataLoader

    ds = _videos(tiny_set, num_segments=3, frames_per_segment=4, input_size=32)
    one = [b["video"] for b in DataLoader(ds, batch_size=1)]
    two = [b["video"] for b in DataLoader(ds, batch_size=1, num_workers=2)]
    assert len(two) == 3 and all(torch.equal(a, b) for a, b in zip(one, two))


def test_multi_clip_multi_crop_views(tiny_set):
    ds = _rawframes(tiny_set, num_segments=2, frames_per_segment=1, input_size=32,
                    test_clips=2, test_crops=3)
    v = ds[0]["video"]
    assert ds.views == 6 and v.shape == (6, 3, 2, 32, 32)
    # views 0-2 are clip 0 (segment centres), 3-5 clip 1 (segment starts), same frames per clip
    assert frame_ids(v[0]) == frame_ids(v[2]) == [7, 22]
    assert frame_ids(v[3]) == [0, 15]


def test_grayscale_and_rgba_frames_become_rgb(tmp_path):
    gray = np.stack([np.full((16, 16), 40 * k, np.uint8) for k in range(4)])
    write_frames(tmp_path / "g", gray, "img_{:05d}.png")
    (tmp_path / "a").mkdir()
    for k in range(4):
        bgra = np.zeros((16, 16, 4), np.uint8)
        bgra[..., 2], bgra[..., 3] = 200, 60  # red, mostly transparent: alpha is dropped
        cv2.imwrite(str(tmp_path / "a" / f"img_{k + 1:05d}.png"), bgra)
    write_rawframe_list(tmp_path / "l.txt", [("g", 4, 0), ("a", 4, 1)])
    ds = RawframeDataset(tmp_path / "l.txt", tmp_path, template="img_{:05d}.png",
                         num_segments=2, frames_per_segment=1, input_size=16, **PLAIN)
    g, a = ds[0]["video"], ds[1]["video"]  # the centres of 2 segments: frames 1 and 3
    assert g.shape == a.shape == (3, 2, 16, 16)
    assert torch.equal(g[0], g[1]) and torch.equal(g[1], g[2])
    assert torch.allclose(g[0].mean((1, 2)) * 255, torch.tensor([40.0, 120]), atol=0.5)
    assert torch.allclose(a.mean((1, 2, 3)) * 255, torch.tensor([200.0, 0, 0]), atol=0.5)
    with av.open(str(tmp_path / "gray.mkv"), "w") as c:  # a grayscale video
        st = c.add_stream("ffv1", rate=10)
        st.width, st.height, st.pix_fmt = 16, 16, "gray"
        for k in range(4):
            f = av.VideoFrame.from_ndarray(gray[k], format="gray")
            f.pts = k
            c.mux(st.encode(f))
        c.mux(st.encode(None))
    write_video_csv(tmp_path / "v.csv", [("gray.mkv", 0)])
    v = VideoDataset(tmp_path / "v.csv", tmp_path, num_segments=2, frames_per_segment=1,
                     input_size=16, **PLAIN)[0]["video"]
    assert torch.allclose(v, g, atol=1.5 / 255)


# ----------------------------------------------------------------------------- bad input
def test_missing_frame_names_the_sample(tiny_set):
    (tiny_set / "frames" / "clip1" / "img_00006.png").unlink()  # a gap in the folder
    ds = _rawframes(tiny_set, num_segments=1, frames_per_segment=17, input_size=32)
    with pytest.raises(DataError) as e:
        ds[1]
    msg = str(e.value)
    assert "sample 1 'clip1'" in msg and "train.txt, line 2" in msg and "img_00006.png" in msg
    assert "16 frames numbered 1..17 with gaps" in msg
    folder = _rawframes(tiny_set, num_segments=1, frames_per_segment=17, input_size=32,
                        num_frames_from="folder")
    with pytest.raises(DataError, match=r"clip1.*img_00006.png is missing \(gap"):
        folder[1]


def test_wrong_frame_count_in_list(tiny_set):
    write_rawframe_list(tiny_set / "train.txt", [("clip0", 30, 0), ("clip1", 25, 1)])
    ds = _rawframes(tiny_set, num_segments=1, frames_per_segment=25, input_size=32)
    with pytest.raises(DataError) as e:
        ds[1]
    assert "line 2" in str(e.value) and "the list says 25 frames, the folder has 17" in str(e.value)
    ok = _rawframes(tiny_set, num_segments=5, frames_per_segment=1, input_size=32,
                    num_frames_from="folder")
    assert frame_ids(ok[1]["video"]) == [1, 5, 8, 11, 15]  # centres of 17 frames, not 25


def test_bad_list_line_names_the_line(tiny_set):
    (tiny_set / "train.txt").write_text("clip0 30 0\nclip1 seventeen 1\n")
    with pytest.raises(DataError, match="line 2"):
        _rawframes(tiny_set)


def test_video_that_ends_early(tmp_path):
    rng = np.random.default_rng(0)
    frames = [np.clip(rng.integers(0, 40, (64, 64, 3)) + 6 * k, 0, 255).astype(np.uint8)
              for k in range(30)]
    path = tmp_path / "cut.mp4"
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as c:  # index first
        st = c.add_stream("libx264", rate=10)
        st.width, st.height, st.pix_fmt = 64, 64, "yuv420p"
        st.codec_context.gop_size = 5
        for k, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = k
            c.mux(st.encode(f))
        c.mux(st.encode(None))
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * 0.6)])  # the header still lists 30 frames
    write_video_csv(tmp_path / "l.csv", [("cut.mp4", 0)])
    ds = VideoDataset(tmp_path / "l.csv", tmp_path, num_segments=4, frames_per_segment=1,
                      input_size=32, **PLAIN)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        v = ds[0]["video"]
    assert v.shape == (3, 4, 32, 32)
    levels = (v.mean((0, 2, 3)) * 255).tolist()
    assert levels == sorted(levels) and levels[-1] < 20 + 6 * 20  # from the frames that exist
    msgs = [str(x.message) for x in w]
    assert any("the header claims 30 frames but the file holds" in m and "cut.mp4" in m
               for m in msgs), msgs  # the file and both counts, said once
    assert sum("the header claims" in m for m in msgs) == 1
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds[0]
    assert not any("the header claims" in str(x.message) for x in w)  # not on every read
    strict = VideoDataset(tmp_path / "l.csv", tmp_path, num_segments=4, frames_per_segment=1,
                          input_size=32, strict=True, **PLAIN)
    with pytest.raises(DataError, match="header claims 30 frames.*data.args.strict=true"):
        strict[0]
    path.write_bytes(data[:600])  # nothing decodes
    with pytest.raises(DataError, match="sample 0 'cut.mp4'"):
        VideoDataset(tmp_path / "l.csv", tmp_path, num_segments=4, frames_per_segment=1)[0]


# ----------------------------------------------------------------------------- config
def _cfg(root: Path, *more: str):
    return load_config(None, ["data.name=rawframes", f"data.root={root}", "data.num_classes=2",
                              "data.args={frames_dir: frames, template: 'img_{:05d}.png', "
                              "num_segments: 3, frames_per_segment: 1, input_size: 32}", *more])


def test_builders_and_config_checks(tiny_set):
    assert {"rawframes", "videos", "world_clips"} <= set(DATASETS) & set(INPUT_READERS)
    ds = build_dataset(_cfg(tiny_set).data, "train", training=True)
    assert ds.training and len(ds) == 3
    ev = build_dataset(_cfg(tiny_set).data, "train", training=False)
    assert not ev.training  # the flag, not the split name, says how a split is read
    bad = _cfg(tiny_set, "model.name=tsn_r50", "model.args={num_segments: 8}")
    with pytest.raises(ConfigError, match="num_segments"):
        check_data_against_model(bad)
    views = _cfg(tiny_set, "data.args.test_crops=3")
    with pytest.raises(ConfigError, match="eval.views=3"):
        check_data_against_model(views)
    with pytest.raises(ConfigError, match="did you mean 'num_segments'"):
        build_dataset(_cfg(tiny_set, "data.args.num_segment=3").data, "train", training=True)
    with pytest.raises(DataError, match="list file of split 'val' not found"):
        build_dataset(_cfg(tiny_set).data, "val")


def test_predict_readers(tiny_set):
    cfg = _cfg(tiny_set)
    folder = read_input(cfg.data, str(tiny_set / "frames" / "clip0"))
    video = read_input(cfg.data, str(tiny_set / "videos" / "clip0.mp4"))
    assert folder["video"].shape == video["video"].shape == (1, 3, 3, 32, 32)


# ----------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_train_tiny_world_end_to_end(tmp_path, monkeypatch):
    from motionscope import api

    monkeypatch.setenv("MOTIONSCOPE_CACHE", str(tmp_path / "cache"))
    world = "{classes: 'pick_up,jump_up', clips_per_class: 7, frames: 8, size: [32, 32]}"
    over = ["data.num_classes=2", "model.args.num_classes=2", f"data.args.world={world}",
            "data.args.input_size=32", "data.batch_size=2", "data.eval_batch_size=4",
            "data.num_workers=0", "train.max_steps=2", "train.epochs=1", "train.progress=false",
            "train.tensorboard=false", "eval.plots=false", "eval.topk=[1]"]
    res = api.train("mienet_world", over, run_dir=str(tmp_path / "run"))
    assert res["global_step"] == 2
    out = api.evaluate(str(tmp_path / "run"))
    assert out["metrics"]["num_samples"] > 0 and 0.0 <= out["metrics"]["top1"] <= 1.0
    views = api.evaluate(str(tmp_path / "run"), ["data.args.test_crops=3", "eval.views=3"],
                         out_dir=str(tmp_path / "eval3"))  # 3-crop testing through the engine
    assert views["metrics"]["num_samples"] == out["metrics"]["num_samples"]
    world = next((tmp_path / "cache").glob("worlds/rgb-*"))
    clip = next(world.rglob("*_rgb.mp4"))
    folder = next((world / "rawframes").iterdir())
    for path in (clip, folder):  # `motionscope predict RUN video.mp4` and `... folder/`
        pred = api.predict(str(tmp_path / "run"), str(path), topk=2)
        assert sorted(p["class"] for p in pred["predictions"]) == ["jump up", "pick up"]
        assert sum(p["prob"] for p in pred["predictions"]) == pytest.approx(1.0, abs=1e-5)


# ----------------------------------------------------------------------------- real clips
@pytest.mark.shared
@pytest.mark.slow
def test_real_clips_decode_and_classify(shared_data, tmp_path):
    """Every real clip (Kinetics/UCF/NTU mp4 and avi, up to 1080p) decodes through the video
    dataset at the sampled frames, and a MIE-Net classifies the batch."""
    from motionscope.io.video import read_video
    from motionscope.models import create_model

    root = shared_data("rgb_action_clips")
    clips = sorted(p for p in root.rglob("*") if p.suffix in (".mp4", ".avi"))
    assert len(clips) >= 8
    write_video_csv(tmp_path / "real.csv", [(str(p), 0) for p in clips])
    ds = VideoDataset(tmp_path / "real.csv", None, num_segments=3, frames_per_segment=4,
                      input_size=64, short_side=72)
    videos = torch.stack([ds[i]["video"] for i in range(len(ds))])
    assert videos.shape == (len(clips), 3, 12, 64, 64) and torch.isfinite(videos).all()
    motion = (videos[:, :, 1:4] - videos[:, :, 0:3]).abs().mean(dim=(1, 2, 3, 4))
    assert (motion > 0).all() and (videos.std(dim=(2, 3, 4)) > 0.05).all()  # real content
    for name in ("test.avi", "test.mp4"):  # frame-accurate: same frames as a full decode
        i = [p.name for p in clips].index(name)
        whole = read_video(clips[i])
        want = segment_frame_indices(eval_segment_starts(len(whole), 3, 4), 4, len(whole))
        plain = VideoDataset(tmp_path / "real.csv", None, num_segments=3, frames_per_segment=4)
        assert np.array_equal(plain.read_clips(i)[0], whole[want]), name
    model = create_model("mienet", num_classes=10, num_segments=3).eval()
    with torch.no_grad():
        logits = model({"video": videos})["logits"]
    assert logits.shape == (len(clips), 10) and torch.isfinite(logits).all()
    one = read_input(load_config(None, ["data.name=videos", "data.args={num_segments: 3, "
                                        "frames_per_segment: 4, input_size: 64}"]).data,
                     str(clips[0]))
    assert one["video"].shape == (1, 3, 12, 64, 64)


@pytest.mark.parametrize("key,value", [("test", "../outside.txt"), ("root", "/elsewhere")])
def test_world_manifest_paths_stay_inside_the_world(tmp_path, key, value):
    import json

    world = tmp_path / "world"
    (world / "rawframes").mkdir(parents=True)
    (world / "classes.txt").write_text("a\nb\n")
    write_rawframe_list(tmp_path / "outside.txt", [("clip0", 4, 0)])  # exists outside
    lists = {"rawframes": {"root": "rawframes", "test": "splits/test_rawframes.txt", key: value}}
    (world / "splits").mkdir()
    write_rawframe_list(world / "splits" / "test_rawframes.txt", [("clip0", 4, 0)])
    (world / "manifest.json").write_text(json.dumps({"lists": lists}))
    cfg = load_config(None, ["data.name=world_clips", f"data.root={world}", "data.num_classes=2"])
    with pytest.raises(DataError, match=rf"manifest\.json: lists\.rawframes\.{key}: path "
                                        rf"'{value}'"):
        build_dataset(cfg.data, "test", training=False)
