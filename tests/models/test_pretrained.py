"""``model.pretrained``: one path, owned by the family where it must be (MAMP), the generic rule
otherwise; nothing is dropped without being named."""

from __future__ import annotations

import pytest
import torch

from motionscope.config import load_config
from motionscope.errors import CheckpointError
from motionscope.models import create_model
from motionscope.models.pretrained import load_pretrained
from motionscope.tasks.runs import build_model

SMALL = ["model.args.dim_feat=32", "model.args.depth=2", "model.args.num_heads=4"]


def _pretrain_checkpoint(tmp_path, frames: int):
    """A MAMP pre-training model's weights in a motionscope-style checkpoint dict."""
    torch.manual_seed(0)
    pre = create_model("mamp_pretrain", dim_feat=32, depth=2, num_heads=4, num_frames=frames,
                       num_joints=25, decoder_dim_feat=32, decoder_depth=1)
    path = tmp_path / "pre.pt"
    torch.save({"model": pre.state_dict(), "config": {}}, path)
    return pre, path


def test_preset_path_resizes_temp_embed_for_another_frame_count(tmp_path, capsys):
    pre, path = _pretrain_checkpoint(tmp_path, frames=64)  # pre-trained on 64 frames
    cfg = load_config("mamp_world_xsub_linprobe", [*SMALL, f"model.pretrained={path}"])
    assert cfg.model.args.num_frames == 32  # ... probed on 32
    model = build_model(cfg)
    assert model.temp_embed.shape == (1, 8, 1, 32)
    assert torch.equal(model.blocks[0].attn.qkv.weight, pre.blocks[0].attn.qkv.weight)
    ends = model.temp_embed[0, [0, -1], 0], pre.temp_embed[0, [0, -1], 0]
    assert torch.allclose(*ends, atol=0.05)  # resized from the checkpoint, not random
    out = capsys.readouterr().out
    assert "temp_embed resized from 16 to 8" in out
    assert "ignored (not in the model)" in out and "decoder" in out  # the decoder, named
    assert "newly initialised (not in the file)" in out and "head.fc.1.weight" in out


def test_generic_rule_refuses_a_checkpoint_that_does_not_fit(tmp_path):
    torch.manual_seed(0)
    other = create_model("skeleton_transformer", num_classes=7, dim=16, depth=1, heads=2)
    path = tmp_path / "other.pt"
    torch.save({"model": other.state_dict(), "config": {}}, path)
    cfg = load_config("baseline_skeleton", ["model.args.dim=16", "model.args.depth=1",
                                            "model.args.heads=2", f"model.pretrained={path}"])
    with pytest.raises(CheckpointError, match=r"head\.weight: file \(7, 16\) vs model \(10, 16\)"
                                              r".*model\.pretrained_partial=true"):
        build_model(cfg)
    # asked for explicitly: what fits is loaded, the head stays new, both named
    cfg = load_config("baseline_skeleton", ["model.args.dim=16", "model.args.depth=1",
                                            "model.args.heads=2", f"model.pretrained={path}",
                                            "model.pretrained_partial=true"])
    model = build_model(cfg)
    assert torch.equal(model.embed.weight, other.embed.weight)
    assert not torch.equal(model.head.bias[:7], other.head.bias)


def test_checkpoint_of_another_model_is_refused(tmp_path):
    clip = create_model("clip_cnn3d", num_classes=10, width=4)
    path = tmp_path / "clip.pt"
    torch.save({"model": clip.state_dict(), "config": {}}, path)
    skel = create_model("skeleton_transformer", dim=16, depth=1, heads=2)
    # one tensor (head.bias, 10 classes) fits by chance: refused unless a partial load is asked
    with pytest.raises(CheckpointError, match="does not fit model 'skeleton_transformer'"):
        load_pretrained(skel, path, model_name="skeleton_transformer")
    rep = load_pretrained(skel, path, model_name="skeleton_transformer", partial=True)
    assert rep.loaded == ["head.bias"] and "features.0.weight" in rep.unexpected


def test_exact_fit_loads_everything(tmp_path):
    torch.manual_seed(1)
    a = create_model("skeleton_transformer", dim=16, depth=1, heads=2)
    b = create_model("skeleton_transformer", dim=16, depth=1, heads=2)
    rep = load_pretrained(b, a.state_dict(), model_name="skeleton_transformer")
    assert not (rep.missing or rep.unexpected or rep.mismatched)
    assert all(torch.equal(v, a.state_dict()[k]) for k, v in b.state_dict().items())
