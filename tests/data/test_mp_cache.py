"""MP training data path (mp_clips: frame rule, per-batch crop/flip, feature cache) and the
end-to-end run: train a tiny MP on the embedded world, render BMP stimuli, bmp-eval."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

import motionscope.data.mp_cache  # noqa: F401  (registers data.name=mp_clips)
from motionscope.config import load_config
from motionscope.data.datasets import build_dataset
from motionscope.data.mp_cache import FeatureCache, mp_frame_indices
from motionscope.errors import ConfigError
from motionscope.io.video import write_video

W, H, T = 48, 16, 6  # source clips: 16 x 48 frames, a column ramp so crops/flips are readable


def _ramp_video(path, label_shift: int) -> None:
    col = np.arange(W, dtype=np.uint8) * 5  # 0..235, left to right
    frames = np.zeros((T, H, W, 3), np.uint8)
    frames[..., 0] = col[None, None, :]
    frames[..., 1] = (np.arange(T, dtype=np.uint8) * 40 + label_shift)[:, None, None]
    write_video(path, frames, crf=0)


@pytest.fixture
def ramp_clips(tmp_path):
    (tmp_path / "v").mkdir()
    lines = []
    for i in range(6):
        _ramp_video(tmp_path / "v" / f"c{i}.mp4", i)
        lines.append(f"c{i}.mp4,{i % 2}")
    for split in ("train", "test"):
        (tmp_path / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def _data_cfg(root, **args):
    base = {"source": "videos", "videos_dir": "v", "frames": 4, "size": 16, "flip": True,
            "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    return OmegaConf.create({"name": "mp_clips", "root": str(root), "args": {**base, **args},
                             "num_classes": 2, "train_split": "train"})


def _crop_signature(video: torch.Tensor) -> tuple[int, bool]:
    """(left-edge column, flipped) of a clip cut from the ramp (5 grey levels per column)."""
    row = video[0, 0, 0] * 255
    return round(float(row[0]) / 5), bool(row[-1] < row[0])


def test_frame_rule_is_the_official_replication():
    assert mp_frame_indices(3, 32).tolist() == [0] * 11 + [1] * 11 + [2] * 10
    assert mp_frame_indices(4, 32).tolist() == [i // 8 for i in range(32)]
    assert mp_frame_indices(64, 8).tolist() == list(range(0, 64, 8))


def test_one_crop_and_flip_per_batch(ramp_clips):
    torch.manual_seed(0)
    ds = build_dataset(_data_cfg(ramp_clips), "train", training=True)
    lefts = set()
    for _ in range(12):
        batch = ds.__getitems__([0, 3, 5])
        rows = [b["video"][0, 0, 0] for b in batch]
        for r in rows[1:]:  # same crop and flip for every clip (codec noise: a few levels)
            assert torch.allclose(r, rows[0], atol=4 / 255)
        assert batch[0]["video"].shape == (3, 4, 16, 16)
        lefts.add(_crop_signature(batch[0]["video"]))
    # both flips and several horizontal offsets occur across batches
    assert len(lefts) >= 4 and {f for _, f in lefts} == {False, True}


def test_eval_is_the_bmp_eval_reading(ramp_clips):
    """Test clips are read exactly as `bmp-eval` reads stimuli for an mp_clips run."""
    from motionscope.tasks.bmp import StimulusClips

    ds = build_dataset(_data_cfg(ramp_clips), "test")
    ref = StimulusClips(ramp_clips / "test.csv", ramp_clips / "v", frames=4, size=16,
                        mean=[0.0] * 3, std=[1.0] * 3)
    for i in (0, 4):
        a, b = ds[i]["video"], ref[i]["video"]
        assert torch.equal(a, b)
    assert ds.labels == ref.labels


def test_bad_reader_options_fail_clearly(ramp_clips):
    with pytest.raises(ConfigError, match="crop"):
        build_dataset(_data_cfg(ramp_clips, crop="random"), "train", training=True)
    with pytest.raises(ConfigError, match="resize"):
        build_dataset(_data_cfg(ramp_clips, resize=[8, 8]), "train", training=True)
    with pytest.raises(ConfigError, match="source"):
        build_dataset(_data_cfg(ramp_clips, source="nope"), "train", training=True)


def test_feature_cache_gives_the_backbone_output(tmp_path):
    from motionscope.models import create_model

    model = create_model("mp_tiny", num_classes=2).eval()
    cache = FeatureCache(tmp_path, model, "matches", key={"m": "mp_tiny"})
    video = torch.randn(2, 3, 8, 64, 64)
    keys = [("a", 0, 0, False), ("b", 3, 0, True)]
    got = cache.get(keys, lambda miss: video[miss])
    assert cache.misses == 2 and cache.hits == 0
    again = cache.get(keys, lambda miss: pytest.fail("cached entries must not be recomputed"))
    assert cache.hits == 2
    with torch.no_grad():
        ref = model.match(model.extract_tokens(video))
        for g, a, r in zip(got, again, ref):
            assert torch.equal(g, a) and torch.allclose(g, r, atol=1e-6)
        # the model from cached matches is the model from the video
        y = torch.tensor([0, 1])
        out_v = model({"video": video, "label": y})
        out_c = model({"matches": torch.stack(again), "label": y})
        assert torch.allclose(out_v["logits"], out_c["logits"], atol=1e-5)
    # another crop or flip of the same clip is another entry
    assert cache.path("a", 0, 0, False) != cache.path("a", 0, 0, True)


def test_cached_training_dataset_feeds_tokens(ramp_clips, tmp_path):
    cfg = load_config("mp_world", [f"data.root={ramp_clips}", "data.args.source=videos",
                                   "data.args.videos_dir=v", "data.args.world=null",
                                   "data.args.format=null", "data.num_classes=2",
                                   "model.args.num_classes=2",
                                   f"data.args.cache={tmp_path / 'cache'}",
                                   "data.args.crop=center", "data.args.size=64"])
    args = OmegaConf.to_container(cfg.data.args)
    args = {k: v for k, v in args.items() if v is not None}
    OmegaConf.set_readonly(cfg, False)
    cfg.data.args = args
    from motionscope.tasks.runs import build_split

    ds = build_split(cfg, "train", training=True)  # the run hands MP's cache its frozen model
    batch = ds.__getitems__([0, 1])
    assert set(batch[0]) == {"tokens", "label", "index"}
    assert batch[0]["tokens"].shape == (8, 256, 48)  # (T, N, E): mp_world's 4-px patches
    assert ds.cache.misses == 2
    assert ds.cache.misses + ds.cache.hits == 2
    ds.__getitems__([0, 1])
    ds.__getitems__([0, 1])
    assert ds.cache.hits >= 2  # center crop: at most the two flips are ever computed


def test_train_then_bmp_eval_end_to_end(tmp_path):
    """A few steps of the mp_world recipe on the (small, cached) default world, then bmp-eval
    on three conditions rendered from its test split."""
    from motionscope.data.video import world_root
    from motionscope.stimuli import generate_stimuli
    from motionscope.tasks.bmp import bmp_eval
    from motionscope.tasks.classify import train

    world = {"classes": "bmp10", "clips_per_class": 12, "frames": 16, "size": [64, 64],
             "seed": 0}
    over = [f"data.args.world.{k}={json.dumps(v).replace(' ', '')}" for k, v in world.items()]
    res = train("mp_world", over + ["train.max_steps=3", "train.progress=false",
                                    "train.tensorboard=false", "data.batch_size=4",
                                    "data.val_split=null", "data.test_split=null"],
                run_dir=str(tmp_path / "run"))
    assert res["global_step"] == 3
    stim = generate_stimuli(world_root(world), tmp_path / "stim", ["RGB", "J-6P", "SP-8P-1LT"],
                            split="test", frames=8, seed=0, limit=6, progress=False)
    assert json.loads(stim.read_text())["conditions"]["J-6P"]["clips"] == 6
    out = bmp_eval(str(tmp_path / "run"), str(tmp_path / "stim"), out=str(tmp_path / "bmp"),
                   progress=False)
    assert [r["condition"] for r in out["rows"]] == ["RGB", "J-6P", "SP-8P-1LT"]
    for r in out["rows"]:
        assert r["clips"] == 6 and 0.0 <= r["top1"] <= 1.0
    md = (tmp_path / "bmp" / "bmp_results.md").read_text()
    assert "SP-8P-1LT" in md and "49.68" in md  # ours beside the paper's MP
    assert (tmp_path / "bmp" / "bmp_chart.png").stat().st_size > 1000
