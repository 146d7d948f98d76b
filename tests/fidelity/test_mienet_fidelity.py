"""MIE-Net modules against fixtures made by running the official code (li-stu-998/MIE-Net).

Every directory under ``$MOTIONSCOPE_FIXTURES`` (default ``../shared/fixtures/official``) whose
name starts with ``MIE`` is one test id. Each model of its ``config.json`` is built from the
recorded official class and constructor arguments (:func:`build_official`), loaded through
``motionscope.models.official`` and fed the recorded inputs; every recorded output is compared
at the fixture's tolerance, in each recorded mode (eval: BN running statistics, train: batch
statistics), each run starting from the stored weights.
"""

from __future__ import annotations

import pytest
import torch

from motionscope.fidelity import Fixture
from motionscope.models.mienet import build_official
from motionscope.models.official import load_checked, load_official
from motionscope.testing import fixture_params

PARAMS = fixture_params("MIE")

pytestmark = pytest.mark.shared



def _weights(fx: Fixture, spec: dict) -> dict[str, torch.Tensor]:
    """This model's part of the fixture's state_dict, its key prefix stripped."""
    sd = fx.state_dict(spec.get("state_dict", "state_dict.pt"))
    prefix = spec.get("state_dict_prefix", "")
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def _build(spec: dict, **overrides) -> torch.nn.Module:
    attributes = spec.get("construction", {}).get("attributes")
    return build_official(spec["official_class"], spec.get("constructor_kwargs"), attributes,
                          **overrides)


def _runs(spec: dict) -> list[dict]:
    return spec.get("runs") or [{"mode": spec.get("mode", "eval"), "outputs_prefix": ""}]


def _run(fx: Fixture, spec: dict, run: dict) -> dict[str, torch.Tensor]:
    """A freshly loaded model in the run's mode; every recorded call, outputs by fixture key."""
    model = _build(spec)
    load_official(model, _weights(fx, spec), fx.config.get("system", "mienet"))
    model.train(run["mode"] == "train")
    prefix = run.get("outputs_prefix", "")
    got: dict[str, torch.Tensor] = {}
    for call in spec["forward"]["calls"]:
        method = "forward" if call["method"] == "__call__" else call["method"]
        args = [fx.resolve(a) for a in call.get("args", [])]
        kwargs = {k: fx.resolve(v) for k, v in call.get("kwargs", {}).items()}
        with torch.set_grad_enabled(not call.get("no_grad", True)):
            out = getattr(model, method)(*args, **kwargs)
            if hasattr(model, "intermediates"):  # recorded intermediates, by the same names
                inter = model.intermediates(*args, **kwargs)
                got.update({prefix + k: v for k, v in inter.items()})
        if call.get("returns_to") == "runs[].output_key":
            got[run["output_key"]] = out
        else:
            returns = call.get("returns", [])
            outs = out if isinstance(out, tuple | list) else (out,)
            assert len(returns) == len(outs), f"{fx.name}: {method} returned {len(outs)} values"
            got.update({prefix + k: v for k, v in zip(returns, outs)})
    return got


@pytest.mark.parametrize("fixture_dir", PARAMS)
def test_mienet_matches_official(fixture_dir):
    fx = Fixture.load(fixture_dir)
    failures, checked = [], set()
    for spec in fx.config["models"]:
        for run in _runs(spec):
            got = _run(fx, spec, run)
            keys = ([run["output_key"]] if "output_key" in run
                    else list(fx.output_specs(run.get("outputs_prefix", ""))))
            checked.update(keys)
            failures += fx.mismatches(got, keys, f"{spec['name']} [{run['mode']}]")
    failures += [f"{k}: no model run of the fixture covers it"
                 for k in sorted(set(fx.config["outputs"]) - checked)]
    assert not failures, f"{fx.name} differs from the official code:\n" + "\n".join(failures)


@pytest.mark.parametrize("fixture_dir", PARAMS)
def test_released_key_layout(fixture_dir):
    """Built with the released dead modules, our keys and shapes are exactly the official ones,
    so the official state_dict loads strictly with no conversion at all."""
    fx = Fixture.load(fixture_dir)
    for spec in fx.config["models"]:
        sd = _weights(fx, spec)
        model = _build(spec, include_dead_params=True)
        ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        theirs = {k: tuple(v.shape) for k, v in sd.items()}
        assert ours == theirs, f"{fx.name}/{spec['name']}: key layout differs"
        load_checked(model, sd, path=fx.path, strict=True)
