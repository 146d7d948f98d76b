"""MAMP against fixtures made by running the official code (maoyunyao/MAMP).

Every directory under ``$MOTIONSCOPE_FIXTURES`` (default ``../shared/fixtures/official``) whose
name starts with ``MAMP`` is one test id. Each model of its ``config.json`` is built from the
recorded official constructor arguments, loaded through ``motionscope.models.official`` and fed
the recorded inputs (and masking noise); every recorded output is compared with the fixture's
tolerance (masks and indices exactly), in both attention modes.
"""

from __future__ import annotations

import re

import pytest
import torch

from motionscope.fidelity import Fixture, compare
from motionscope.models.layers.transformer import ATTENTION_MODES
from motionscope.models.mamp import MAMP, MAMPClassifier, build_official, load_pretrained
from motionscope.models.official import load_official
from motionscope.testing import fixture_params

PARAMS = fixture_params("MAMP")

pytestmark = pytest.mark.shared



def _injected_noise(fx: Fixture, spec: dict) -> dict:
    """``input_override`` of the masking ``torch.rand`` -> ``noise=<the named recorded input>``."""
    kwargs = {}
    for mod in spec.get("modifications", []):
        if mod.get("kind") != "input_override":
            continue
        names = re.findall(r"inputs\.(\w+)", mod.get("detail", ""))
        assert names, f"{fx.name}: input_override without an inputs.<key> to inject: {mod}"
        assert "torch.rand" in mod.get("target", ""), f"{fx.name}: unknown override {mod}"
        kwargs["noise"] = fx.input(names[0])
    return kwargs


def _build(fx: Fixture, spec: dict, attention: str) -> torch.nn.Module:
    """Our model from the official class and constructor arguments, weights loaded strictly."""
    model = build_official(spec["official_class"], spec["constructor_kwargs"], attention=attention)
    sd = fx.state_dict(spec["state_dict"])
    for mod in spec.get("modifications", []):
        if mod.get("kind") == "replace_submodule":
            # the official script swaps a submodule after construction; our constructor builds
            # the replaced module directly, so its keys must be exactly the recorded ones
            target = mod["target"]
            model.get_submodule(target)
            ours = sorted(k for k in model.state_dict() if k.startswith(target + "."))
            theirs = sorted(k for k in sd if k.startswith(target + "."))
            assert ours == theirs, f"{fx.name}/{spec['name']}: {target} keys {ours} != {theirs}"
    load_official(model, sd, fx.config.get("system", "mamp"))
    return model


def _run(fx: Fixture, spec: dict, model: torch.nn.Module, prefix: str) -> dict:
    """Every recorded call of ``spec``; returns our outputs under the fixture's key names."""
    got: dict[str, torch.Tensor] = {}
    for call in spec["forward"]["calls"]:
        method = "forward_official" if call["method"] == "__call__" else call["method"]
        args = [fx.resolve(a) for a in call.get("args", [])]
        kwargs = {k: fx.resolve(v) for k, v in call.get("kwargs", {}).items()}
        kwargs.update(_injected_noise(fx, spec))
        with torch.set_grad_enabled(not call.get("no_grad", True)):
            out = getattr(model, method)(*args, **kwargs, return_intermediates=True)
        *returned, intermediates = out
        returns = call["returns"]
        assert len(returns) == len(returned), f"{fx.name}: {method} returned {len(returned)} values"
        got.update(zip(returns, returned))
        got.update({prefix + k: v for k, v in intermediates.items() if prefix + k not in got})
    return got


@pytest.mark.parametrize("fixture_dir", PARAMS)
def test_mamp_matches_official(fixture_dir):
    fx = Fixture.load(fixture_dir)
    expected = fx.config["outputs"]
    failures = []
    for attention in ATTENTION_MODES:
        checked = set()
        for spec in fx.config["models"]:
            model = _build(fx, spec, attention)
            for run in spec.get("runs", [{"mode": spec.get("mode", "eval"), "outputs_prefix": ""}]):
                model.train(run["mode"] == "train")
                prefix = run["outputs_prefix"]
                got = _run(fx, spec, model, prefix)
                keys = list(fx.output_specs(prefix))
                checked.update(keys)
                failures += fx.mismatches(got, keys, f"[{attention}]")
        unchecked = sorted(set(expected) - checked)
        failures += [f"[{attention}] {k}: no model run of the fixture covers it" for k in unchecked]
    assert not failures, f"{fx.name} differs from the official code:\n" + "\n".join(failures)


@pytest.mark.parametrize("fixture_dir", PARAMS)
def test_classifier_from_official_pretraining_weights(fixture_dir):
    """``main_linprobe``-style loading of the pre-training weights gives the recorded features."""
    fx = Fixture.load(fixture_dir)
    models = fx.config["models"]
    pretrain = [m for m in models
                if isinstance(build_official(m["official_class"], m["constructor_kwargs"]), MAMP)]
    probes = [m for m in models
              if any(mod.get("kind") == "load_weights" for mod in m.get("modifications", []))]
    if not pretrain or not probes:
        pytest.skip(f"{fx.name}: no pre-training model and classifier loaded from it")
    sd = fx.state_dict(pretrain[0]["state_dict"])
    for spec in probes:
        model = build_official(spec["official_class"], spec["constructor_kwargs"])
        assert isinstance(model, MAMPClassifier)
        rep = load_pretrained(model, sd)
        assert rep.missing and all(k.startswith("head.") for k in rep.missing)
        assert all(k.startswith("decoder") or k == "mask_token" for k in rep.unexpected)
        prefix = spec["runs"][0]["outputs_prefix"]
        key = prefix + "features"
        if key not in fx.config["outputs"]:
            continue
        with torch.no_grad():
            feats = model.eval().forward_features(fx.input("x"))
        why = compare(feats, fx.output(key), fx.config["outputs"][key])
        assert why is None, f"{fx.name}/{spec['name']} features: {why}"
