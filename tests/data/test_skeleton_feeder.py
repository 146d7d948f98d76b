"""The official MAMP feeder (specs/mamp.md section 8): crop/resize, rotation, determinism,
the ntu_skeleton and skeleton_dataset builders and the predict reader."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from motionscope.config import load_config
from motionscope.data.datasets import build_dataset
from motionscope.data.inputs import INPUT_READERS
from motionscope.data.skeleton import (
    SkeletonFeeder,
    center_sequence,
    load_npz_array,
    random_rot,
    rotation_matrix,
    select_fraction,
    valid_crop_resize,
    valid_frame_count,
)
from motionscope.errors import ConfigError, DataError
from motionscope.io.ntu import write_skeleton
from motionscope.io.skeleton_dataset import write_skeleton_dataset
from motionscope.prepare.common import write_npz_streaming


def _ramp(valid: int, total: int = 300, V: int = 25, M: int = 2) -> np.ndarray:
    """(3, total, V, M): value t + 1 in frame t < valid (so frame t is identifiable), then 0."""
    x = np.zeros((3, total, V, M), np.float32)
    x[:, :valid] = (np.arange(valid, dtype=np.float32) + 1)[None, :, None, None]
    return x


def _ref_resize(seq: np.ndarray, window: int) -> np.ndarray:
    """Linear interpolation over time with align_corners=False, written out in numpy."""
    L = len(seq)
    src = np.maximum((np.arange(window) + 0.5) * L / window - 0.5, 0)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, L - 1)
    w = src - i0
    return seq[i0] * (1 - w) + seq[i1] * w


def test_valid_frames_are_the_non_zero_frames():
    assert valid_frame_count(_ramp(77)) == 77
    x = _ramp(50)
    x[:, 10] = 0  # a zero frame inside still counts out
    assert valid_frame_count(x) == 49


@pytest.mark.parametrize("valid", [10, 64, 100, 300])
def test_test_crop_is_the_deterministic_95_percent_centre(valid):
    x = _ramp(valid)
    bias = int((1 - 0.95) * valid / 2)
    out = valid_crop_resize(x, valid, [0.95], 120)
    assert out.shape == (3, 120, 25, 2) and out.dtype == np.float32
    ref = _ref_resize(np.arange(bias, valid - bias, dtype=np.float64) + 1, 120)
    np.testing.assert_allclose(out[0, :, 3, 1], ref, rtol=1e-6)
    np.testing.assert_array_equal(out, valid_crop_resize(x, valid, [0.95], 120))


@pytest.mark.parametrize("valid", [40, 100, 300])
def test_training_crop_follows_the_official_draws(valid):
    x = _ramp(valid)
    for seed in range(20):
        np.random.seed(seed)
        p = np.random.rand(1)[0] * 0.5 + 0.5
        L = min(max(math.floor(valid * p), 64), valid)
        start = np.random.randint(0, valid - L + 1)
        np.random.seed(seed)
        out = valid_crop_resize(x, valid, [0.5, 1.0], 120)
        ref = _ref_resize(np.arange(start, start + L, dtype=np.float64) + 1, 120)
        np.testing.assert_allclose(out[2, :, 0, 0], ref, rtol=1e-6)
        assert L >= min(64, valid) and L >= math.floor(valid * 0.5)


def test_rotation_matrix_convention_and_range():
    a = torch.tensor([0.1, -0.2, 0.25])
    c, s = a.cos(), a.sin()
    rx = torch.tensor([[1, 0, 0], [0, c[0], s[0]], [0, -s[0], c[0]]])
    ry = torch.tensor([[c[1], 0, -s[1]], [0, 1, 0], [s[1], 0, c[1]]])
    rz = torch.tensor([[c[2], s[2], 0], [-s[2], c[2], 0], [0, 0, 1]])
    torch.testing.assert_close(rotation_matrix(a), rz @ ry @ rx)
    x = torch.randn(3, 120, 25, 2)
    for seed in range(10):
        torch.manual_seed(seed)
        angles = torch.zeros(3).uniform_(-0.3, 0.3)
        torch.manual_seed(seed)
        out = random_rot(x)
        assert angles.abs().max() <= 0.3
        torch.testing.assert_close(out, torch.einsum("ij,jtvm->itvm", rotation_matrix(angles), x))
        torch.testing.assert_close(out.norm(dim=0), x.norm(dim=0))  # a rotation: lengths kept


def _feeder(train, **kw):
    xs = [_ramp(v) for v in (30, 90, 300)]
    return SkeletonFeeder(xs, [0, 1, 2], train=train, **kw)


def test_feeder_sample_contract_and_determinism():
    f = _feeder(False)
    s = f[1]
    assert set(s) == {"skeleton", "label", "index"}
    assert s["skeleton"].shape == (3, 120, 25, 2) and s["skeleton"].dtype == torch.float32
    assert (s["label"], s["index"]) == (1, 1)
    assert torch.equal(f[2]["skeleton"], f[2]["skeleton"])
    t = _feeder(True)
    np.random.seed(0)
    torch.manual_seed(0)
    a = t[2]["skeleton"]
    b = t[2]["skeleton"]
    assert not torch.equal(a, b)  # random crop + rotation
    np.random.seed(0)
    torch.manual_seed(0)
    assert torch.equal(a, t[2]["skeleton"])  # ... from the global numpy / torch RNGs


def test_feeder_rejects_empty_and_non_finite_samples():
    x = _ramp(20)
    x[0, 3, 0, 0] = np.nan
    f = SkeletonFeeder([np.zeros((3, 10, 25, 2), np.float32), x], [0, 1], names=["a", "b"],
                       source="d.npz")
    with pytest.raises(DataError, match=r"d.npz: sample 0 \(a\): every frame is all-zero"):
        f[0]
    with pytest.raises(DataError, match=r"sample 1 \(b\): non-finite"):
        f[1]
    with pytest.raises(ConfigError, match="p_interval"):
        SkeletonFeeder([x], [0], p_interval=[0.5, 1.5])
    with pytest.raises(ConfigError, match="random_rot needs 3-D"):
        SkeletonFeeder([_ramp(20)[:2]], [0], train=True)[0]


def test_center_sequence_subtracts_the_first_frame_joint_and_keeps_gaps_zero():
    x = np.random.default_rng(0).normal(size=(3, 10, 20, 2)).astype(np.float32) + 5
    x[:, 7:, :, 1] = 0  # person 1 leaves
    out = center_sequence(x, 1)
    np.testing.assert_allclose(out[:, 0, 1, 0], 0)
    np.testing.assert_allclose(out[:, 4, :, 1], x[:, 4, :, 1] - x[:, 0, 1, 0, None], rtol=1e-6)
    assert not out[:, 7:, :, 1].any()


# ----------------------------------------------------------------------------- builders
def _npz(path, n_train=6, n_test=3, frames=40, compressed=False):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = np.zeros((n, frames, 150), np.float32)
        for i in range(n):
            t = rng.integers(10, frames + 1)
            x[i, :t] = rng.normal(size=(t, 150))
        y = np.zeros((n, 60))
        y[np.arange(n), np.arange(n) % 4] = 1
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, y
    if compressed:  # as an official-script npz written with np.savez_compressed
        np.savez_compressed(path, **arrays)
    else:
        write_npz_streaming(path, {**arrays, "names_train": np.array(
            [f"S001C001P001R001A{i:03d}" for i in range(n_train)]),
            "classes": np.array([f"c{k}" for k in range(60)])})
    return arrays


def _cfg(name, root, *overrides):
    return load_config(None, [f"data.name={name}", f"data.root={root}", "data.num_classes=60",
                              *overrides]).data


def test_ntu_skeleton_reads_the_official_layout_memory_mapped(tmp_path):
    arrays = _npz(tmp_path / "NTU60_XSub.npz")
    assert isinstance(load_npz_array(tmp_path / "NTU60_XSub.npz", "x_train"), np.memmap)
    d = _cfg("ntu_skeleton", tmp_path, "data.args={benchmark: ntu60_xsub, window: 64}")
    tr, te = build_dataset(d, "train", training=True), build_dataset(d, "test")
    assert (len(tr), len(te)) == (6, 3) and tr.train and not te.train
    assert list(tr.labels) == [0, 1, 2, 3, 0, 1] and tr.classes[:2] == ["c0", "c1"]
    assert tr.names[2] == "S001C001P001R001A002" and te.names[0] == "test_0"
    x = arrays["x_test"][1].reshape(40, 2, 25, 3).transpose(3, 0, 2, 1)  # official reshape
    v = valid_frame_count(x)
    np.testing.assert_array_equal(te[1]["skeleton"].numpy(),
                                  valid_crop_resize(x, v, [0.95], 64))
    with pytest.raises(ConfigError, match="splits 'train' and 'test'"):
        build_dataset(d, "val")


def test_ntu_skeleton_actions_subset_label_fraction_and_errors(tmp_path):
    _npz(tmp_path / "a.npz", n_train=20, compressed=True)
    d = _cfg("ntu_skeleton", tmp_path / "a.npz", "data.args={actions: [3, 1], window: 32}")
    tr = build_dataset(d, "train", training=True)  # labels 2 -> 0, 0 -> 1; labels 1, 3 dropped
    assert list(tr.labels) == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0] and tr.classes == ["A003", "A001"]
    assert tr[0]["skeleton"].shape == (3, 32, 25, 2)
    d = _cfg("ntu_skeleton", tmp_path / "a.npz", "data.args={label_fraction: 0.25}")
    tr, te = build_dataset(d, "train", training=True), build_dataset(d, "test")
    keep = np.sort(select_fraction(20, 0.25, 0))
    assert len(tr) == 5 and len(te) == 3  # only the training split is subsampled
    idx = np.arange(20)
    np.random.RandomState(0).shuffle(idx)  # the official random_select_data draw
    np.testing.assert_array_equal(keep, np.sort(idx[:5]))
    with pytest.raises(ConfigError, match="unknown argument 'windows'"):
        build_dataset(_cfg("ntu_skeleton", tmp_path / "a.npz", "data.args={windows: 3}"), "train",
                      training=True)
    with pytest.raises(ConfigError, match="data.args.benchmark is not set"):
        build_dataset(_cfg("ntu_skeleton", tmp_path), "train", training=True)
    with pytest.raises(DataError, match="prepare the data first"):
        build_dataset(_cfg("ntu_skeleton", tmp_path, "data.args={benchmark: ntu120_xset}"),
                      "train")


def test_skeleton_dataset_builder_pads_persons_and_centres(tmp_path):
    rng = np.random.default_rng(1)
    samples = [{"keypoint": rng.normal(size=(1 + i % 2, 12 + i, 20, 3)) + 2, "label": i % 3,
                "name": f"s{i}", "split": "train" if i < 6 else "test"} for i in range(9)]
    write_skeleton_dataset(tmp_path / "d.npz", samples, ["a", "b", "c"], "kinect20")
    d = _cfg("skeleton_dataset", tmp_path / "d.npz",
             "data.args={window: 16, center_joint: 1, random_rot: false}")
    tr, te = build_dataset(d, "train", training=True), build_dataset(d, "test")
    assert (len(tr), len(te)) == (6, 3) and tr.classes == ["a", "b", "c"]
    assert te.names == ["s6", "s7", "s8"] and list(te.labels) == [0, 1, 2]
    s = te[0]["skeleton"]
    assert s.shape == (3, 16, 20, 2)
    assert not s[..., 1].any()  # sample 6 has one person: the second slot is padding
    x = samples[6]["keypoint"].astype(np.float32).transpose(3, 1, 2, 0)
    x = np.concatenate([x, np.zeros_like(x)], axis=3)
    ref = valid_crop_resize(center_sequence(x, 1), 18, [0.95], 16)
    np.testing.assert_allclose(s.numpy(), ref, atol=1e-6)
    with pytest.raises(DataError, match="no split 'val'"):
        build_dataset(d, "val")


def test_predict_reader_preprocesses_a_skeleton_file_like_prepare(tmp_path):
    rng = np.random.default_rng(0)
    j = rng.normal(size=(1, 30, 25, 3)) * 0.1 + np.array([0.2, 0.1, 3.0])
    p = tmp_path / "S001C001P001R001A001.skeleton"
    write_skeleton(p, j, np.zeros((1, 30, 25, 2)), np.zeros((1, 30, 25, 2)))
    d = _cfg("ntu_skeleton", tmp_path, "data.args={benchmark: ntu60_xsub}")
    batch = INPUT_READERS["ntu_skeleton"](d, p)
    assert batch["skeleton"].shape == (1, 3, 120, 25, 2)
    from motionscope.io.ntu import read_skeleton
    from motionscope.prepare.ntu import denoise_skeleton

    rows = denoise_skeleton(read_skeleton(p), "zeros")
    x = rows.reshape(30, 2, 25, 3).transpose(3, 0, 2, 1)
    np.testing.assert_array_equal(batch["skeleton"][0].numpy(),
                                  valid_crop_resize(x, 30, [0.95], 120))
    np.save(tmp_path / "x.npy", x)
    torch.testing.assert_close(INPUT_READERS["ntu_skeleton"](d, tmp_path / "x.npy")["skeleton"],
                               batch["skeleton"])
    (tmp_path / "bad.txt").write_text("x")
    with pytest.raises(DataError, match="expected an NTU .skeleton file"):
        INPUT_READERS["ntu_skeleton"](d, tmp_path / "bad.txt")


def test_unlabelled_samples_need_the_flag(tmp_path):
    rng = np.random.default_rng(2)
    samples = [{"keypoint": rng.normal(size=(1, 20, 20, 3)), "label": None, "name": f"w{i}",
                "split": "train"} for i in range(4)]
    write_skeleton_dataset(tmp_path / "u.npz", samples, ["a", "b"], "kinect20")
    with pytest.raises(DataError, match="data.args.unlabelled=true"):
        build_dataset(_cfg("skeleton_dataset", tmp_path / "u.npz"), "train", training=True)
    ds = build_dataset(_cfg("skeleton_dataset", tmp_path / "u.npz",
                            "data.args={unlabelled: true, window: 16}"), "train", training=True)
    assert ds.labels is None and len(ds) == 4  # no class checks apply to pre-training data
    assert ds[3]["label"] == -1 and ds[3]["skeleton"].shape == (3, 16, 20, 1)


def test_keep_persons_drops_the_duplicated_second_person(tmp_path):
    _npz(tmp_path / "a.npz")
    d = _cfg("ntu_skeleton", tmp_path / "a.npz", "data.args={keep_persons: 1, window: 40}")
    full = build_dataset(_cfg("ntu_skeleton", tmp_path / "a.npz", "data.args={window: 40}"),
                         "test")
    one = build_dataset(d, "test")
    assert one[0]["skeleton"].shape == (3, 40, 25, 1)
    torch.testing.assert_close(one[0]["skeleton"], full[0]["skeleton"][..., :1])
    with pytest.raises(ConfigError, match="keep_persons must be in 1..2"):
        build_dataset(_cfg("ntu_skeleton", tmp_path / "a.npz", "data.args={keep_persons: 3}"),
                      "test")
