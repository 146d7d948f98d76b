"""DRSR models against fixtures made by running the official code (damo-cv/MotionRGBD).

Every directory under ``$MOTIONSCOPE_FIXTURES`` (default ``../shared/fixtures/official``) whose
name starts with ``DRSR`` is one test id. Each model of its ``config.json`` is built from the
recorded official class and constructor arguments (:func:`build_official`), its weights loaded
through ``motionscope.models.official`` and fed the recorded inputs and the recorded DTN token
indices (the official draws them with Python's ``random``); every recorded model output is
compared at the fixture's tolerance, in each recorded mode, each run starting from the stored
weights. The data-pipeline outputs (``pipeline.*``) are checked by test_drsr_pipeline.py.
"""

from __future__ import annotations

import re

import pytest
import torch

from motionscope.fidelity import Fixture
from motionscope.models.drsr import BRANCHES, CrossFusionNet, build_official
from motionscope.models.official import load_official
from motionscope.testing import fixture_params

PARAMS = fixture_params("DRSR")
NOT_MODEL = ("pipeline.",)  # the data pipeline's outputs (tests/fidelity/test_drsr_pipeline.py)

pytestmark = pytest.mark.shared


def _weights(fx: Fixture, spec: dict) -> dict[str, torch.Tensor]:
    """This model's part of the fixture's state_dict, its key prefix stripped (and cloned: the
    fixture's tensors share storage)."""
    sd = fx.state_dict(spec.get("state_dict", "state_dict.pt"))
    prefix = spec.get("state_dict_prefix", "")
    return {k[len(prefix):]: v.clone() for k, v in sd.items() if k.startswith(prefix)}


def _indices(fx: Fixture, run: dict) -> list[dict[str, torch.Tensor]]:
    """The recorded token index sets named by the run (``dtn_indices.<run>[.<stream>].*``)."""
    prefixes = re.findall(r"(dtn_indices(?:\.\w+)+)\.\*", run.get("dtn_indices", ""))
    return [{br: fx.input(f"{p}.{br}") for br in BRANCHES} for p in prefixes]


def _resolve(fx: Fixture, arg):
    if isinstance(arg, list):
        return [_resolve(fx, a) for a in arg]
    return fx.resolve(arg)


def _flatten(obj) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, tuple | list):
        return [t for o in obj for t in _flatten(o)]
    return []


def _load(fx: Fixture, spec: dict, model: torch.nn.Module, stops_before: str | None) -> None:
    sd = _weights(fx, spec)
    if stops_before is None:
        load_official(model, sd, fx.config.get("system", "drsr"))  # strict: every key fits
        return
    # a forward that stops early: the fixture holds the weights up to that point only
    missing, unexpected = load_official(model, sd, fx.config.get("system", "drsr"), strict=False)
    assert not unexpected, f"{fx.name}: keys our model does not have: {unexpected[:5]}"
    used = tuple(n + "." for n in model.stem_names) + ("frp_module.",)
    assert stops_before == "LinearMap", f"{fx.name}: forward stopping before {stops_before!r}"
    assert not [k for k in missing if k.startswith(used)], f"{fx.name}: stem keys missing"


def _run(fx: Fixture, spec: dict, run: dict) -> dict[str, torch.Tensor]:
    """A freshly loaded model in the run's mode; every recorded call; outputs by fixture key."""
    calls = spec["forward"]["calls"]
    stops = next((c["stops_before"] for c in calls if c.get("stops_before")), None)
    model = build_official(spec["official_class"], spec.get("constructor_kwargs"))
    _load(fx, spec, model, stops)
    model.train(run["mode"] == "train")
    for m in model.modules():  # train-mode fixtures record BN batch statistics, dropout off
        if isinstance(m, torch.nn.Dropout):
            m.eval()
    prefix = run.get("outputs_prefix", "")
    idx = _indices(fx, run)
    got: dict[str, torch.Tensor] = {}
    for call in calls:
        assert call["method"] == "__call__", f"{fx.name}: unknown call {call['method']}"
        args = [_resolve(fx, a) for a in call.get("args", [])]
        rec: dict = {}
        with torch.no_grad():
            if isinstance(model, CrossFusionNet):
                out = model.forward_official(*args, dtn_indices=tuple(idx), record=rec)
            else:
                out = model.forward_official(*args, dtn_indices=idx[0] if idx else None, record=rec,
                                             stop_before=stops)
            loss = spec["forward"].get("loss")
            if loss and not isinstance(model, CrossFusionNet):
                logits, distill = out[0], out[1]
                terms = model.official_losses(logits, distill, fx.resolve(loss["target"]),
                                              float(loss.get("args", {}).get("distill_lamdb", 1.0)))
                rec.update({f"loss.{k}": v for k, v in terms.items()})
        returns = call.get("returns", [])
        flat = _flatten(out)
        assert len(flat) >= len(returns), f"{fx.name}: the call returned {len(flat)} tensors"
        rec.update(dict(zip(returns, flat)))
        got.update({prefix + k: v for k, v in rec.items() if isinstance(v, torch.Tensor)})
    own = model.state_dict()  # running statistics after the run
    for key in fx.output_specs(prefix + "bn_after."):
        got[key] = own[key[len(prefix + "bn_after."):]]
    return got


def _model_runs(spec: dict) -> list[dict]:
    return spec.get("runs") or [{"mode": spec.get("mode", "eval"), "outputs_prefix": ""}]


@pytest.mark.parametrize("fixture_dir", PARAMS)
def test_drsr_matches_official(fixture_dir):
    fx = Fixture.load(fixture_dir)
    failures, checked = [], set()
    for spec in fx.config["models"]:
        for run in _model_runs(spec):
            got = _run(fx, spec, run)
            keys = [k for k in fx.output_specs(run.get("outputs_prefix", ""))
                    if not k.startswith(NOT_MODEL)]
            checked.update(keys)
            failures += fx.mismatches(got, keys, f"{spec['name']} [{run['mode']}]")
    left = sorted(k for k in set(fx.config["outputs"]) - checked if not k.startswith(NOT_MODEL))
    failures += [f"{k}: no model run of the fixture covers it" for k in left]
    assert checked, f"{fx.name}: no model output checked"
    assert not failures, f"{fx.name} differs from the official code:\n" + "\n".join(failures)


@pytest.mark.parametrize("fixture_dir", PARAMS)
def test_official_key_layout_and_parameter_count(fixture_dir):
    """Our keys and shapes are the official ones (no renaming), and the recorded parameter
    counts are ours."""
    fx = Fixture.load(fixture_dir)
    for spec in fx.config["models"]:
        model = build_official(spec["official_class"], spec.get("constructor_kwargs"))
        ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        theirs = {k: tuple(v.shape) for k, v in _weights(fx, spec).items()}
        assert {k: ours.get(k) for k in theirs} == theirs, f"{fx.name}/{spec['name']}: key layout differs"
        if "parameter_count" in spec:
            assert sum(p.numel() for p in model.parameters()) == spec["parameter_count"]
            assert set(ours) == set(theirs), f"{fx.name}/{spec['name']}: keys missing in the fixture"
