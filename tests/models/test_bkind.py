"""B-KinD model: sizes of the spec, coordinate conventions, losses, curriculum, weight files."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from motionscope.errors import CheckpointError, ConfigError, DataError
from motionscope.models import create_model
from motionscope.models.bkind import TINY, BKinD, official_features, tiny_batch
from motionscope.models.bkind_losses import (
    build_perceptual,
    rotate_maps,
    rotation_loss,
    separation_loss,
)
from motionscope.models.layers.resnet import ResNet
from motionscope.models.layers.vgg import VGGFeatures, load_vgg_weights
from motionscope.models.pretrained import load_pretrained
from motionscope.motion.keypoints import heatmap_moments, render_gaussians, to_pixels
from motionscope.motion.ssim import structural_change


def _count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def tiny(**kw) -> BKinD:
    torch.manual_seed(0)
    return create_model("bkind", **{**TINY["bkind"], **kw})


# ------------------------------------------------------------------------------ sizes
@pytest.mark.parametrize("k, head, decoder, full, detector", [
    (10, 1_539_664, 38_077_123, 63_124_819, 25_047_696),
    (16, 1_595_008, 38_291_395, 63_394_435, 25_103_040),
])
def test_parameter_counts_of_the_spec(k, head, decoder, full, detector):
    model = BKinD(num_keypoints=k)
    assert _count(model.encoder) == 23_508_032  # ResNet-50 without fc
    assert _count(model.kptNet) == head
    assert _count(model.decoder) == decoder
    assert _count(model) == full
    assert _count(BKinD(num_keypoints=k, with_decoder=False)) == detector
    assert _count(VGGFeatures(num_modules=37)) == 20_024_384  # all of VGG19's features


def test_decoder_widths_and_official_key_names():
    model = BKinD(num_keypoints=10, encoder_layers=None, channels=(2048, 1024, 512, 256))
    widths = [(model.decoder.get_submodule(f"layer{i}").conv1.in_channels,
               model.decoder.get_submodule(f"layer{i}").conv2.out_channels) for i in range(1, 6)]
    assert widths == [(2068, 1024), (1044, 512), (532, 256), (276, 128), (148, 64)]
    reduced = BKinD(num_keypoints=10, image_size=64, encoder_layers=None, channels=(128, 64, 32, 16))
    assert [reduced.decoder.get_submodule(f"layer{i}").conv2.out_channels for i in range(1, 6)] == \
        [64, 32, 16, 8, 32]  # the official floor of 32 on the last block
    keys = set(BKinD(**TINY["bkind"]).state_dict())
    for k in ("encoder.layer1.0.downsample.1.running_var", "kptNet.laterals.3.1.weight",
              "kptNet.upsamples.2.2.bias", "kptNet.predict.3.3.weight", "kptNet.predict.3.5.weight",
              "decoder.layer5.bn2.weight", "decoder.conv_final.bias"):
        assert k in keys
    assert not [k for k in keys if "loss" in k or k.startswith("encoder.fc")]


def test_gaussian_peaks_and_condition_sizes():
    u = torch.zeros(1, 1)
    peaks = [render_gaussians(u, u, (33, 33), v).max().item() for v in (0.1, 0.01, 0.001)]
    assert peaks == pytest.approx([1.2616, 3.9894, 12.6157], abs=1e-3)
    model = tiny()
    x = tiny_batch("bkind", model)
    rec: dict = {}
    model.eval()
    with torch.no_grad():
        model.forward_official(x["image0"], x["image1"], record=rec)
    assert [rec[f"gaussians/{i}"].shape[-1] for i in range(5)] == [2, 4, 8, 16, 32]  # S/32 .. S/2
    assert rec["gaussians/0"].shape[1] == 2 * model.num_keypoints  # target then source
    assert rec["recon"].shape == x["image0"].shape


# ------------------------------------------------------------------ coordinates
class PeakHead(nn.Module):
    """A keypoint head whose logits peak at given heatmap pixels (row, col)."""

    def __init__(self, peaks, size):
        super().__init__()
        self.peaks, self.size = peaks, size

    def forward(self, features, output_size=None, levels=None):
        n = features[0].shape[0]
        logits = torch.full((n, len(self.peaks), self.size, self.size), -1e4)
        for k, (r, c) in enumerate(self.peaks):
            logits[:, k, r, c] = 0.0
        return [logits]


def test_a_heatmap_peak_maps_to_the_input_pixels_it_covers():
    model = tiny(num_keypoints=3)
    peaks = [(0, 0), (5, 11), (15, 15)]
    model.kptNet = PeakHead(peaks, 16)  # 64 px input, 16 px heatmap: stride 4
    out = model.detect(torch.zeros(2, 3, 64, 64))
    assert out["keypoints"].shape == (2, 3, 2) and out["confidence"].shape == (2, 3)
    assert out["covariance"].shape == (2, 3, 3) and out["heatmaps"].shape == (2, 3, 16, 16)
    # heatmap pixel (r, c) covers input pixels 4c..4c+3, centred at 4c + 1.5 (pixel i centred at i)
    expect = torch.tensor([[4 * c + 1.5, 4 * r + 1.5] for r, c in peaks])
    torch.testing.assert_close(out["keypoints"][0], expect, atol=1e-4, rtol=0)
    assert torch.allclose(out["confidence"], torch.ones(2, 3))
    assert out["covariance"].abs().max() < 1e-3  # a one-pixel peak: (clamped) zero spread
    u = out["normalised_keypoints"][0]
    assert u[0].tolist() == pytest.approx([-1.0, -1.0]) and u[2].tolist() == pytest.approx([1.0, 1.0])


def test_covariance_in_pixels_follows_the_grid_scale():
    hm = torch.zeros(1, 1, 16, 16)
    hm[0, 0, 4, 4] = hm[0, 0, 6, 6] = 0.5  # two pixels on the diagonal: x and y vary together
    mom = heatmap_moments(hm)
    xy, cov = to_pixels(mom, (16, 16), (64, 64))
    assert xy[0, 0].tolist() == pytest.approx([4 * 5 + 1.5, 4 * 5 + 1.5], abs=1e-4)
    # the two points are 8 input px apart on each axis: variance (4 px)^2, covariance the same
    assert cov[0, 0].tolist() == pytest.approx([16.0, 16.0, 16.0], abs=1e-3)


def test_official_feature_format():
    u = torch.tensor([[[-1.0, -1.0], [0.5, -0.25], [0.999, 0.999]]])
    c = torch.tensor([[[0.1, 0.02, 0.3]] * 3])
    off = official_features(u, c, width=1024, height=570)
    assert off["keypoints"][0].tolist() == [[0, 0], [213, 768], [569, 1023]]  # (row, col), int()
    assert off["covs"][0, 0].tolist() == pytest.approx([1.1, 1.3, 1.02])  # var_x, var_y, cov; +1


def test_bad_input_sizes_are_one_data_error():
    model = tiny()
    with pytest.raises(DataError, match="multiples of 32"):
        model.detect(torch.zeros(1, 3, 60, 64))
    with pytest.raises(DataError, match=r"\(B, 3, S, S\)"):
        model.detect(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ConfigError, match="multiple of 32"):
        BKinD(image_size=100)


def test_official_bn_train_uses_each_image_alone_and_leaves_the_model_unchanged():
    model = tiny()
    model.eval()
    x = tiny_batch("bkind", model, 3)["image0"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    eval_out = model.detect(x)
    model.official_bn_train = True
    out = model.detect(x)
    single = model.detect(x[1:2])
    torch.testing.assert_close(out["keypoints"][1:2], single["keypoints"])
    assert not torch.allclose(out["keypoints"], eval_out["keypoints"])
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert not model.training


# ------------------------------------------------------------------------ losses
def test_rotations_match_the_counter_clockwise_frames():
    m = torch.rand(2, 3, 16, 16)
    for k, deg in enumerate((90.0, 180.0, -90.0), start=1):
        torch.testing.assert_close(rotate_maps(m, deg), torch.rot90(m, k, dims=(2, 3)), atol=1e-4, rtol=0)


def test_rotation_loss_is_small_for_equivariant_keypoints_only():
    u_x, u_y = torch.tensor([[0.3, -0.5]]), torch.tensor([[-0.2, 0.4]])
    g = render_gaussians(u_x, u_y, (32, 32), 0.001)
    # a 90-degree counter-clockwise turn of the frame moves (x, y) to (y, -x) in grid units
    good = render_gaussians(u_y, -u_x, (32, 32), 0.001)
    bad = render_gaussians(-u_y, u_x, (32, 32), 0.001)
    assert rotation_loss(g, good, 90.0) < 1e-3 * rotation_loss(g, bad, 90.0)
    g.requires_grad_(True)
    good = good.clone().requires_grad_(True)
    rotation_loss(g, good, 90.0).backward()
    assert g.grad is None and good.grad is not None  # the rotated target is detached


def test_separation_pushes_coincident_keypoints_apart():
    k = 5
    same = torch.zeros(1, k, requires_grad=True)
    assert separation_loss(same, same).item() == pytest.approx(0.05 * (k * k - k) / (k * k))
    far = torch.linspace(-1, 1, k).unsqueeze(0)
    assert separation_loss(far, far).item() < 1e-6
    near = torch.tensor([[0.0, 0.05]], requires_grad=True)
    separation_loss(near, torch.zeros(1, 2)).backward()
    assert near.grad[0, 0] > 0 > near.grad[0, 1]  # descent moves them apart


def test_structural_change_ignores_static_texture():
    g = torch.Generator().manual_seed(0)
    frame = torch.randn(1, 3, 64, 64, generator=g)
    moved = frame.clone()
    moved[..., 20:30, 20:30] = torch.randn(1, 3, 10, 10, generator=g)
    target = structural_change(frame, moved)
    assert target.shape == (1, 3, 64, 64)
    assert target[..., 22:28, 22:28].mean() > 10 * target[..., 45:, 45:].mean()
    assert structural_change(frame, frame).abs().max() < 1e-4


def test_curriculum_starts_at_the_configured_epoch():
    model = tiny(curriculum=2).train()
    batch = tiny_batch("bkind", model)
    model.set_epoch(1, 5)
    assert set(model(batch)["losses"]) == {"pixel", "perceptual"}
    model.set_epoch(2, 5)
    losses = model(batch)["losses"]
    assert set(losses) == {"pixel", "perceptual", "rotation", "separation"}
    assert losses["rotation"] > 0 and losses["separation"] > 0


def test_fallback_perceptual_loss_needs_no_file_and_stays_out_of_the_state_dict():
    model = tiny()
    assert model.perceptual_mode == "pyramid"
    net = model.loss_network()
    assert net is not None and not list(net.parameters())
    assert not any("loss" in k for k in model.state_dict())
    losses = model(tiny_batch("bkind", model))["losses"]
    assert losses["perceptual"] > 0
    rv = build_perceptual("random_vgg")
    assert all(not p.requires_grad for p in rv.parameters()) and not rv.training
    torch.testing.assert_close(build_perceptual("random_vgg").features[0].weight, rv.features[0].weight)
    with pytest.raises(ConfigError, match="vgg_weights=PATH"):
        tiny(perceptual="vgg").loss_network()


# --------------------------------------------------------------------- weight files
def test_encoder_loads_a_local_torchvision_layout_file(tmp_path):
    src = ResNet(layers=(1, 1, 1, 1), base_width=8, num_classes=1000)
    path = tmp_path / "resnet_tiny.pth"
    torch.save(src.state_dict(), path)  # with fc, as torchvision's files are
    model = tiny(encoder_weights=str(path))
    torch.testing.assert_close(model.encoder.layer3[0].conv2.weight, src.layer3[0].conv2.weight)
    torch.testing.assert_close(model.encoder.bn1.running_var, src.bn1.running_var)
    wrong = tmp_path / "other.pth"
    torch.save(ResNet(layers=(1, 1, 1, 1), base_width=16).state_dict(), wrong)
    with pytest.raises(CheckpointError, match="other.pth"):
        tiny(encoder_weights=str(wrong))


def test_vgg_loads_a_local_torchvision_layout_file(tmp_path):
    src = VGGFeatures(num_modules=5)
    sd = {k: v + 1 for k, v in src.state_dict().items()}
    sd["classifier.0.weight"] = torch.zeros(2, 2)  # ignored, as the fc layers of vgg19-*.pth
    path = tmp_path / "vgg_part.pth"
    torch.save(sd, path)
    net = load_vgg_weights(VGGFeatures(num_modules=5, taps=(1, 3)), path)
    torch.testing.assert_close(net.features[2].weight, sd["features.2.weight"])
    assert [f.shape[1] for f in net(torch.rand(1, 3, 8, 8))] == [64, 64]
    with pytest.raises(CheckpointError, match="vgg_part.pth"):
        load_vgg_weights(VGGFeatures(num_modules=8), path)  # features.5/7 missing
    model = tiny(perceptual="vgg", vgg_weights=str(tmp_path / "missing.pth"))
    with pytest.raises(CheckpointError, match="missing.pth"):
        model.loss_network()


def test_checkpoint_with_another_number_of_keypoints_names_the_file(tmp_path):
    path = tmp_path / "bkind_k4.pt"
    torch.save({"epoch": 3, "state_dict": tiny(num_keypoints=4).state_dict()}, path)
    with pytest.raises(CheckpointError, match=r"bkind_k4\.pt.*4 keypoints.*has 5"):
        load_pretrained(tiny(num_keypoints=5), path, model_name="bkind")
    fresh = tiny(num_keypoints=4)
    rep = load_pretrained(fresh, path, model_name="bkind")
    assert not rep.missing and not rep.unexpected
    detector = tiny(num_keypoints=4, with_decoder=False)  # the official extraction model
    rep = load_pretrained(detector, path, model_name="bkind")
    assert not rep.missing and not rep.unexpected


def test_rotated_frames_are_made_like_the_official_pil_rotation():
    from motionscope.testing import shared_path

    inputs = torch.load(shared_path("fixtures", "official", "BKinD", "inputs.pt"), weights_only=True)
    for k, name in enumerate(("rot90", "rot180", "rot270"), start=1):
        assert torch.equal(torch.rot90(inputs["image1"], k, dims=(2, 3)), inputs[name])


def test_gaussian_grid_is_pixel_centred():
    g = render_gaussians(torch.tensor([[-1.0]]), torch.tensor([[1.0]]), (5, 7), 0.01)
    assert g[0, 0].argmax().item() == 4 * 7 + 0  # last row, first column
    assert g[0, 0, 4, 0].item() == pytest.approx(1 / math.sqrt(2 * math.pi * 0.01))
