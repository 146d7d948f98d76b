"""The backbone-size options of the clip models (``layers``, ``base_width``): small CPU backbones
build and train, the defaults stay ResNet-50, and a checkpoint of another size is refused."""

from __future__ import annotations

import pytest
import torch

from motionscope.errors import CheckpointError, ConfigError
from motionscope.models import create_model
from motionscope.models.layers.resnet import ResNet, resnet
from motionscope.models.mienet import MODELS, MIENet

SMALL = {"layers": [1, 1, 1, 1], "base_width": 16}  # what the *_world presets use


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _count(**kw) -> int:
    with torch.device("meta"):  # shapes only
        return sum(p.numel() for p in MIENet(10, num_segments=3, **kw).parameters())


def test_defaults_are_still_resnet50():
    # the spec's totals (SLJD, 10 classes): unchanged by the new arguments
    assert _count() == 26_055_948
    assert _count(layers=(3, 4, 6, 3), base_width=64) == 26_055_948
    assert _count(modality="rgb", temporal="none") == 23_528_522
    with torch.device("meta"):
        assert sum(p.numel() for p in ResNet().parameters()) == 25_557_032


@pytest.mark.parametrize("name", sorted(MODELS))
def test_small_backbone_builds_and_trains(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, num_segments=3, **SMALL)
    base = model.base_model
    assert base.num_features == 16 * 8 * 4 and model.new_fc.in_features == 512
    assert len(base.layer1) == len(base.layer4) == 1 and base.conv1.out_channels == 16
    n_len = 4 if name == "mienet" else 1
    video = torch.randn(2, 3, 3 * n_len, 32, 32)
    out = model({"video": video, "label": torch.tensor([0, 4])})
    assert out["logits"].shape == (2, 5)
    out["losses"]["ce"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in model.parameters() if p.requires_grad)
    # much smaller than the ResNet-50 model it stands in for
    assert sum(p.numel() for p in model.parameters()) < 0.05 * _count()


def test_small_backbone_loads_its_own_checkpoint_and_refuses_resnet50(tmp_path):
    small = resnet(layers=(1, 1, 1, 1), base_width=16)
    path = tmp_path / "small.pth"
    torch.save(small.state_dict(), path)
    again = resnet(layers=(1, 1, 1, 1), base_width=16, pretrained=path, in_chans=6)
    torch.testing.assert_close(again.layer4[0].conv3.weight, small.layer4[0].conv3.weight)
    r50 = tmp_path / "resnet50.pth"
    with torch.device("cpu"):
        torch.save(ResNet().state_dict(), r50)
    with pytest.raises(CheckpointError, match=r"resnet50\.pth.*layers \[1, 1, 1, 1\], base_width 16"):
        MIENet(10, num_segments=3, pretrained=r50, **SMALL)


@pytest.mark.parametrize("kw", [{"layers": [1, 1, 1]}, {"layers": [1, 0, 1, 1]},
                                {"base_width": 0}])
def test_bad_backbone_size_is_a_config_error(kw):
    with pytest.raises(ConfigError, match="4 stages"):
        MIENet(10, num_segments=3, **kw)
