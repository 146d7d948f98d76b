"""MAMP unit tests: tiny configurations on CPU (shapes, masking, target, heads, loading, groups)."""

from __future__ import annotations

import argparse
import math

import pytest
import torch

from motionscope.errors import CheckpointError, ConfigError, DataError
from motionscope.models import create_model
from motionscope.models.mamp import (
    MAMP,
    MAMPClassifier,
    len_keep,
    load_pretrained,
    set_attention_mode,
)

TINY = dict(dim_feat=32, depth=2, num_heads=4, num_frames=16, num_joints=5, t_patch_size=4)
TINY_PRE = dict(TINY, decoder_dim_feat=32, decoder_depth=1)
L_TINY = (16 // 4) * 5  # 20 tokens per person


def skeletons(n=2, t=16, v=5, m=2, seed=0, zero_second=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, t, v, m, generator=g).cumsum(2) * 0.05
    if zero_second:
        x[..., 1] = 0
    return x


def assert_all_grads(model):
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{name} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"


# ------------------------------------------------------------------ pre-training


def test_pretrain_forward_backward_every_param_gets_gradient():
    torch.manual_seed(0)
    model = MAMP(**TINY_PRE, mask_ratio=0.75)
    out = model({"skeleton": skeletons()})
    loss = out["losses"]["mse"]
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert out["pred"].shape == (4, L_TINY, 12) and out["mask"].shape == (4, L_TINY)
    loss.backward()
    assert_all_grads(model)


def test_mask_count_is_official_len_keep():
    assert len_keep(750, 0.9) == 74  # int(74.99999999999999), as the official code
    assert len_keep(20, 0.75) == 5
    model = MAMP(**TINY_PRE, mask_ratio=0.75)
    mask = model({"skeleton": skeletons()})["mask"]
    assert torch.equal(mask.sum(1), torch.full((4,), float(L_TINY - 5)))
    assert set(mask.unique().tolist()) == {0.0, 1.0}


def test_injected_noise_makes_masking_reproducible_and_keeps_lowest_scores():
    torch.manual_seed(0)
    model = MAMP(**TINY_PRE).eval()
    x = skeletons()
    u = torch.rand(4, L_TINY)
    with torch.no_grad():
        a = model.forward_official(x, 0.75, 1, 0.8, noise=u, return_intermediates=True)
        b = model.forward_official(x, 0.75, 1, 0.8, noise=u.clone(), return_intermediates=True)
    assert torch.equal(a[2], b[2]) and torch.equal(a[0], b[0])
    info = a[3]
    scores = torch.log(info["motion_prob"]) - torch.log(-torch.log(u + 1e-10) + 1e-10)
    kept = torch.zeros(4, L_TINY, dtype=torch.bool).scatter_(1, info["ids_keep"], True)
    # every kept token scores lower than every masked one, and the mask marks the others
    assert (scores[kept].view(4, -1).max(1).values < scores[~kept].view(4, -1).min(1).values).all()
    assert torch.equal(a[2].bool(), ~kept)
    # ids_restore undoes the shuffle
    ids_shuffle = torch.argsort(info["ids_restore"], dim=1)
    assert torch.equal(ids_shuffle[:, : info["ids_keep"].shape[1]], info["ids_keep"])
    with pytest.raises(DataError, match="noise"):
        model.forward_official(x, 0.75, 1, 0.8, noise=torch.rand(3, L_TINY))


def test_motion_aware_masking_masks_moving_joints_more_often():
    # joint 0 moves, the others stand still: with a small tau it is masked far more often
    model = MAMP(**TINY_PRE, mask_ratio=0.5).eval()
    x = torch.zeros(1, 3, 16, 5, 1)
    x[0, 0, :, 0, 0] = torch.linspace(0, 1, 16)
    torch.manual_seed(0)
    with torch.no_grad():
        masks = torch.stack([model.forward_official(x, 0.5, 1, 0.1)[2][0] for _ in range(200)])
    per_joint = masks.view(200, 4, 5).mean(dim=(0, 1))
    assert per_joint[0] > 0.9 and per_joint[1:].max() < 0.5
    # uniform masking (the MAE baseline) ignores the motion
    torch.manual_seed(0)
    uni = MAMP(**TINY_PRE, masking="uniform").eval()
    with torch.no_grad():
        masks = torch.stack([uni.forward_official(x, 0.5, 1, 0.1)[2][0] for _ in range(200)])
    assert abs(masks.view(200, 4, 5).mean(dim=(0, 1))[0].item() - 0.5) < 0.1


def test_all_zero_second_person_is_uniform_and_finite():
    model = MAMP(**TINY_PRE, mask_ratio=0.75)
    x = skeletons(zero_second=True)
    loss, pred, mask, info = model.forward_official(x, 0.75, 1, 0.8, return_intermediates=True)
    # person index is fastest: sequences 1 and 3 are the zero second persons
    prob = info["motion_prob"]
    assert torch.allclose(prob[1], torch.full((L_TINY,), 1 / L_TINY))
    assert not torch.allclose(prob[0], torch.full((L_TINY,), 1 / L_TINY))
    assert torch.count_nonzero(info["target_norm"][1]) == 0
    assert torch.isfinite(loss)
    loss.backward()
    assert_all_grads(model)


def test_patchify_order_and_motion_target():
    model = MAMP(**TINY_PRE)
    nm, t, v = 1, 16, 5
    x = torch.arange(nm * t * v * 3, dtype=torch.float32).view(nm, t, v, 3)
    p = model.patchify(x)
    assert p.shape == (1, 4 * 5, 12)
    # token index = segment * V + joint; inner order (frame-in-segment, xyz)
    tok, seg, joint = 2 * 5 + 3, 2, 3
    assert torch.equal(p[0, tok], x[0, seg * 4:(seg + 1) * 4, joint].reshape(12))
    motion = model.extract_motion(x, 1)
    assert torch.equal(motion[:, :-1], x[:, 1:] - x[:, :-1]) and not motion[:, -1].any()
    target = model.normalised_target(model.extract_motion(torch.randn(1, t, v, 3), 1))
    moving = target[0, :-5]  # tokens of the first segments (no zero last frame)
    assert torch.allclose(moving.mean(-1), torch.zeros(moving.shape[0]), atol=1e-5)
    assert torch.allclose(moving.std(-1), torch.ones(moving.shape[0]), atol=1e-3)


def test_coordinates_target_for_mae_baseline():
    model = MAMP(**TINY_PRE, target="coordinates", masking="uniform")
    x = skeletons()
    *_, info = model.forward_official(x, 0.75, 1, 0.8, return_intermediates=True)
    seq = model.to_sequences(x)
    assert torch.equal(info["x_patchified"], model.patchify(seq))


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(2, 3, 12, 5, 2), "too short"),
    (torch.zeros(2, 3, 20, 5, 2), "too long"),
    (torch.zeros(2, 3, 16, 25, 2), "5 joints|25 joints"),
    (torch.zeros(2, 2, 16, 5, 2), "coordinates"),
    (torch.zeros(3, 16, 5, 2), "5 dims"),
    (torch.zeros(2, 3, 16, 5, 2, dtype=torch.long), "dtype"),
])
def test_bad_skeleton_batches_raise_one_clear_error(bad, match):
    for model in (MAMP(**TINY_PRE), MAMPClassifier(**TINY, num_classes=3)):
        with pytest.raises(DataError, match=match):
            model({"skeleton": bad})


def test_bad_configuration_raises_config_error():
    with pytest.raises(ConfigError, match="t_patch_size"):
        MAMP(**{**TINY_PRE, "num_frames": 18})
    with pytest.raises(ConfigError, match="masking"):
        MAMP(**TINY_PRE, masking="random")
    with pytest.raises(ConfigError, match="protocol"):
        MAMPClassifier(**TINY, protocol="knn")
    with pytest.raises(ConfigError, match="mask_ratio"):
        MAMP(**TINY_PRE, mask_ratio=1.0)


# ------------------------------------------------------------------ attention modes


def test_sdpa_and_naive_attention_agree():
    torch.manual_seed(0)
    pre = MAMP(**TINY_PRE).eval()
    clf = MAMPClassifier(**TINY, num_classes=4, protocol="finetune").eval()
    x, u = skeletons(), torch.rand(4, L_TINY)
    results = {}
    for mode in ("sdpa", "naive"):
        set_attention_mode(pre, mode)
        set_attention_mode(clf, mode)
        pre.zero_grad()
        loss, pred, mask = pre.forward_official(x, 0.75, 1, 0.8, noise=u)
        loss.backward()
        grad = pre.blocks[0].attn.qkv.weight.grad.clone()
        results[mode] = (loss.detach(), pred.detach(), mask, grad, clf({"skeleton": x})["logits"])
    for a, b in zip(results["sdpa"], results["naive"]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert {b.attn.mode for b in pre.blocks} == {"naive"}
    with pytest.raises(ConfigError, match="attention"):
        MAMP(**TINY_PRE, attention="flash")


# ------------------------------------------------------------------ classifier


def test_linprobe_head_trains_alone_and_backbone_stays_in_eval():
    torch.manual_seed(0)
    model = create_model("mamp_linprobe", num_classes=3, **TINY)
    bn, fc = model.head.fc
    assert isinstance(bn, torch.nn.BatchNorm1d) and not bn.affine and bn.eps == 1e-6
    assert fc.weight.std().item() < 0.02 and not fc.bias.any()  # trunc_normal std 0.01, bias 0
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"head.fc.1.weight", "head.fc.1.bias"}
    model.train()
    assert model.head.training and not model.blocks.training and not model.norm.training
    out = model({"skeleton": skeletons(n=4), "label": torch.tensor([0, 1, 2, 1])})
    assert out["logits"].shape == (4, 3)
    out["losses"]["ce"].backward()
    assert_all_grads(model)
    assert model.blocks[0].attn.qkv.weight.grad is None
    assert bn.num_batches_tracked.item() == 1  # BN used batch statistics in train mode


def test_finetune_classifier_every_param_gets_gradient_with_label_smoothing():
    torch.manual_seed(0)
    model = create_model("mamp_finetune", num_classes=3, hidden_dim=16, **TINY)
    assert model.label_smoothing == 0.1
    assert [b.drop_path.p for b in model.blocks] == pytest.approx([0.0, 0.3])
    assert model.head.fc1.in_features == 5 * 32 and model.head.bn.eps == 1e-5
    batch = {"skeleton": skeletons(n=3, zero_second=True), "label": torch.tensor([0, 1, 2])}
    out = model.train()(batch)
    out["losses"]["ce"].backward()
    assert_all_grads(model)
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    assert "ce" not in model({"skeleton": batch["skeleton"]})["losses"]


def test_finetune_head_reduction_order():
    # mean over T, then flatten (V, D) per person, then mean over persons
    model = MAMPClassifier(**TINY, num_classes=3, protocol="finetune", hidden_dim=8).eval()
    feat = torch.randn(2, 2, 4, 5, 32)
    ref = feat.mean(2).reshape(2, 2, -1).mean(1)
    h = model.head
    expect = h.fc2(torch.relu(h.bn(h.fc1(ref))))
    torch.testing.assert_close(h(feat), expect)


# ------------------------------------------------------------------ checkpoints


def official_style_checkpoint(tmp_path, model, name="checkpoint-399.pth"):
    path = tmp_path / name
    torch.save({"model": model.state_dict(), "optimizer": {}, "epoch": 399,
                "args": argparse.Namespace(model="model_mamp.transformer.Transformer")}, path)
    return path


@pytest.mark.parametrize("builder", ["mamp_linprobe", "mamp_finetune"])
def test_classifier_from_official_style_pretraining_checkpoint(tmp_path, builder):
    torch.manual_seed(0)
    pre = MAMP(**TINY_PRE)
    path = official_style_checkpoint(tmp_path, pre)
    clf = create_model(builder, num_classes=3, **TINY)
    load_pretrained(clf, str(path))
    for k, v in clf.state_dict().items():
        if not k.startswith("head."):
            assert torch.equal(v, pre.state_dict()[k]), k
    # encoder features equal the pre-training encoder run on all tokens
    x = skeletons()
    with torch.no_grad():
        ref = pre.encode(pre.embed(pre.to_sequences(x))).view(2, 2, 4, 5, 32)
        torch.testing.assert_close(clf.eval().forward_features(x), ref)


def test_load_pretrained_reports_missing_head_and_rejects_wrong_checkpoints(tmp_path):
    pre = MAMP(**TINY_PRE)
    clf = MAMPClassifier(**TINY, num_classes=3)
    rep = load_pretrained(clf, pre.state_dict())
    missing, unexpected = rep.missing, rep.unexpected
    assert set(missing) == {"head.fc.0.running_mean", "head.fc.0.running_var",
                            "head.fc.0.num_batches_tracked", "head.fc.1.weight", "head.fc.1.bias"}
    assert "decoder_pred.weight" in unexpected and "mask_token" in unexpected
    wide = MAMP(**{**TINY_PRE, "dim_feat": 64, "decoder_dim_feat": 64})
    with pytest.raises(CheckpointError, match="shape"):
        load_pretrained(clf, wide.state_dict())
    with pytest.raises(CheckpointError, match="encoder keys missing"):
        load_pretrained(clf, {"something.else": torch.zeros(3)})
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="broken.pth"):
        load_pretrained(clf, bad)


def test_finetuned_checkpoint_round_trips_with_head_and_interpolates_time_grid(tmp_path):
    torch.manual_seed(0)
    ft = MAMPClassifier(**TINY, num_classes=3, protocol="finetune", hidden_dim=8)
    path = official_style_checkpoint(tmp_path, ft, "ft.pth")
    again = MAMPClassifier(**TINY, num_classes=3, protocol="finetune", hidden_dim=8)
    missing = load_pretrained(again, path).missing
    assert missing == [] and torch.equal(again.head.fc2.weight, ft.head.fc2.weight)
    other = MAMPClassifier(**TINY, num_classes=5, protocol="finetune", hidden_dim=8)
    rep = load_pretrained(other, path)  # a different class count leaves fc2 new, and says so
    assert rep.missing == [] and {m.split(":")[0] for m in rep.mismatched} == {
        "head.fc2.weight", "head.fc2.bias"}
    longer = MAMPClassifier(**{**TINY, "num_frames": 32}, num_classes=3, protocol="finetune",
                            hidden_dim=8)
    rep = load_pretrained(longer, path)
    assert any("temp_embed resized from 4 to 8" in n for n in rep.notes)
    assert longer.temp_embed.shape == (1, 8, 1, 32)
    ends = longer.temp_embed[0, [0, -1], 0], ft.temp_embed[0, [0, -1], 0]
    assert torch.allclose(*ends, atol=0.02)  # resized, not random


# ------------------------------------------------------------------ optimiser groups


def _groups(model, weight_decay=0.05, layer_decay=None):
    """The engine's one parameter-group rule (layer decay from MAMP's layer_id/num_layers)."""
    from omegaconf import OmegaConf

    from motionscope.config import OptimConfig
    from motionscope.engine.optim import default_param_groups

    cfg = OmegaConf.structured(OptimConfig(weight_decay=weight_decay, layer_decay=layer_decay))
    groups = default_param_groups(model, cfg)
    for g in groups:
        g["weight_decay"] = weight_decay * g["wd_scale"]
    return groups


def test_param_groups_lrd_scales_match_official_recipe():
    model = MAMPClassifier(num_classes=60, protocol="finetune", depth=8, dim_feat=32,
                           num_heads=4, hidden_dim=8)
    groups = _groups(model, weight_decay=0.05, layer_decay=0.8)
    seen = [id(p) for g in groups for p in g["params"]]
    assert sorted(seen) == sorted(id(p) for p in model.parameters()) and len(set(seen)) == len(seen)
    scale = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    wd = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    expect = {"pos_embed": 0.1342, "joints_embed.proj.weight": 0.1342,
              "blocks.0.attn.qkv.weight": 0.1678, "blocks.3.mlp.fc1.bias": 0.3277,
              "blocks.7.norm1.weight": 0.8, "norm.weight": 1.0, "head.fc2.weight": 1.0}
    params = dict(model.named_parameters())
    for name, s in expect.items():
        assert scale[id(params[name])] == pytest.approx(s, abs=1e-4), name
    assert wd[id(params["temp_embed"])] == 0.05  # 4-D embeddings are decayed (ndim == 1 rule)
    assert wd[id(params["blocks.0.attn.qkv.bias"])] == 0.0
    assert wd[id(params["joints_embed.proj.weight"])] == 0.05
    lp = MAMPClassifier(**TINY, num_classes=3)
    assert sum(len(g["params"]) for g in _groups(lp, 0.05, 0.8)) == 2  # head only


def test_param_groups_weight_decay_pretraining_rule():
    model = MAMP(**TINY_PRE)
    by_wd = {g["weight_decay"]: g for g in _groups(model, 0.05)}
    no_decay, decay = by_wd[0.0], by_wd[0.05]
    names = {id(p): n for n, p in model.named_parameters()}
    nd = {names[id(p)] for p in no_decay["params"]}
    d = {names[id(p)] for p in decay["params"]}
    assert "mask_token" in d and "decoder_pos_embed" in d and "joints_embed.proj.weight" in d
    assert "joints_embed.proj.bias" in nd and "norm.weight" in nd
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.05


# ------------------------------------------------------------------ sizes and init


def test_paper_size_parameter_counts_and_init():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    torch.manual_seed(0)
    pre = MAMP()  # NTU-60: 8 + 3 blocks
    enc = sum(p.numel() for n, p in pre.named_parameters()
              if not n.startswith(("decoder", "mask_token")))
    assert enc == 6_336_000 and count(pre) == 8_789_004
    assert count(MAMP(decoder_depth=5)) == 10_368_524
    assert count(MAMPClassifier(num_classes=60, protocol="finetune")) == 19_572_284
    lp = MAMPClassifier(num_classes=60)
    assert count(lp) == 6_351_420
    assert sum(p.numel() for p in lp.parameters() if p.requires_grad) == 15_420
    # official init: xavier-uniform Linear, zero bias, trunc-normal(0.02) embeddings
    w = pre.blocks[0].mlp.fc1.weight
    bound = math.sqrt(6 / (w.shape[0] + w.shape[1]))
    assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound
    assert not pre.blocks[0].attn.qkv.bias.any()
    assert abs(pre.temp_embed.std().item() - 0.02) < 0.003
    assert pre.blocks[0].norm1.eps == 1e-5


def test_bf16_autocast_training_step_runs():
    # the GPU recipe trains under bf16 autocast: the same code path, exercised on CPU
    torch.manual_seed(0)
    pre = MAMP(**TINY_PRE, mask_ratio=0.75)
    clf = MAMPClassifier(**TINY, num_classes=3, protocol="finetune", hidden_dim=8)
    batch = {"skeleton": skeletons(), "label": torch.tensor([0, 2])}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = pre(batch)["losses"]["mse"] + clf(batch)["losses"]["ce"]
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert_all_grads(pre)
    assert_all_grads(clf)
