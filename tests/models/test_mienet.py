"""MIE-Net, its TSN/TSM baselines, ResNet-50 and PA: shapes, gradients, layouts, loading."""

from __future__ import annotations

import pytest
import torch

from motionscope.errors import CheckpointError, ConfigError, DataError
from motionscope.models import create_model
from motionscope.models.layers.resnet import ResNet, inflate_stem_weight, resnet50
from motionscope.models.mienet import (
    DPTAM,
    MODELS,
    MIENet,
    build_official,
    convert_official,
    get_optim_policies,
    lite_fusion,
    temporal_shift,
)
from motionscope.models.official import load_official
from motionscope.motion.pa import PersistenceOfAppearance

T, L, S = 2, 4, 64  # segments, frames per segment, pixels: tiny, CPU


def _clip(b: int = 2, t: int = T, n_len: int = L, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, t * n_len, S, S, generator=g)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_variant_trains_one_step(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, num_segments=T, dropout=0.5)
    batch = {"video": _clip(), "label": torch.tensor([1, 3])}
    out = model(batch)
    assert out["logits"].shape == (2, 5)
    loss = out["losses"]["ce"]
    assert torch.isfinite(loss)
    loss.backward()
    for n, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{name}: {n} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{name}: {n} has a non-finite gradient"
    # without labels (prediction) there is no loss term
    model.eval()
    with torch.no_grad():
        assert model({"video": _clip()})["losses"] == {}


@pytest.mark.parametrize("num_classes, used, with_dead", [
    (10, 26_055_948, 26_060_133),   # SLJD
    (48, 26_133_810, 26_137_995),   # Diving48
    (174, 26_391_984, 26_396_169),  # SSv2
])
def test_parameter_count_matches_spec(num_classes, used, with_dead):
    def count(**kw):
        with torch.device("meta"):  # shapes only: no memory, no init cost
            return sum(p.numel() for p in MIENet(num_classes, num_segments=3, **kw).parameters())

    assert count() == used
    assert count(include_dead_params=True) == with_dead


def test_input_layouts_agree_and_bad_shapes_are_named():
    torch.manual_seed(0)
    model = MIENet(4, num_segments=T).eval()
    clip = _clip()  # (B, 3, T*L, H, W)
    stacked = clip.transpose(1, 2).reshape(2, T * L * 3, S, S)  # official (B, T*L*3, H, W)
    with torch.no_grad():
        a, b = model.forward_official(clip), model.forward_official(stacked)
    torch.testing.assert_close(a, b)
    with pytest.raises(DataError, match="4 frames|2x4"):
        model({"video": _clip(n_len=3)})
    with pytest.raises(DataError, match="expected"):
        model({"video": torch.randn(2, 4, 8, S, S)})
    # the RGB models take the first frame of each group, so 1- and 4-frame groups agree
    tsn = MIENet(4, num_segments=T, modality="rgb", temporal="none").eval()
    with torch.no_grad():
        torch.testing.assert_close(tsn.forward_official(clip), tsn.forward_official(clip[:, :, ::L]))


def test_segments_are_averaged_and_videos_do_not_mix():
    """Consensus is per video: changing video 1 leaves video 0's logits unchanged (DPTAM's
    temporal conv and the gate see only their own clip)."""
    torch.manual_seed(0)
    model = MIENet(4, num_segments=T).eval()
    clip = _clip()
    other = clip.clone()
    other[1] = torch.randn_like(other[1])
    with torch.no_grad():
        a, b = model.forward_official(clip), model.forward_official(other)
    torch.testing.assert_close(a[0], b[0])
    assert not torch.allclose(a[1], b[1])


def test_temporal_shift_moves_one_eighth_each_way():
    b, t, c = 2, 3, 16
    x = torch.arange(b * t * c, dtype=torch.float32).view(b * t, c, 1, 1)
    y = temporal_shift(x, t, fold_div=8).view(b, t, c)
    xv = x.view(b, t, c)
    fold = c // 8
    for v in range(b):
        for s in range(t):
            # channels [0, fold) come from the next segment, zero at the last one
            exp0 = xv[v, s + 1, :fold] if s + 1 < t else torch.zeros(fold)
            exp1 = xv[v, s - 1, fold:2 * fold] if s > 0 else torch.zeros(fold)
            torch.testing.assert_close(y[v, s, :fold], exp0)
            torch.testing.assert_close(y[v, s, fold:2 * fold], exp1)
            torch.testing.assert_close(y[v, s, 2 * fold:], xv[v, s, 2 * fold:])
    tsm = MIENet(4, num_segments=T, temporal="tsm", modality="rgb")
    keys = tsm.state_dict()
    assert "base_model.layer1.0.conv1.net.weight" in keys  # TSM's official key layout
    assert sum(k.endswith("conv1.net.weight") for k in keys) == 16


def test_resnet50_has_torchvision_layout():
    model = ResNet()
    sd = model.state_dict()
    assert len(sd) == 320  # 53 convs, 53 BNs x 5, fc weight + bias
    assert sum(p.numel() for p in model.parameters()) == 25_557_032
    shapes = {"conv1.weight": (64, 3, 7, 7), "bn1.running_var": (64,),
              "layer1.0.downsample.0.weight": (256, 64, 1, 1),
              "layer2.0.conv2.weight": (128, 128, 3, 3),
              "layer3.5.bn3.num_batches_tracked": (),
              "layer4.2.conv3.weight": (2048, 512, 1, 1), "fc.weight": (1000, 2048)}
    for k, s in shapes.items():
        assert tuple(sd[k].shape) == s, k
    # v1.5: the stride sits on the 3x3 conv of each stage's first block
    assert model.layer2[0].conv1.stride == (1, 1) and model.layer2[0].conv2.stride == (2, 2)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


@pytest.fixture(scope="module")
def imagenet_file(tmp_path_factory):
    """A random ResNet-50 saved like torchvision's old files (no BN batch counters)."""
    torch.manual_seed(1)
    sd = {k: v for k, v in ResNet().state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path_factory.mktemp("imagenet") / "resnet50-0676ba61.pth"
    torch.save(sd, path)
    return path, sd


def test_loads_torchvision_checkpoint_and_inflates_stem(imagenet_file):
    path, sd = imagenet_file
    model = resnet50(pretrained=path)
    for k, v in sd.items():
        torch.testing.assert_close(model.state_dict()[k], v, msg=k)
    six = resnet50(pretrained=path, in_chans=6, num_classes=0)
    mean = sd["conv1.weight"].mean(dim=1, keepdim=True)
    torch.testing.assert_close(six.conv1.weight, mean.expand(64, 6, 7, 7))
    assert inflate_stem_weight(sd["conv1.weight"], 3).equal(sd["conv1.weight"])
    # the clip model: ImageNet weights under the DPTAM wrappers, the stem mean-replicated
    mie = MIENet(4, num_segments=T, pretrained=path)
    msd = mie.state_dict()
    torch.testing.assert_close(msd["base_model.layer3.2.net.conv2.weight"],
                               sd["layer3.2.conv2.weight"])
    torch.testing.assert_close(msd["base_model.conv1.weight"], mean.expand(64, 6, 7, 7))


def test_wrong_checkpoint_names_the_file(tmp_path, imagenet_file):
    _, sd = imagenet_file
    wrong = tmp_path / "mamp_encoder.pth"
    torch.save({"backbone." + k: v for k, v in sd.items() if k.startswith("layer1.")}, wrong)
    with pytest.raises(CheckpointError, match="mamp_encoder.pth") as e:
        resnet50(pretrained=wrong)
    assert "torchvision" in str(e.value)
    truncated = tmp_path / "truncated.pth"
    torch.save({k: v for k, v in sd.items() if k.startswith(("conv1", "bn1", "layer1."))},
               truncated)
    with pytest.raises(CheckpointError, match="truncated.pth.*missing"):
        resnet50(pretrained=truncated)
    resnet18ish = tmp_path / "r18.pth"
    torch.save({**sd, "layer1.0.conv2.weight": torch.zeros(64, 64, 1, 1)}, resnet18ish)
    with pytest.raises(CheckpointError, match="r18.pth.*shape"):
        resnet50(pretrained=resnet18ish)
    with pytest.raises(CheckpointError, match="absent.pth"):
        MIENet(4, num_segments=T, pretrained=tmp_path / "absent.pth")


def test_optimiser_policies_follow_the_official_table():
    model = MIENet(10, num_segments=T)
    groups = {g["name"]: g for g in get_optim_policies(model)}
    scale = {n: (g["lr_scale"], g["wd_scale"]) for name, g in groups.items() for n in g["names"]}
    assert scale["PA.shallow_conv.weight"] == (5.0, 1.0)
    assert scale["PA.shallow_conv.bias"] == (10.0, 0.0)
    assert scale["base_model.conv1.weight"] == (1.0, 1.0)
    assert scale["base_model.layer2.1.tlam.p1_conv1.weight"] == (1.0, 1.0)
    assert scale["base_model.layer2.1.tlam.dptam.1.weight"] == (1.0, 0.0)  # BN1d
    assert scale["base_model.layer4.0.net.downsample.1.bias"] == (1.0, 0.0)
    assert scale["new_fc.weight"] == (5.0, 1.0) and scale["new_fc.bias"] == (10.0, 0.0)
    assert scale["w"] == (1.0, 0.0)
    # every trainable parameter in exactly one group
    names = [n for g in groups.values() for n in g["names"]]
    assert sorted(names) == sorted(n for n, p in model.named_parameters() if p.requires_grad)
    # the engine's hook; and the RGB models' first conv is the ResNet stem at x1
    assert len(model.param_groups(None)) == len(groups)
    tsn = MIENet(10, num_segments=T, modality="rgb", temporal="none")
    g = {n: (x["lr_scale"], x["wd_scale"]) for x in get_optim_policies(tsn) for n in x["names"]}
    assert g["base_model.conv1.weight"] == (1.0, 1.0)


def test_afm_alpha_learnable_by_default_frozen_as_released():
    torch.manual_seed(0)
    batch = {"video": _clip(), "label": torch.tensor([0, 1])}
    learn = MIENet(4, num_segments=T)
    opt = torch.optim.SGD(get_optim_policies(learn), lr=1.0)
    learn(batch)["losses"]["ce"].backward()
    opt.step()
    assert not torch.equal(learn.w.detach(), torch.ones(2))  # alpha moved off 0.5/0.5
    frozen = MIENet(4, num_segments=T, afm_alpha="frozen")
    assert not frozen.w.requires_grad
    assert "w" not in {n for g in get_optim_policies(frozen) for n in g["names"]}
    g = frozen.frame_groups(_clip()).reshape(2 * T, L, 3, S, S)
    fused = lite_fusion(g, frozen.PA, frozen.w)
    torch.testing.assert_close(fused["alpha"], torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(fused["x_adp"][:, :3], 0.5 * fused["afm_gate"] * g[:, 0])
    torch.testing.assert_close(frozen.backbone_input(_clip()), fused["x_adp"])
    with pytest.raises(ConfigError):
        MIENet(4, num_segments=T, afm_alpha="fixed")


def test_official_checkpoint_with_dead_modules_loads(tmp_path):
    torch.manual_seed(0)
    released = MIENet(10, num_segments=T, include_dead_params=True)
    sd = released.state_dict()
    assert "PA.conv2.bn.running_var" in sd and "base_model.layer1.0.tlam.conv_mask.bias" in sd
    path = tmp_path / "ckpt.best.pth.tar"
    torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in sd.items()}}, path)
    ours = MIENet(10, num_segments=T)
    load_official(ours, path, "mienet")
    ours.eval(), released.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours.forward_official(_clip()), released.forward_official(_clip()))
    # only the known dead modules are dropped: anything else unexpected still fails
    bad = dict(sd, **{"base_model.layer1.0.extra.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="unexpected"):
        load_official(MIENet(10, num_segments=T), bad, "mienet")
    assert set(convert_official(sd, None)) == set(sd)


def test_pa_is_a_channel_norm_of_shallow_features():
    torch.manual_seed(0)
    pa = PersistenceOfAppearance(4)
    frames = torch.rand(3, 4, 3, 16, 16)
    out = pa(frames)
    assert out.shape == (3, 3, 16, 16)
    f = pa.shallow_conv(frames.view(-1, 3, 16, 16)).view(3, 4, 8, 16, 16)
    expected = torch.linalg.vector_norm(f[:, 1:2] - f[:, 2:3] + 1e-6, dim=2)[:, 0]
    torch.testing.assert_close(out[:, 1], expected)
    still = pa(frames[:, :1].expand(3, 4, 3, 16, 16))  # no motion -> only the eps remains
    assert still.max() < 1e-5
    pan = PersistenceOfAppearance(4, init="pan")
    assert pan.shallow_conv.weight.std() < 0.002 and pan.shallow_conv.bias.abs().max() == 0
    with pytest.raises(ConfigError):
        PersistenceOfAppearance(1)
    with pytest.raises(DataError, match="multiple of 12"):
        pa(torch.rand(2, 9, 16, 16))


def test_dptam_rejects_rows_that_are_not_whole_clips():
    with pytest.raises(DataError, match="8 segments"):
        DPTAM(16, n_segment=8)(torch.rand(12, 16, 4, 4))


def test_official_constructor_arguments_build_the_same_model():
    """``main.py``'s ``MIE(num_class, num_segments, 'Lite', ..., dptam=True)`` call, as a user
    porting the official scripts (or a whole-model fixture) would pass it."""
    args = {"num_class": 10, "num_segments": 3, "modality": "Lite", "base_model": "resnet50",
            "dropout": 0.6, "partial_bn": False, "pretrain": "imagenet", "dptam": True,
            "fc_lr5": True, "data_length": 4, "img_feature_dim": 256}
    with torch.device("meta"):
        ours = build_official("ops/models.py::MIE", args)
        ref = MIENet(10, num_segments=3, dropout=0.6)
        tsm = build_official("ops/models.py::MIE", {**args, "modality": "RGB", "dptam": False,
                                                    "is_shift": True})
    assert isinstance(ours, MIENet) and ours.temporal == "dptam" and ours.modality == "lite"
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()}
    assert tsm.temporal == "tsm" and tsm.modality == "rgb"
    with pytest.raises(ConfigError, match="partial_bn"):  # the class default; main.py turns it off
        build_official("ops/models.py::MIE", {k: v for k, v in args.items() if k != "partial_bn"})
    with pytest.raises(ConfigError, match="no motionscope module"):
        build_official("ops/models.py::PAN", {})
