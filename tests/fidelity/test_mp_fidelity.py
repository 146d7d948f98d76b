"""MP, En-MP, their fusion Block and the DINO ViT against fixtures made by running the official
code (ZhangLab-DeepNeuroCogLab/MotionPerceiver, timm 0.9.16).

Every directory under ``$MOTIONSCOPE_FIXTURES`` (default ``../shared/fixtures/official``) whose
name starts with ``MP`` is one test id. Each model of its ``config.json`` is built from the
recorded official class and constructor arguments (:func:`motionscope.models.mp.build_official`),
the recorded modifications are applied the same way (a stubbed backbone means the model reads
the recorded tokens; replaced submodules are replaced), the state_dict is loaded through
``motionscope.models.official``, and every recorded output is compared at the fixture's
tolerance, for both of our implementations ("fast" batched and "naive" official loops) and both
attention kernels.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from motionscope.fidelity import Fixture, compare, get_path
from motionscope.models.mp import IMPLS, build_official
from motionscope.models.official import load_official
from motionscope.testing import fixture_params

PARAMS = fixture_params("MP")

pytestmark = pytest.mark.shared


def _stubbed_inputs(fx: Fixture, spec: dict) -> list[str]:
    """Names of the recorded inputs a stubbed ``vit_encoder`` fed to the official model."""
    names = []
    for mod in spec.get("modifications", []):
        if mod.get("kind") == "stub" and mod.get("target") == "vit_encoder":
            found = re.findall(r"inputs\.(\w+)", mod.get("detail", ""))
            assert found, f"{fx.name}: backbone stub names no recorded input: {mod}"
            names.append(found[0])
    return names


def _replace(model: nn.Module, target: str, replacement: str) -> None:
    """Apply an official ``replace_submodule`` (``a.b`` or every element of ``a.*``)."""
    assert replacement == "torch.nn.Sequential()", f"unknown replacement {replacement!r}"
    if target.endswith(".*"):
        parent = model.get_submodule(target[:-2])
        for i in range(len(parent)):
            parent[i] = nn.Sequential()
        return
    owner, _, attr = target.rpartition(".")
    setattr(model.get_submodule(owner) if owner else model, attr, nn.Sequential())


def _build(fx: Fixture, spec: dict, attention: str, impl: str) -> nn.Module:
    stub = bool(_stubbed_inputs(fx, spec))
    model = build_official(spec["official_class"], spec["constructor_kwargs"], stub_backbone=stub,
                           attention=attention, impl=impl)
    for mod in spec.get("modifications", []):
        kind = mod.get("kind")
        if kind == "replace_submodule":
            targets = mod["target"] if isinstance(mod["target"], list) else [mod["target"]]
            for target in targets:
                _replace(model, target, mod["replacement"])
        elif mod.get("affects_construction") and not (kind == "stub" and stub):
            pytest.fail(f"{fx.name}: unsupported official modification {mod}")
    load_official(model, fx.state_dict(spec["state_dict"]), fx.config.get("system", "mp"))
    return model


def _run(fx: Fixture, spec: dict, model: nn.Module, prefix: str) -> dict:
    """Every recorded call; returns our outputs under the fixture's key names."""
    got: dict = {}
    stubbed = _stubbed_inputs(fx, spec)
    for call in spec["forward"]["calls"]:
        with torch.set_grad_enabled(not call.get("no_grad", True)):
            if call["method"] == "__call__" and stubbed:
                # the official forward(frames, labels) with the backbone replaced by the
                # recorded tokens: ours reads them directly and records every intermediate
                tokens = fx.input(stubbed[0])
                if tokens.ndim == 5:  # official per-block layout (L, B, T, N, E)
                    tokens = tokens.transpose(0, 1)
                labels = next((fx.resolve(a) for a in call["args"]
                               if isinstance(a, str) and a.endswith(":labels")), None)
                out = model.forward_official(tokens, labels, record=True)
                got.update({prefix + k: v for k, v in out.items()})
                got["_contract_loss_sum"] = sum(model._contract(out)["losses"].values())
                continue
            fn = model if call["method"] == "__call__" else getattr(model, call["method"])
            args = [fx.resolve(a) for a in call.get("args", [])]
            kwargs = {k: fx.resolve(v) for k, v in call.get("kwargs", {}).items()}
            result = fn(*args, **kwargs)
        returns = call["returns"]
        values = result if len(returns) > 1 else (result,)
        assert len(values) == len(returns), f"{fx.name}: {call['method']} returned {len(values)}"
        got.update({prefix + name: v for name, v in zip(returns, values)})
    return got


def _variants(fx: Fixture) -> list[tuple[str, str]]:
    """(attention, impl) pairs worth running: impl only matters for the full models."""
    full = any(m["official_class"].endswith(("::MP", "::En_MP")) for m in fx.config["models"])
    return [("sdpa", impl) for impl in IMPLS] if full else [("sdpa", "fast"), ("naive", "fast")]


@pytest.mark.parametrize("fixture_dir", PARAMS)
def test_mp_matches_official(fixture_dir):
    torch.manual_seed(0)
    fx = Fixture.load(fixture_dir)
    expected = fx.config["outputs"]
    failures = []
    for attention, impl in _variants(fx):
        tag = f"[{attention}/{impl}]"
        checked = set()
        for spec in fx.config["models"]:
            model = _build(fx, spec, attention, impl)
            for run in spec.get("runs", [{"mode": spec.get("mode", "eval"), "outputs_prefix": ""}]):
                model.train(run["mode"] == "train")
                prefix = run.get("outputs_prefix", "")
                got = _run(fx, spec, model, prefix)
                for key, tol in fx.output_specs(prefix).items():
                    checked.add(key)
                    try:
                        actual = get_path(got, key)
                    except KeyError:
                        failures.append(f"{tag} {key}: not produced by our model")
                        continue
                    why = compare(actual, fx.output(key), tol)
                    if why:
                        failures.append(f"{tag} {key}: {why}")
                # the engine contract's loss terms add up to the official training loss
                if "_contract_loss_sum" in got and prefix + "total_loss" in expected:
                    why = compare(got["_contract_loss_sum"], fx.output(prefix + "total_loss"),
                                  expected[prefix + "total_loss"])
                    if why:
                        failures.append(f"{tag} sum of forward(batch)['losses']: {why}")
        failures += [f"{tag} {k}: no model run covers it" for k in sorted(set(expected) - checked)]
    assert not failures, f"{fx.name} differs from the official code:\n" + "\n".join(failures)
