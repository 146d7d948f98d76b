"""One sweep over every registered model (timm style): the family protocol, checked as the engine
relies on it. A model registered without a tiny configuration fails here."""

from __future__ import annotations

import pytest
import torch

from motionscope.errors import ConfigError
from motionscope.models import FAMILIES, REQUIRED, create_model, family_of, list_models


def test_every_family_exports_the_protocol():
    for name, mod in FAMILIES.items():
        for attr in REQUIRED:
            assert hasattr(mod, attr), f"family {name!r} exports no {attr}"
        missing = sorted(set(mod.MODELS) - set(mod.TINY))
        assert not missing, f"family {name!r}: models without a TINY configuration: {missing}"


@pytest.mark.parametrize("name", list_models())
def test_forward_backward_and_loss_terms(name):
    fam = family_of(name)
    assert name in fam.TINY, f"{name}: no tiny configuration in {fam.__name__}.TINY"
    torch.manual_seed(0)
    model = create_model(name, **fam.TINY[name]).train()
    if hasattr(fam, "build_official"):  # a published system: the official forward, one name
        assert callable(getattr(model, "forward_official", None)), f"{name}: no forward_official"
    out = model(fam.tiny_batch(name, model, 2, labelled=True))
    losses = out["losses"]
    assert losses, f"{name}: a labelled batch gives no loss term"
    if "logits" in out:
        assert out["logits"].shape[0] == 2 and torch.isfinite(out["logits"]).all()
    total = sum(v.float() for v in losses.values())
    assert all(torch.isfinite(v) for v in losses.values()), f"{name}: non-finite loss {losses}"
    total.backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable, f"{name}: nothing to train"
    for n, p in trainable:
        assert p.grad is not None, f"{name}: {n} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}: {n} has a non-finite gradient"
    for n, p in model.named_parameters():
        if not p.requires_grad:
            assert p.grad is None, f"{name}: frozen {n} got a gradient"
    # classification terms exist only with labels; what remains is self-supervised
    model.eval()
    with torch.no_grad():
        unlabelled = model(fam.tiny_batch(name, model, 2, labelled=False))["losses"]
    assert set(unlabelled) <= set(losses)
    assert not [k for k in unlabelled if k == "ce" or k.startswith("ce_")], \
        f"{name}: cross-entropy without labels: {sorted(unlabelled)}"


@pytest.mark.parametrize("name, args, match", [
    ("mamp_pretrain", {"dim_feat": 30, "num_heads": 4}, "not divisible"),
    ("mp_tiny", {"dim": 30, "num_heads": 4}, "divisible"),
    ("skeleton_transformer", {"dim": 30, "heads": 4}, "divisible"),
    ("clip_cnn3d", {"widht": 3}, "did you mean 'width'"),
    ("mienet", {"num_segment": 3}, "did you mean 'num_segments'"),
])
def test_layer_and_argument_errors_are_one_config_error(name, args, match):
    with pytest.raises(ConfigError, match=match):
        create_model(name, **args)
