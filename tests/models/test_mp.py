"""MP / En-MP unit tests: tiny configurations on CPU (flow conventions, slots, ViT, loading)."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from motionscope.errors import CheckpointError, ConfigError, DataError
from motionscope.models import create_model
from motionscope.models.layers.slot_attention import SlotAttentionEncoder, contrastive_walk_loss
from motionscope.models.mp import (
    EnhancedMotionPerceiver,
    MotionPerceiver,
    replication_indices,
    sincos_time_embedding,
)
from motionscope.models.official import load_official
from motionscope.models.vit import (
    PixelPatchTokens,
    VisionTransformer,
    build_backbone,
    load_dino_checkpoint,
)
from motionscope.motion.patch_flow import (
    coords_grid,
    frame_groups,
    motion_invariant,
    motion_invariant_naive,
    patch_flow,
    patch_flow_naive,
    soft_match_positions,
    threshold_flow,
)

VIT_TINY = {"embed_dim": 48, "depth": 3, "num_heads": 3}
TINY = dict(num_classes=5, num_frames=8, img_size=64, patch_size=16, dim=32, num_heads=4,
            num_frames_list=(8, 4, 2), backbone="vit_random", backbone_kwargs=VIT_TINY)
TINY_EN = dict(TINY, feature_blocks=(0, 2))


def moving_video(b=2, t=8, size=64, seed=0):
    """Normalised-looking clips: a random texture panning right 5 px/frame and a bright square
    moving up 6 px/frame, so every flow scale has components above the 0.2-patch threshold."""
    g = torch.Generator().manual_seed(seed)
    tex = torch.randn(b, 3, size, size * 2, generator=g)
    frames = []
    for i in range(t):
        f = tex[..., 5 * i:5 * i + size].clone()
        y = size - 20 - 6 * i
        f[:, :, max(y, 0):max(y, 0) + 16, 24:40] = 3.0
        frames.append(f)
    return torch.stack(frames, dim=2)


def shifted_tokens(t=4, side=8, e=40, dx=1, dy=0, seed=0):
    """Tokens of a (2·side)² torus of distinct random features, viewed through a side² window
    that moves so the content moves by (dx, dy) cells per frame (dy > 0: content moves up)."""
    g = torch.Generator().manual_seed(seed)
    world = torch.randn(2 * side, 2 * side, e, generator=g)
    frames = []
    for i in range(t):
        rolled = torch.roll(world, shifts=(-dy * i, dx * i), dims=(0, 1))
        frames.append(rolled[:side, :side].reshape(side * side, e))
    return torch.stack(frames).unsqueeze(0)


def assert_all_grads(model):
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{name} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"
        else:
            assert p.grad is None, f"frozen {name} got a gradient"


# ------------------------------------------------------------------ patch flow


def test_grid_is_x_column_y_up_row_major():
    g = coords_grid(3, 4)
    assert g.shape == (12, 2)
    assert g[0].tolist() == [0, 2] and g[3].tolist() == [3, 2] and g[11].tolist() == [3, 0]


def test_frame_groups_are_phase_aligned_per_reference():
    groups = frame_groups(32, 4)
    assert groups[9].tolist() == [1, 9, 17, 25]
    assert frame_groups(32, 16)[5].tolist() == list(range(1, 32, 2))
    assert frame_groups(32, 32)[7].tolist() == list(range(32))
    with pytest.raises(DataError):
        frame_groups(30, 4)


@pytest.mark.parametrize("dx,dy", [(1, 0), (0, 1), (-1, 0), (1, -1)])
def test_flow_direction_and_interleaving(dx, dy):
    tokens = shifted_tokens(dx=dx, dy=dy)
    flows = patch_flow(soft_match_positions(tokens), [4, 2])
    side = 8  # interior patches stay inside the window for all 4 frames
    inner = torch.tensor([r * side + c for r in range(3, 5) for c in range(3, 5)])
    f1 = flows[0][0, 0, inner]  # stride 1: 3 steps of (dx, dy), interleaved
    assert f1.shape == (4, 6)
    torch.testing.assert_close(f1[:, 0::2], torch.full((4, 3), dx + 1e-6))
    torch.testing.assert_close(f1[:, 1::2], torch.full((4, 3), dy + 1e-6))
    f2 = flows[1][0, 1, inner]  # stride 2, reference 1: its group is frames 1, 3
    torch.testing.assert_close(f2, torch.tensor([[2 * dx, 2 * dy]] * 4) + 1e-6)


def test_threshold_modes():
    flow = torch.tensor([0.1, 0.3, -0.25, 0.15, 0.1, 0.1])
    comp = threshold_flow(flow, 0.2, "component")
    torch.testing.assert_close(comp, torch.tensor([0, 0.3, -0.25, 0, 0, 0]) + 1e-6)
    mag = threshold_flow(flow, 0.2, "magnitude")
    torch.testing.assert_close(mag, torch.tensor([0.1, 0.3, -0.25, 0.15, 1e-6, 1e-6]))


def test_fast_flow_equals_official_loops_and_chunking_is_invisible():
    g = torch.Generator().manual_seed(1)
    tokens = torch.randn(2, 8, 16, 24, generator=g).cumsum(1)
    matches = soft_match_positions(tokens)
    chunked = soft_match_positions(tokens, max_elements=2 * 16 * 8 * 16)  # one frame a chunk
    torch.testing.assert_close(chunked, matches, rtol=0, atol=1e-6)
    nfl = [8, 4, 2]
    for fast, naive in zip(patch_flow(matches, nfl), patch_flow_naive(tokens, nfl)):
        torch.testing.assert_close(fast, naive, rtol=0, atol=1e-5)
    torch.testing.assert_close(motion_invariant(matches), motion_invariant_naive(tokens),
                               rtol=0, atol=1e-5)


def test_invariant_map_axes_order():
    inv = motion_invariant(soft_match_positions(shifted_tokens(dx=1, dy=0)))
    c = 3 * 8 + 3  # an interior patch; reference frame 2, frames m = 0..3
    # motion_m = Ĝ[t→t] − Ĝ[t→m] = (2 − m)·dx = 2, 1, 0, −1: +x mean 0.75, −x mean 0.25
    v = inv[0, 2, :, c]
    assert v[0] == pytest.approx(0.75, abs=1e-4) and v[2] == pytest.approx(0.25, abs=1e-4)
    assert v[1] == pytest.approx(0.0, abs=1e-4) and v[3] == pytest.approx(0.0, abs=1e-4)


# ------------------------------------------------------------------ slots


def test_walk_loss_normalisation_is_official_full_matrix_mean():
    g = torch.Generator().manual_seed(0)
    feats, slots = torch.randn(2, 50, 6, generator=g), torch.randn(2, 4, 6, generator=g)
    ours = contrastive_walk_loss(feats, slots, 0.05)
    f = torch.nn.functional.normalize(feats, dim=-1)
    s = torch.nn.functional.normalize(slots, dim=-1)
    sim = f @ s.transpose(1, 2)
    trans = (sim.transpose(1, 2) / 0.05).softmax(-1) @ (sim / 0.05).softmax(-1)
    official = (torch.log(trans + 1e-4) * torch.eye(4) * -1).mean()
    torch.testing.assert_close(ours, official)
    torch.testing.assert_close(contrastive_walk_loss(feats, slots, 0.05, "diagonal"), 4 * ours)


def test_slots_are_deterministic_per_video_and_attention_normalised():
    torch.manual_seed(0)
    enc = SlotAttentionEncoder(3, 6, 14, 14, 14, 1)
    x = torch.randn(3, 40, 14)
    slots, attn = enc(x)
    slots_again, _ = enc(x)
    torch.testing.assert_close(slots, slots_again)
    single, _ = enc(x[1:2])  # a video's slots do not depend on the rest of the batch
    torch.testing.assert_close(single, slots[1:2], rtol=1e-5, atol=1e-5)
    assert attn.shape == (3, 6, 40)
    torch.testing.assert_close(attn.sum(-1), torch.ones(3, 6))
    multi = SlotAttentionEncoder(3, 4, 6, 6, 6, num_heads=2)
    s2, a2 = multi(torch.randn(2, 10, 6))
    assert s2.shape == (2, 4, 6) and a2.shape == (2, 4, 10)


def test_time_embedding_and_replication_rule():
    emb = sincos_time_embedding(32, 768)
    assert emb.shape == (1, 32, 768)
    assert emb[0, 0, :384].abs().max() == 0 and torch.all(emb[0, 0, 384:] == 1)
    assert emb[0, 3, 0].item() == pytest.approx(torch.sin(torch.tensor(3.0)).item())
    assert torch.bincount(replication_indices(3, 32)).tolist() == [11, 11, 10]
    assert torch.bincount(replication_indices(4, 32)).tolist() == [8] * 4
    assert replication_indices(64, 32).tolist() == list(range(0, 64, 2))


# ------------------------------------------------------------------ ViT backbone


def test_vit_interfaces_agree():
    torch.manual_seed(0)
    vit = VisionTransformer(img_size=64, patch_size=16, qkv_bias=True, **VIT_TINY).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = vit.forward_feats(x)
        inter, attns, qkvs = vit.get_intermediate_feat(x, n=3)
        torch.testing.assert_close(vit(x), feats[:, 0])
        torch.testing.assert_close(vit.patch_tokens(x), feats[:, 1:])
        torch.testing.assert_close(inter[-1], feats)
        torch.testing.assert_close(vit.patch_tokens(x, [0, 2]),
                                   torch.stack([inter[0][:, 1:], inter[2][:, 1:]]))
    assert attns[0].shape == (2, 3, 17, 17) and qkvs[0].shape == (3, 2, 3, 17, 16)
    torch.testing.assert_close(attns[1].sum(-1), torch.ones(2, 3, 17))


def test_pixel_backbone_is_patch_ncc_and_tolerates_sub_patch_motion():
    plain = PixelPatchTokens(img_size=32, patch_size=16, context=1, blur=0)
    x = torch.rand(1, 3, 32, 32)
    tok = plain.patch_tokens(x)
    assert tok.shape == (1, 4, 768)
    patch = x[0, :, :16, 16:32].reshape(-1)  # row 0, column 1 -> token 1
    want = (patch - patch.mean()) / (patch.var(unbiased=False) + 1e-6).sqrt()
    torch.testing.assert_close(tok[0, 1], want)
    # a smooth image moved by a quarter patch: the default (3x3-patch context, 4-px blur)
    # still recognises each patch, plain patch NCC much less so
    g = torch.Generator().manual_seed(0)
    world = torch.nn.functional.interpolate(torch.randn(1, 3, 24, 24, generator=g), size=96,
                                            mode="bicubic")
    a, b = world[..., 16:80, 16:80], world[..., 16:80, 12:76]
    smooth = PixelPatchTokens(img_size=64, patch_size=16)

    def cos(m):
        return torch.cosine_similarity(m.patch_tokens(a), m.patch_tokens(b), dim=-1).mean()

    plain64 = PixelPatchTokens(img_size=64, patch_size=16, context=1, blur=0)
    assert cos(smooth) > 0.6 and cos(smooth) > cos(plain64) + 0.3


def test_pixel_backbone_position_prior_keeps_blank_patches_still():
    """Point-light frames are mostly black: without the positional code a blank patch has no
    preferred match and the soft-argmax sends it to the frame centre (a large fake flow); with
    it, blank patches match themselves while a moving dot is still followed."""
    frames = torch.zeros(2, 3, 64, 64)
    frames[0, :, 9:12, 9:12] = 1.0     # a dot in patch (row 2, col 2) of a 16x16 grid of 4 px
    frames[1, :, 9:12, 13:16] = 1.0    # ... one patch to the right in the next frame
    dot, blank = 2 * 16 + 2, 12 * 16 + 12

    def positions(backbone):
        tok = backbone.patch_tokens(frames).unsqueeze(0)  # (1, T=2, N, E)
        return soft_match_positions(tok)[0, 0, 1]         # frame 0's patches found in frame 1

    with_prior = PixelPatchTokens(64, 4, blur=1.0, position=0.3)
    assert with_prior.embed_dim == 48 + 256
    pos = positions(with_prior)
    grid = coords_grid(16, 16, "cpu")  # (x, y) with y up, as officially
    torch.testing.assert_close(pos[blank], grid[blank])
    torch.testing.assert_close(pos[dot], grid[dot + 1], atol=0.05, rtol=0)
    without = positions(PixelPatchTokens(64, 4, blur=1.0))
    assert (without[blank] - torch.tensor([7.5, 7.5])).abs().max() < 0.5   # the grid's centre
    with pytest.raises(ConfigError, match="position"):
        PixelPatchTokens(64, 4, position=1.0)


def test_pixel_backbone_block_scale_gives_each_block_its_own_blur():
    """En-MP on the offline backbone: with block_scale s, block b is the pixel backbone with
    blur * s**b (three matching scales); with the default 1 every block is the same tokens."""
    x = torch.rand(2, 3, 32, 32)
    same = PixelPatchTokens(32, 4, blur=1.0).patch_tokens(x, [0, 1, 2])
    assert same.shape == (3, 2, 64, 48) and torch.equal(same[0], same[2])
    multi = PixelPatchTokens(32, 4, blur=1.0, block_scale=2.0).patch_tokens(x, [0, 1, 2])
    for b, blur in enumerate((1.0, 2.0, 4.0)):
        torch.testing.assert_close(multi[b], PixelPatchTokens(32, 4, blur=blur).patch_tokens(x))
    assert (multi[0] - multi[2]).abs().max() > 0.1
    model = create_model("enmp_tiny", num_classes=3, backbone="pixel", patch_size=4,
                         img_size=32, backbone_kwargs={"blur": 1.0, "block_scale": 2.0})
    tokens = model.extract_tokens(torch.rand(1, 3, 8, 32, 32))
    assert tokens.shape[1] == 3 and (tokens[:, 0] - tokens[:, 2]).abs().max() > 0.1
    with pytest.raises(ConfigError, match="block_scale"):
        PixelPatchTokens(32, 4, block_scale=0.0)
    # `{blur:1.0}` on a command line is YAML for the key "blur:1.0": named, not ignored
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['blur:1.0'\]"):
        build_backbone("pixel", None, 64, 4, **{"blur:1.0": None})


def test_dino_checkpoint_loading(tmp_path):
    torch.manual_seed(0)
    src = VisionTransformer(img_size=64, patch_size=16, qkv_bias=True, **VIT_TINY,
                            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6))
    plain = tmp_path / "dino_plain.pth"
    torch.save(src.state_dict(), plain)
    dst = build_backbone("vit_random", plain, 64, 16, **VIT_TINY)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(dst.patch_tokens(x), src.eval().patch_tokens(x))
    assert not any(p.requires_grad for p in dst.parameters())
    # DINO's training checkpoint: {"teacher": {"backbone.*", "head.*"}, ...}
    train_ckpt = tmp_path / "checkpoint.pth"
    torch.save({"teacher": {**{f"backbone.{k}": v for k, v in src.state_dict().items()},
                            "head.mlp.0.weight": torch.zeros(2, 48)}, "epoch": 3}, train_ckpt)
    build_backbone("vit_random", train_ckpt, 64, 16, **VIT_TINY)


def test_dino_checkpoint_of_wrong_layout_is_one_clear_error(tmp_path):
    small = VisionTransformer(img_size=64, patch_size=16, embed_dim=24, depth=3, num_heads=3)
    wrong = tmp_path / "vit_small.pth"
    torch.save(small.state_dict(), wrong)
    target = VisionTransformer(img_size=64, patch_size=16, qkv_bias=True, **VIT_TINY)
    with pytest.raises(CheckpointError, match="vit_small.pth.*patch embedding"):
        load_dino_checkpoint(target, wrong)
    junk = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, junk)
    with pytest.raises(CheckpointError, match="resnet.pth.*not a DINO ViT"):
        load_dino_checkpoint(target, junk)
    with pytest.raises(CheckpointError, match="missing.pth"):
        load_dino_checkpoint(target, tmp_path / "missing.pth")


# ------------------------------------------------------------------ MP / En-MP models


@pytest.mark.parametrize("cls,kw", [(MotionPerceiver, TINY), (EnhancedMotionPerceiver, TINY_EN)])
def test_forward_backward_every_trainable_param_gets_gradient(cls, kw):
    torch.manual_seed(0)
    model = cls(**kw).train()
    assert not model.vit_encoder.training  # frozen backbone stays in eval mode
    out = model({"video": moving_video(), "label": torch.tensor([1, 3])})
    assert out["logits"].shape == (2, 5)
    losses = out["losses"]
    n_blocks = len(kw.get("feature_blocks", [0]))
    assert len([k for k in losses if k.startswith("slot_")]) == 3 * n_blocks
    assert len([k for k in losses if k.startswith("ce_")]) == 2 * n_blocks + 1
    total = sum(losses.values())
    assert torch.isfinite(total) and all(torch.isfinite(v) for v in losses.values())
    total.backward()
    assert_all_grads(model)
    assert all(p.grad.abs().sum() > 0 for p in model.temporal_slot.parameters())


def test_label_free_forward_and_input_kinds_agree():
    torch.manual_seed(0)
    model = MotionPerceiver(**TINY).eval()
    video = moving_video()
    with torch.no_grad():
        out_v = model({"video": video})
        tokens = model.extract_tokens(video)
        out_t = model({"tokens": tokens})
        out_m = model({"matches": model.match(tokens)})
    assert set(out_v["losses"]) == {"slot_0", "slot_1", "slot_2"}
    assert out_v["flow_logits"].shape == out_v["invar_logits"].shape == (2, 5)
    torch.testing.assert_close(out_t["logits"], out_v["logits"])
    torch.testing.assert_close(out_m["logits"], out_v["logits"])


@pytest.mark.parametrize("cls,kw", [(MotionPerceiver, TINY), (EnhancedMotionPerceiver, TINY_EN)])
def test_naive_and_fast_implementations_agree(cls, kw):
    torch.manual_seed(0)
    model = cls(**kw).eval()
    batch = {"video": moving_video(), "label": torch.tensor([0, 4])}
    with torch.no_grad():
        fast = model(batch)
        model.set_impl("naive")
        naive = model(batch)
    torch.testing.assert_close(fast["logits"], naive["logits"], rtol=1e-4, atol=1e-4)
    for k, v in fast["losses"].items():
        torch.testing.assert_close(v, naive["losses"][k], rtol=1e-4, atol=1e-5)


def test_short_clips_use_the_official_replication_rule():
    torch.manual_seed(0)
    model = MotionPerceiver(**TINY).eval()
    short = moving_video(t=3)
    idx = replication_indices(3, 8)
    with torch.no_grad():
        got = model({"video": short})["logits"]
        want = model({"video": short[:, :, idx]})["logits"]
    torch.testing.assert_close(got, want)
    assert torch.isfinite(got).all()


def test_autocast_keeps_matching_and_slots_in_float32():
    torch.manual_seed(0)
    model = MotionPerceiver(**TINY).eval()
    tokens = model.extract_tokens(moving_video())
    with torch.no_grad():
        ref = model.forward_official(tokens, record=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            amp = model.forward_official(tokens, record=True)
    for a, b in zip(amp["OF"] + amp["slots"], ref["OF"] + ref["slots"]):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(amp["logit"].float(), ref["logit"], rtol=0.05, atol=0.05)


def test_bad_inputs_are_clear_errors():
    model = MotionPerceiver(**TINY)
    with pytest.raises(DataError, match="64x64"):
        model({"video": torch.zeros(1, 3, 8, 32, 32)})
    with pytest.raises(DataError, match="N = 16"):
        model({"tokens": torch.zeros(1, 8, 9, 48)})
    with pytest.raises(DataError, match="video"):
        model({"label": torch.zeros(1)})
    no_backbone = MotionPerceiver(**{**TINY, "backbone": "none"})
    with pytest.raises(ConfigError, match="backbone='none'"):
        no_backbone({"video": moving_video()})
    with pytest.raises(ConfigError):
        MotionPerceiver(**{**TINY, "num_frames_list": (8, 3)})


def test_official_key_layout_and_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = MotionPerceiver(**TINY).eval()
    sd = model.state_dict()
    for key in ("time_embed", "vit_encoder.blocks.0.attn.qkv.bias", "temporal_slot.0.slot",
                "temporal_slot.2.slot_attention.gru.weight_hh", "temporal_slot.1.mlp.3.weight",
                "flow_proj.1.0.weight", "invar_proj.0.bias", "all_head.weight",
                "flow_combination_x_slots.1.mlp.fc2.bias", "invar_combination_x_time.0.norm1.weight"):
        assert key in sd, key
    assert "flow_combination_x_slots.0.attn.qkv.bias" not in sd  # fusion qkv has no bias
    path = tmp_path / "mp_official.pyth"
    torch.save({"epoch": 5, "model_state": sd}, path)  # SlowFast-style wrapper
    kw = {k: v for k, v in TINY.items() if k not in ("num_classes", "backbone")}
    loaded = MotionPerceiver.from_official_checkpoint(path, **kw).eval()
    tokens = model.extract_tokens(moving_video())
    with torch.no_grad():
        torch.testing.assert_close(loaded({"tokens": tokens})["logits"],
                                   model({"tokens": tokens})["logits"])
    # a token-input model takes the same file, ignoring its backbone
    token_model = MotionPerceiver(**{**TINY, "backbone": "none"})
    load_official(token_model, path, "mp")
    with pytest.raises(CheckpointError, match="mp_official.pyth"):
        load_official(MotionPerceiver(**{**TINY, "num_classes": 7}), path, "mp")


def test_official_parameter_counts():
    with torch.device("meta"):
        mp = MotionPerceiver(num_classes=10, backbone="none")
        en = EnhancedMotionPerceiver(num_classes=10, backbone="none")
        vit = build_backbone("vit_random")

    def trainable(m):
        return sum(p.numel() for p in m.parameters() if p.requires_grad)

    assert trainable(mp) == 57_539_150
    assert trainable(en) == 186_750_166
    assert sum(p.numel() for p in vit.parameters()) == 85_798_656


def test_factory_names():
    model = create_model("mp_tiny", num_classes=3)
    out = model({"video": moving_video(t=8), "label": torch.tensor([0, 2])})
    assert out["logits"].shape == (2, 3)
    assert isinstance(create_model("enmp_tiny"), EnhancedMotionPerceiver)


def test_official_config_cannot_name_arbitrary_callables():
    """A fixture's config.json is data: it may name a norm layer, never an importable function."""
    from motionscope.models.mp import _decode_official_kwargs

    kw = _decode_official_kwargs({"norm_layer": {"partial": "torch.nn.LayerNorm", "kwargs": {"eps": 1e-6}},
                                  "depth": 2})
    assert kw["norm_layer"](8).eps == 1e-6 and kw["depth"] == 2
    with pytest.raises(ConfigError, match="os.system"):
        _decode_official_kwargs({"norm_layer": {"partial": "os.system", "kwargs": {}}})
