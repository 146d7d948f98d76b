"""DRSR models: sizes, losses, k-NN attention, schedules, checkpoints and bad input."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from motionscope.errors import CheckpointError, ConfigError, DataError
from motionscope.models import create_model
from motionscope.models.drsr import (
    TINY,
    CrossFusionNet,
    DSNNet,
    build_official,
    convert_official,
    load_pretrained,
    official_indices,
    tiny_batch,
)
from motionscope.models.layers.drsr_dtn import (
    label_smoothing_ce,
    middle_indices,
    random_indices,
    segment_bounds,
    sharpness_temperature,
)
from motionscope.models.layers.frp import FRPModule, pool_heat_to
from motionscope.models.layers.inception3d import MaxPool3dSamePadding, same_pad
from motionscope.models.layers.knn_attention import KNNAttention, knn_keep


def _tiny(name="drsr", **kw):
    torch.manual_seed(0)
    return create_model(name, **{**TINY[name], **kw})


# ------------------------------------------------------------------------------ sizes
def test_parameter_counts_are_the_official_ones():
    """38,196,822 (DSNNet) and 79,828,412 (CrossFusionNet) at 60 classes (spec section 8)."""
    uni = create_model("drsr", num_classes=60)
    assert sum(p.numel() for p in uni.parameters()) == 38_196_822
    assert sum(p.numel() for p in uni.frp_module.parameters()) == 2
    del uni
    fusion = create_model("drsr_fusion", num_classes=60)
    assert sum(p.numel() for p in fusion.parameters()) == 79_828_412


def test_shapes_and_outputs():
    model = _tiny().eval()
    batch = tiny_batch("drsr", model, 3)
    out = model(batch)
    assert out["logits"].shape == (3, 5)
    for h in ("merged", "small", "media", "large"):
        assert out[f"logits_{h}"].shape == (3, 5)
    merged = torch.stack([out[f"logits_{h}"] for h in ("small", "media", "large")]).amax(0)
    torch.testing.assert_close(out["logits_merged"], merged)
    assert set(out["losses"]) == {"ce", "ce_small", "ce_media", "ce_large", "distill"}
    model.eval_head = "large"
    torch.testing.assert_close(model(batch)["logits"], model(batch)["logits_large"])


def test_tiny_stem_shapes_follow_tf_same_padding():
    assert same_pad(224, 7, 2) == (2, 3) and same_pad(112, 3, 2) == (0, 1) and same_pad(7, 3, 1) == (1, 1)
    x = -torch.ones(1, 1, 3, 1, 1)  # zero padding: the border max is 0, not -1
    assert MaxPool3dSamePadding((3, 1, 1), 1)(x).flatten().tolist() == [0.0, -1.0, 0.0]
    model = _tiny()
    rec = {}
    model.spatial(torch.randn(1, 3, 8, 64, 64), torch.rand(1, 1, 8, 64, 64), record=rec)
    assert rec["Mixed_3b"].shape == (1, 256, 8, 8, 8)
    assert rec["Mixed_4b"].shape == (1, 512, 8, 4, 4)
    assert rec["Mixed_5c"].shape == (1, 1024, 8, 2, 2)
    assert rec["spatial.tokens"].shape == (1, 8, 64)


def test_frp_identity_init_and_heat_pooling():
    frp = FRPModule(10)
    x, h = torch.randn(2, 4, 3, 8, 8), torch.rand(2, 1, 3, 64, 64)
    torch.testing.assert_close(frp(x, h), x)  # [1, 0]: the tap doubles x
    assert pool_heat_to(h, 8).shape[-1] == 8 and pool_heat_to(torch.rand(1, 1, 1, 9, 9), 4).shape[-1] == 4
    with torch.no_grad():
        frp.rpconv1d.weight.copy_(torch.tensor([[[0.5], [2.0]]]))
    hp = F.max_pool3d(h, (1, 2, 2), (1, 2, 2))
    hp = F.max_pool3d(F.max_pool3d(hp, (1, 2, 2), (1, 2, 2)), (1, 2, 2), (1, 2, 2))
    torch.testing.assert_close(frp(x, h), 0.5 * x + 2.0 * x * (hp + 1))


# ------------------------------------------------------------------------------ losses
def test_label_smoothing_ce_is_the_official_formula():
    logits, y = torch.randn(4, 7), torch.tensor([0, 3, 6, 2])
    logp = logits.log_softmax(-1)
    expect = 0.1 * (-logp.sum(-1)).mean() / 7 + 0.9 * F.nll_loss(logp, y)
    torch.testing.assert_close(label_smoothing_ce(logits, y), expect)


def test_multi_loss_weights_and_distillation():
    model = _tiny().eval()
    batch = tiny_batch("drsr", model, 2)
    batch["dtn_indices"] = {br: middle_indices(8, n) for br, n in model.dtn.branch_tokens.items()}
    out = model(batch)
    y = batch["label"]
    lg = {h: out[f"logits_{h}"] for h in ("merged", "small", "media", "large")}
    torch.testing.assert_close(out["losses"]["ce"], label_smoothing_ce(lg["merged"], y))
    for h in ("small", "media", "large"):
        torch.testing.assert_close(out["losses"][f"ce_{h}"], 0.5 * label_smoothing_ce(lg[h], y))
    # distillation: KL(mean CLS || RCM student) summed over the batch, T = 0.5
    rec = {}
    tokens = model.spatial(batch["video"], batch["heat"])
    model.dtn(tokens, batch["dtn_indices"], model.temperature, rec)
    student = rec["rcm.distill_proj"]
    teacher = (rec["dtn.cls.small"] + rec["dtn.cls.media"] + rec["dtn.cls.large"]) / 3
    p = F.softmax(teacher / 0.5, -1)
    kl = (p * (p.log() - F.log_softmax(student / 0.5, -1))).sum()
    torch.testing.assert_close(out["losses"]["distill"], kl, rtol=1e-4, atol=1e-6)
    model.distill_reduction = "batchmean"
    torch.testing.assert_close(model(batch)["losses"]["distill"], kl / 2, rtol=1e-4, atol=1e-6)
    unlabelled = model({k: v for k, v in batch.items() if k != "label"})["losses"]
    assert set(unlabelled) == {"distill"}


def test_set_epoch_temperature_schedule_and_distillation_start():
    assert sharpness_temperature(0) == pytest.approx(0.04)
    assert sharpness_temperature(5) == pytest.approx(0.04517241379, abs=1e-11)  # fixture DRSR
    assert sharpness_temperature(29) == 0.07 and sharpness_temperature(60) == 0.07
    assert sharpness_temperature(None) == 0.07
    model = _tiny()
    assert model.temperature == 0.07 and model.distill_lambda == 1.0  # no epoch: trained model
    model.set_epoch(0, 100)
    assert model.temperature == pytest.approx(0.04) and model.distill_lambda == 0.0
    model.set_epoch(1, 100)
    assert model.distill_lambda == 0.0
    model.set_epoch(2, 100)
    assert model.distill_lambda == 1.0  # epoch >= warm_up_epochs - 1, as train.py
    model.set_epoch(4, 5)  # a run shorter than 30 epochs: the ramp spans the whole run
    assert model.temperature == pytest.approx(0.07)
    model.set_epoch(2, 5)
    assert model.temperature == pytest.approx(0.055)
    out = model(tiny_batch("drsr", model, 2))
    model.sharpness = False
    plain = model(tiny_batch("drsr", model, 2))
    model.eval()  # logits scale by 1 / temperature (dropout off for the comparison)
    model.sharpness = True
    a = model(tiny_batch("drsr", model, 2))["logits_small"]
    model.sharpness = False
    torch.testing.assert_close(a, model(tiny_batch("drsr", model, 2))["logits_small"] / 0.055)
    assert out["logits"].shape == plain["logits"].shape


# ------------------------------------------------------------------------ k-NN attention
def test_knn_attention_keeps_top_k_keys():
    assert [knn_keep(n, 0.7) for n in (17, 33, 49)] == [11, 23, 34]
    torch.manual_seed(0)
    att = KNNAttention(32, heads=4, dim_head=8, knn_ratio=0.7)
    x = torch.randn(2, 17, 32)
    rec = {}
    att(x, record=rec)
    probs, mask = rec["attn"], rec["mask"]
    assert (mask.sum(-1) == 11).all()
    assert ((probs > 0) == mask).all()  # masked keys get exactly zero probability
    q, k, _ = att._split(x)
    scores = q @ k.transpose(-1, -2) * att.scale
    kth = scores.topk(11, dim=-1).values[..., -1:]
    assert ((scores >= kth) == mask).all()
    att.knn_ratio = 0.0  # off: every key
    rec = {}
    att(x, record=rec)
    assert "mask" not in rec and (rec["attn"] > 0).all()


@pytest.mark.parametrize("ratio", [0.7, 0.0, 1.0])
def test_sdpa_path_equals_exact_path(ratio):
    torch.manual_seed(1)
    att = KNNAttention(64, heads=4, dim_head=16, knn_ratio=ratio).eval()
    x = torch.randn(3, 33, 64, requires_grad=True)
    att.path = "exact"
    exact = att(x)
    g_exact, = torch.autograd.grad(exact.square().sum(), x)
    att.path = "sdpa"
    fast = att(x)
    g_fast, = torch.autograd.grad(fast.square().sum(), x)
    torch.testing.assert_close(fast, exact, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g_fast, g_exact, rtol=1e-4, atol=1e-4)


def test_model_attention_paths_agree():
    model = _tiny().eval()
    batch = tiny_batch("drsr", model, 2)
    model.attention = "exact"
    a = model(batch)["logits"]
    model.attention = "sdpa"
    torch.testing.assert_close(model(batch)["logits"], a, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------ token sampling
def test_token_sampling_options():
    assert segment_bounds(64, 16)[0] == (0, 4) and middle_indices(64, 16)[:3].tolist() == [1, 5, 9]
    assert middle_indices(8, 6).tolist() == [0, 1, 2, 4, 5, 6]
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        idx = random_indices(64, 48, g)
        assert all(lo <= i < hi for i, (lo, hi) in zip(idx.tolist(), segment_bounds(64, 48)))
    random.seed(3)
    a = official_indices(64, 16)
    random.seed(3)
    assert official_indices(64, 16) == a  # Python's RNG, as DTNNet.f
    model = _tiny().eval()
    batch = tiny_batch("drsr", model, 2)
    torch.testing.assert_close(model(batch)["logits"], model(batch)["logits"])  # deterministic eval
    model.token_sampling = "random"
    torch.manual_seed(0)
    outs = [model(batch)["logits"] for _ in range(4)]
    assert any(not torch.allclose(outs[0], o) for o in outs[1:])
    with pytest.raises(ConfigError, match="token_sampling"):
        create_model("drsr", **TINY["drsr"], token_sampling="middle")


def test_forward_official_batch_one_squeeze_quirk():
    model = _tiny().eval()
    batch = tiny_batch("drsr", model, 1)
    idx = {br: middle_indices(8, n) for br, n in model.dtn.branch_tokens.items()}
    (merged, small, _, _), distill, vis = model.forward_official(batch["video"], batch["heat"], idx)
    assert merged.shape == (5,) and small.shape == (1, 5)  # the official .squeeze()
    assert vis is not None and vis[1].shape == (1, 6, 6)
    assert model({**batch, "dtn_indices": idx})["logits"].shape == (1, 5)  # ours keeps the batch axis


# -------------------------------------------------------------------------------- fusion
def test_fusion_forward_losses_and_view_quirk():
    model = _tiny("drsr_fusion").eval()
    batch = tiny_batch("drsr_fusion", model, 2)
    out = model(batch)
    assert out["logits"].shape == (2, 5) and out["logits_rgb"].shape == (2, 5)
    assert set(out["losses"]) == {"ce", "ce_rgb", "ce_depth", "bce", "mse", "distill"}
    model.fusion_view_quirk = False
    assert not torch.allclose(model(batch)["logits"], out["logits"])
    with pytest.raises(DataError, match="depth"):
        model({k: v for k, v in batch.items() if k != "depth"})


def _official_file(tmp_path, model, name, ddp=True):
    sd = {("module." if ddp else "") + k: v for k, v in model.state_dict().items()}
    path = tmp_path / name
    torch.save({"model": sd, "epoch": 3, "bestacc": 0.5}, path)
    return path


def test_fusion_loads_both_unimodal_checkpoints(tmp_path):
    torch.manual_seed(1)
    rgb = create_model("drsr", **TINY["drsr"])
    depth = create_model("drsr", **TINY["drsr"])
    rgb_path = _official_file(tmp_path, rgb, "rgb.pth")  # official layout, DDP prefix
    ours = tmp_path / "run" / "checkpoints"
    ours.mkdir(parents=True)
    torch.save({"model": depth.state_dict(), "config": {}, "format_version": 2}, ours / "last.pt")
    fusion = create_model("drsr_fusion", **TINY["drsr_fusion"], rgb_checkpoint=str(rgb_path),
                          depth_checkpoint=str(tmp_path / "run"))
    for stream, src in ((fusion.Modalit_rgb, rgb), (fusion.Modalit_depth, depth)):
        theirs = src.state_dict()
        for k, v in stream.state_dict().items():
            torch.testing.assert_close(v, theirs[k], msg=k)
    assert any("mlp_head_small" in k for k in fusion.loaded["Modalit_rgb"])  # heads ignored
    bad = tmp_path / "bad.pth"
    torch.save({"model": {"foo": torch.zeros(2)}}, bad)
    with pytest.raises(CheckpointError, match="not a DRSR unimodal checkpoint"):
        create_model("drsr_fusion", **TINY["drsr_fusion"], rgb_checkpoint=str(bad))
    with pytest.raises(CheckpointError, match="not found"):
        create_model("drsr_fusion", **TINY["drsr_fusion"], rgb_checkpoint=str(tmp_path / "none.pth"))


def test_pretrained_keeps_everything_but_the_head_linears(tmp_path):
    src = _tiny()
    path = _official_file(tmp_path, src, "ckpt.pth")
    model = _tiny(num_classes=7)  # another class count: only the heads differ
    rep = load_pretrained(model, str(path))
    assert any("branch heads" in n for n in rep.notes)
    torch.testing.assert_close(model.dtn.rcm.q.weight, src.dtn.rcm.q.weight)
    assert model.dtn.mlp_head_small[1].weight.shape == (7, 64)


def test_convert_official_strips_wrappers():
    model = _tiny()
    sd = model.state_dict()
    assert set(convert_official({"module." + k: v for k, v in sd.items()}, model)) == set(sd)
    assert set(convert_official({"dsnnet." + k: v for k, v in sd.items()}, model)) == set(sd)


# ------------------------------------------------------------------------------ bad input
def test_bad_inputs_are_clear_errors():
    model = _tiny()
    batch = tiny_batch("drsr", model, 2)
    with pytest.raises(DataError, match="num_frames=8"):
        model({**batch, "video": batch["video"][:, :, :6], "heat": batch["heat"][:, :, :6]})
    with pytest.raises(DataError, match="'heat'"):
        model({k: v for k, v in batch.items() if k != "heat"})
    with pytest.raises(DataError, match="does not match"):
        model({**batch, "heat": batch["heat"][:, :, :, :16]})
    with pytest.raises(DataError, match=r"\(B, 3, T, H, W\)"):
        model({**batch, "video": batch["video"][:, :1]})
    with pytest.raises(ConfigError, match="eval_head"):
        create_model("drsr", eval_head="best")
    with pytest.raises(ConfigError, match="widths"):
        create_model("drsr", **{**TINY["drsr"], "local_widths": (1, 1, 1, 1, 1, 1)})
    with pytest.raises(ConfigError, match="did you mean 'depth'"):
        create_model("drsr_fusion", **TINY["drsr_fusion"], dpth=3)
    with pytest.raises(ConfigError, match="epochs >= 30"):
        build_official("lib/model/DSN.py::DSNNet", {"args": {"epochs": 10, "epoch": 0}})


def test_official_builder_maps_the_namespace():
    m = build_official("lib/model/DSN.py::DSNNet",
                       {"args": {"N": 3, "w": 4, "knn_attention": 0.8, "epoch": 5, "epochs": 100,
                                 "dataset": "THU", "temper": 0.4, "sample_duration": 16,
                                 "low_frames": 4, "media_frames": 8, "high_frames": 12},
                        "num_classes": 40})
    assert isinstance(m, DSNNet) and m.num_frames == 16 and m.frp_module.window == 4
    assert len(m.dtn.multi_scale_transformers) == 3 and m.dtn.rcm.project[0].out_features == 128
    assert m.temperature == pytest.approx(0.04517241379) and m.token_sampling == "random"
    f = build_official("lib/model/fusion_Net.py::CrossFusionNet",
                       {"args": {"N": 3, "epoch": 0, "epochs": 100}, "num_classes": 25})
    assert isinstance(f, CrossFusionNet) and not hasattr(f.Modalit_rgb.dtn, "mlp_head_small")


def test_frame_size_that_does_not_halve_down_the_stem_is_a_clear_error():
    model = _tiny()
    batch = tiny_batch("drsr", model, 1)
    batch = {**batch, "video": torch.randn(1, 3, 8, 48, 48), "heat": torch.rand(1, 1, 8, 48, 48)}
    with pytest.raises(DataError, match="multiple of 32"):
        model(batch)
