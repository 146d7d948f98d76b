"""RGB-D clips for DRSR: sampling, depth encodings, ROI, paired augmentation, FRP cache, bad input."""

from __future__ import annotations

import os
import warnings
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from motionscope.data import rgbd_pipeline as P
from motionscope.data.datasets import build_dataset
from motionscope.data.inputs import read_input
from motionscope.data.rgbd import official_samples
from motionscope.errors import ConfigError, DataError
from motionscope.io.depth import write_depth_folder
from motionscope.io.rawframes import write_frames


# ----------------------------------------------------------------------------- helpers
def _clip(n: int, h: int = 40, w: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """RGB frames and 16-bit depth of a square moving right (depth 1500 mm on the square,
    3000 mm elsewhere): every frame differs, so heat maps are not zero."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 30, size=(n, h, w, 3)).astype(np.uint8)
    depth = np.full((n, h, w), 3000, np.uint16)
    for t in range(n):
        x0 = (t * 2) % (w - 10)
        rgb[t, 10:22, x0:x0 + 10] = 230
        depth[t, 10:22, x0:x0 + 10] = 1500
    return rgb, depth


def _pair_root(tmp_path, clips: dict[str, tuple[np.ndarray, np.ndarray]], labels=None,
               list_name: str = "train.csv"):
    lines = ["rgb,depth,label"]
    for k, (name, (rgb, depth)) in enumerate(clips.items()):
        write_frames(tmp_path / "rgb" / name, rgb, template="{:06d}.jpg", quality=95)
        if depth is not None:
            if depth.dtype == np.uint16:
                write_depth_folder(tmp_path / "depth" / name, depth)
            else:
                write_frames(tmp_path / "depth" / name, depth, template="MDepth-{:08d}.png")
        lines.append(f"rgb/{name},depth/{name},{(labels or {}).get(name, k % 2)}")
    (tmp_path / list_name).write_text("\n".join(lines) + "\n")
    return tmp_path


def _cfg(root, **args):
    base = {"sample_duration": 16, "sample_size": 24, "resize": [48, 40], "crop_size": 32,
            "window": 4, "min_frames": 5, "depth_template": "MDepth-{:08d}.png"}
    return SimpleNamespace(name="rgbd_folders", root=str(root), num_classes=2, args={**base, **args})


# ----------------------------------------------------------------------------- sampling
def test_frame_indices_match_the_official_rule():
    # the DRSR_stem fixture's recorded eval indices for 19 frames, T = 12
    assert P.drsr_frame_indices(19, 12, False).tolist() == [0, 1, 3, 4, 6, 7, 9, 11, 12, 14, 15, 17]
    rng = np.random.RandomState(0)
    for n in (20, 64, 150):
        idx = P.drsr_frame_indices(n, 64, True, rng)
        lo = (n * np.arange(64)) // 64
        hi = np.maximum(lo + 1, (n * np.arange(1, 65)) // 64)
        assert ((idx >= lo) & (idx < hi)).all() and idx.max() < n
    short = P.drsr_frame_indices(20, 64, False)
    assert len(short) == 64 and len(np.unique(short)) == 20  # short videos repeat frames


def test_depth_encodings():
    d = np.array([[0, 500, 1000, 2500]], np.uint16)
    assert P.encode_depth(d, "legacy").tolist() == [[0, 12, 24, 60]]  # spec 2.7 wrap values
    r = P.encode_depth(np.array([[0, 500, 2500, 4500, 9000]], np.uint16), "range", (500, 4500))
    np.testing.assert_allclose(r, [[0, 1, 0.5, 0, 0]])
    with pytest.raises(ConfigError):
        P.encode_depth(d, "log")


def test_roi_centre_and_crops():
    mask = np.zeros((424, 512), np.uint16)
    mask[100:300, 200:260] = 2000
    cx, cy = P.roi_center(mask)
    assert 225 <= cx <= 235 and 195 <= cy <= 205
    crop, found = P.depth_roi(mask, mask)
    assert found and crop.shape == (240, 320)
    assert P.roi_center(np.zeros((424, 512), np.uint16)) is None
    crop, found = P.depth_roi(mask, np.zeros_like(mask))
    assert not found and crop.shape == (240, 320)  # falls back to the frame centre
    rgb = np.zeros((848, 1024, 3), np.uint8)
    crop, found = P.ntu_rgb_roi(rgb, mask)
    assert found and crop.shape == (424, 512, 3)  # half the RGB frame


def test_geometry_resize_is_pils_bicubic():
    rng = np.random.default_rng(1)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (60, 80, 3)).astype(np.uint8), (5, 5), 2)
    params = P.ClipParams(0, 0, False, 0, None)
    ours = P.geometry([frame], params, (40, 30), 30, 30)[0].numpy().astype(int)
    pil = np.asarray(Image.fromarray(frame).resize((40, 30))).astype(int)[:, :30]
    assert np.abs(ours - pil).max() <= 2


def test_draw_params_official_ranges():
    rng = np.random.RandomState(0)
    draws = [P.draw_params(True, (320, 240), 224, rng=rng) for _ in range(200)]
    assert all(0 <= d.left < 96 and 0 <= d.top < 16 for d in draws)
    assert 0.3 < np.mean([d.flip for d in draws]) < 0.7
    assert all(-10 <= d.angle < 10 for d in draws)
    ev = P.draw_params(False, (256, 256), 224, test_crop_offset=(32, 32))
    assert (ev.left, ev.top, ev.flip, ev.angle) == (32, 32, False, 0)
    assert P.draw_params(False, (320, 240), 224).left == 48
    with pytest.raises(ConfigError):
        P.draw_params(False, (64, 64), 80)


# ----------------------------------------------------------------------------- datasets
def test_folder_pairs_give_the_model_interface(tmp_path):
    root = _pair_root(tmp_path, {"a": _clip(20), "b": _clip(24, seed=1)})
    for modality in ("rgb", "depth", "fusion"):
        for training in (True, False):
            ds = build_dataset(_cfg(root, modality=modality), "train", training=training)
            item = ds[1]
            assert item["video"].shape == (3, 16, 24, 24) and item["video"].dtype == torch.float32
            assert item["heat"].shape == (1, 16, 24, 24)
            assert torch.count_nonzero(item["heat"][:, :3]) == 0 and item["heat"][:, 3:].max() > 0
            assert item["label"] == 1 and item["index"] == 1
            assert item["video"].abs().max() <= 1.0
            assert ("depth" in item) == (modality == "fusion")
            if modality == "fusion":
                assert item["depth_heat"].shape == (1, 16, 24, 24)


def test_legacy_depth_is_jet_of_the_wrapped_millimetres(tmp_path):
    root = _pair_root(tmp_path, {"a": _clip(20)})
    ds = build_dataset(_cfg(root, modality="depth", depth_norm="legacy", resize=[48, 40],
                            crop_size=32, sample_size=32), "train", training=False)
    frames = ds.load(0)["depth"]
    assert frames.dtype == torch.uint8 and frames.shape[-1] == 3
    # the background (3000 mm) wraps to (-3000) mod 256 = 72, JET-coloured in BGR order
    expect = cv2.applyColorMap(np.array([[72]], np.uint8), cv2.COLORMAP_JET)[0, 0]
    corner = frames[0, -1, -1].numpy()
    assert np.abs(corner.astype(int) - expect.astype(int)).max() <= 2


def test_paired_augmentation_moves_streams_together(tmp_path):
    rgb, depth = _clip(20)
    rgb[:, :, :24] = 255  # left half bright in RGB ...
    depth[:, :, :24] = 600  # ... and near (bright in the range encoding) in depth
    root = _pair_root(tmp_path, {"a": (rgb, depth)})
    ds = build_dataset(_cfg(root, modality="fusion", flip=1.0, rotated=0.0, resize=[48, 40],
                            crop_size=40, sample_size=40), "train", training=True)
    item = ds[0]
    left_rgb = item["video"][:, :, :, :10].mean() > item["video"][:, :, :, -10:].mean()
    left_depth = item["depth"][:, :, :, :10].mean() > item["depth"][:, :, :, -10:].mean()
    assert not left_rgb and not left_depth  # both flipped


def test_rotation_blur_and_determinism(tmp_path):
    root = _pair_root(tmp_path, {"a": _clip(20)})
    ds = build_dataset(_cfg(root, modality="fusion", rotated=1.0, angle=[5, 9], blur=True),
                       "train", training=True)
    np.random.seed(3)
    a = ds[0]
    np.random.seed(3)
    b = ds[0]
    torch.testing.assert_close(a["video"], b["video"])
    ev = build_dataset(_cfg(root, modality="rgb"), "train", training=False)
    torch.testing.assert_close(ev[0]["heat"], ev[0]["heat"])


def test_world_rgbd(tmp_path):
    from motionscope.synth.jobs import generate_world

    generate_world(tmp_path / "w", clips_per_class=1, frames=18, size=(32, 32),
                   formats=("rawframes", "depth"), classes="bmp10", progress=False)
    for source in ("masked", "full"):
        cfg = SimpleNamespace(name="rgbd_world", root=str(tmp_path / "w"), num_classes=10,
                              args={"modality": "fusion", "depth_source": source, "sample_duration": 16,
                                    "sample_size": 16, "resize": [32, 32], "crop_size": 28})
        ds = build_dataset(cfg, "train", training=True)
        item = ds[0]
        assert item["video"].shape == item["depth"].shape == (3, 16, 16, 16)
        assert item["depth_heat"].max() > 0
        # the world's action names, so test/predict print names rather than indices
        names = (tmp_path / "w" / "classes.txt").read_text().splitlines()
        assert ds.classes == names and "throw" in names


def test_ntu_paths(tmp_path):
    (tmp_path / "valid.txt").write_text("S001C001P001R001A001_rgb 70 0\n")
    s = official_samples(tmp_path, tmp_path / "valid.txt", "NTU")[0]
    assert s.rgb.endswith(os.path.join("Images", "S001C001P001R001A001_rgb"))
    assert s.depth.endswith(os.path.join("nturgb+d_depth_masked", "S001C001P001R001A001"))
    (tmp_path / "iso.txt").write_text("train/001/M_00001 40 3\n")
    s = official_samples(tmp_path, tmp_path / "iso.txt", "IsoGD")[0]
    assert s.depth.endswith(os.path.join("depth", "train", "001", "K_00001"))


# ----------------------------------------------------------------------------- FRP cache
def test_frp_cache_hits_and_keys(tmp_path):
    root = _pair_root(tmp_path / "data", {"a": _clip(20)})
    cache = tmp_path / "cache"
    ds = build_dataset(_cfg(root, modality="fusion", frp_cache=str(cache)), "train", training=False)
    first = ds[0]
    assert ds.cache.misses == 2 and ds.cache.hits == 0
    again = ds[0]
    assert ds.cache.hits == 2
    torch.testing.assert_close(first["heat"], again["heat"], atol=0, rtol=0)
    files = list(cache.rglob("*.npy"))
    assert len(files) == 2
    assert np.load(files[0], allow_pickle=False).shape == (1, 16, 24, 24)
    # another window is another key
    ds4 = build_dataset(_cfg(root, modality="fusion", frp_cache=str(cache), window=6), "train",
                        training=False)
    ds4[0]
    assert ds4.cache.misses == 2 and ds4.cache.root != ds.cache.root
    # a rewritten frame is a new entry; a damaged entry is recomputed
    rgb, _ = _clip(20, seed=9)
    write_frames(root / "rgb" / "a", rgb, template="{:06d}.jpg")
    ds2 = build_dataset(_cfg(root, modality="rgb", frp_cache=str(cache)), "train", training=False)
    ds2[0]
    assert ds2.cache.misses == 1
    for f in cache.rglob("*.npy"):
        f.write_bytes(b"garbage")
    ds3 = build_dataset(_cfg(root, modality="rgb", frp_cache=str(cache)), "train", training=False)
    torch.testing.assert_close(ds3[0]["heat"], ds2[0]["heat"])
    # training samples are random: never cached
    tr = build_dataset(_cfg(root, modality="rgb", frp_cache=str(cache)), "train", training=True)
    tr[0]
    assert tr.cache.hits == tr.cache.misses == 0


# ----------------------------------------------------------------------------- bad input
def test_missing_depth_frame_names_the_file(tmp_path):
    root = _pair_root(tmp_path, {"a": _clip(20)})
    (root / "depth" / "a" / "MDepth-00000007.png").unlink()
    ds = build_dataset(_cfg(root, modality="fusion"), "train", training=False)
    with pytest.raises(DataError, match="sample 0 'rgb/a'.*line 2.*RGB has 20 frames but depth has 19"):
        ds[0]
    ds = build_dataset(_cfg(root, modality="fusion", frame_mismatch="shortest"), "train",
                       training=False)
    with pytest.warns(UserWarning, match="sampling 19"), \
            pytest.raises(DataError, match="MDepth-00000007.png is missing"):
        ds[0]


def test_missing_rgb_frame_and_list_counts(tmp_path):
    root = _pair_root(tmp_path, {"a": _clip(20)})
    (root / "rgb" / "a" / "000020.jpg").unlink()
    ds = build_dataset(_cfg(root, modality="depth"), "train", training=False)
    assert ds[0]["video"].shape[1] == 16  # a depth-only run does not read RGB
    ds = build_dataset(_cfg(root, modality="rgb"), "train", training=False)
    ds[0]  # 19 contiguous RGB frames: sampled from those
    (root / "rgb" / "a" / "000005.jpg").unlink()
    ds = build_dataset(_cfg(root, modality="rgb"), "train", training=False)
    with pytest.raises(DataError, match="000005.jpg.*missing"):
        ds[0]
    (root / "list.txt").write_text("a 30 0\n")
    cfg = SimpleNamespace(name="rgbd_official", root=str(root), num_classes=2,
                          args={"dataset": "generic", "list": "list.txt", "modality": "depth",
                                "sample_duration": 16, "window": 4, "resize": [48, 40],
                                "crop_size": 32, "sample_size": 24})
    ds = build_dataset(cfg, "list", training=False)
    with pytest.raises(DataError, match="list says 30 frames but the depth source has 20"):
        ds[0]


def test_frame_count_mismatch_shortest(tmp_path):
    rgb, depth = _clip(24)
    root = _pair_root(tmp_path, {"a": (rgb, depth[:20])})
    ds = build_dataset(_cfg(root, modality="fusion", frame_mismatch="shortest"), "train",
                       training=False)
    with pytest.warns(UserWarning, match="RGB has 24 frames but depth has 20; sampling 20"):
        item = ds[0]
    assert item["depth"].shape == item["video"].shape
    assert ds.frame_indices(0).max() < 20


def test_eight_bit_depth(tmp_path):
    rgb, depth = _clip(20)
    root = _pair_root(tmp_path, {"a": (rgb, (depth // 16).astype(np.uint8))})
    ds = build_dataset(_cfg(root, modality="depth"), "train", training=False)
    with pytest.raises(DataError, match="8-bit PNG where 16-bit depth"):
        ds[0]
    ds = build_dataset(_cfg(root, modality="depth", depth_format="image8"), "train", training=False)
    assert ds[0]["video"].shape == (3, 16, 24, 24)


def test_depth_of_another_size(tmp_path):
    rgb, _ = _clip(20, h=40, w=48)
    _, depth = _clip(20, h=30, w=36)
    root = _pair_root(tmp_path, {"a": (rgb, depth)})
    ds = build_dataset(_cfg(root, modality="fusion"), "train", training=True)
    item = ds[0]
    assert item["video"].shape == item["depth"].shape == (3, 16, 24, 24)


def test_short_clips(tmp_path):
    root = _pair_root(tmp_path, {"a": _clip(3), "b": _clip(8)})
    ds = build_dataset(_cfg(root, modality="rgb"), "train", training=False)
    assert len(ds) == 2  # folder lists carry no count: both kept, sampled with repeats
    assert ds[0]["video"].shape[1] == 16 and ds[0]["heat"].max() > 0
    (root / "list.txt").write_text("a 3 0\nb 8 1\n")
    cfg = SimpleNamespace(name="rgbd_official", root=str(root), num_classes=2,
                          args={"dataset": "generic", "list": "list.txt", "sample_duration": 16,
                                "window": 4, "resize": [48, 40], "crop_size": 32, "sample_size": 24,
                                "min_frames": 5, "depth_template": "MDepth-{:08d}.png"})
    with pytest.warns(UserWarning, match="dropped 1 clip.*first: 'a', 3 frames"):
        ds = build_dataset(cfg, "list", training=False)
    assert len(ds) == 1 and ds[0]["video"].shape[1] == 16
    cfg.args["min_frames"] = 17  # the official rule drops <= 16: nothing is left
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match="empty"):
            build_dataset(cfg, "list", training=False)
    with pytest.raises(ConfigError, match="FRP window"):
        build_dataset(_cfg(root, sample_duration=3, window=4), "train", training=False)


def test_split_file_naming_missing_folders(tmp_path):
    root = _pair_root(tmp_path, {"a": _clip(20)})
    with open(root / "train.csv", "a") as f:
        f.write("rgb/nope,depth/nope,1\nrgb/gone,depth/gone,0\n")
    with pytest.raises(DataError, match="2 of 3 listed clip.*line 3 'rgb/nope'"):
        build_dataset(_cfg(root, modality="fusion"), "train", training=False)
    with pytest.warns(UserWarning, match="skipped 2"):
        ds = build_dataset(_cfg(root, modality="fusion", missing="skip"), "train", training=False)
    assert len(ds) == 1
    with pytest.raises(ConfigError, match="unknown argument 'windw'"):
        build_dataset(_cfg(root, windw=3), "train", training=False)


def test_ntu_roi_without_subject_warns(tmp_path):
    rgb, depth = _clip(20)
    depth[:] = 0
    root = _pair_root(tmp_path, {"a": (rgb, depth)})
    ds = build_dataset(_cfg(root, modality="depth", depth_roi=True, roi_size=[40, 30],
                            resize=[40, 30], crop_size=24), "train", training=False)
    with pytest.warns(UserWarning, match="no subject"):
        ds[0]


# ----------------------------------------------------------------------------- predict + real data
def test_predict_reader(tmp_path):
    root = _pair_root(tmp_path, {"a": _clip(20)})
    depth_only = read_input(_cfg(root, modality="depth"), str(root / "depth" / "a"))
    assert depth_only["video"].shape == (1, 3, 16, 24, 24) and depth_only["heat"].shape[0] == 1
    pair_dir = tmp_path / "pair"
    pair_dir.mkdir()
    os.symlink(root / "rgb" / "a", pair_dir / "rgb")
    os.symlink(root / "depth" / "a", pair_dir / "depth")
    pair = read_input(_cfg(root, modality="fusion"), str(pair_dir))
    assert set(pair) == {"video", "heat", "depth", "depth_heat"}
    assert pair["depth"].shape == (1, 3, 16, 24, 24)
    with pytest.raises(DataError, match="not found"):
        read_input(_cfg(root, modality="depth"), str(root / "nothing"))


def test_real_depth_sample_reads(shared_data):
    folder = shared_data("depth_png_sample", "png_a01_s01_e01")
    cfg = SimpleNamespace(name="rgbd_folders", root=str(folder.parent), num_classes=20,
                          args={"modality": "depth", "sample_duration": 64, "sample_size": 112,
                                "resize": [160, 240], "crop_size": 160, "window": 10,
                                "depth_template": None})
    batch = read_input(cfg, str(folder))
    assert batch["video"].shape == (1, 3, 64, 112, 112)
    assert batch["heat"][0, 0, 9:].amax() > 0 and torch.count_nonzero(batch["heat"][0, 0, :9]) == 0
    # the body (490-556 mm) is near: bright in the range encoding; background (0) black
    v = batch["video"][0, 0]
    assert v.max() > 0.7 and v.min() == -127.5 / 128
