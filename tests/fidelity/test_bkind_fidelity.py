"""B-KinD against fixtures made by running the official code (neuroethology/BKinD).

Every directory under ``$MOTIONSCOPE_FIXTURES`` (default ``../shared/fixtures/official``) whose
name starts with ``BKinD`` is one test id. Each model of its ``config.json`` is built from the
recorded official class, constructor arguments and submodule settings (:func:`build_official`),
its weights loaded through ``motionscope.models.official``; where the fixture replays encoder
features (the official model's encoder is replaced by a replay of recorded tensors), the replay
is built from the config's pass order. Every recorded output (heatmaps, keypoints, covariances,
Gaussian conditions, decoder layers, reconstructions, SSIM targets, loss terms, gradients, the
SGD step, running statistics, the extraction's integer keypoints) is compared at the fixture's
tolerance, in each recorded mode, each run starting from the stored weights.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from motionscope.fidelity import Fixture
from motionscope.models.bkind import build_official, official_features
from motionscope.models.official import load_official
from motionscope.testing import fixture_params

PARAMS = fixture_params("BKinD")

pytestmark = pytest.mark.shared


class Replay(nn.Module):
    """Stands in for the encoder: call i returns the recorded ``features/<pass i>/0..3``."""

    def __init__(self, fx: Fixture, passes: list[str], inputs_by_pass: dict | None, prefix: str,
                 requires_grad: bool):
        super().__init__()
        self.fx, self.passes, self.inputs_by_pass = fx, passes, inputs_by_pass or {}
        self.prefix, self.requires_grad = prefix, requires_grad
        self.calls: dict[str, list[torch.Tensor]] = {}
        self.i = 0

    def _features(self, base: str) -> list[torch.Tensor]:
        return [t.detach().clone().requires_grad_(self.requires_grad)
                for t in self.fx.input(base)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if not self.passes:  # a single replayed call (the detector)
            feats = self._features(self.prefix)
            self.calls[""] = feats
            return feats
        assert self.i < len(self.passes), "the model called the encoder more often than recorded"
        name = self.passes[self.i]
        self.i += 1
        expected = self.inputs_by_pass.get(name)
        if expected is not None:
            assert torch.equal(x, self.fx.input(expected)), f"encoder call {self.i} is not {name}"
        feats = self._features(f"{self.prefix}/{name}")
        self.calls[name] = feats
        return feats


def _flatten(tree, prefix: str = "") -> dict[str, torch.Tensor]:
    if isinstance(tree, torch.Tensor):
        return {prefix.rstrip("/"): tree}
    items = tree.items() if isinstance(tree, dict) else enumerate(tree)
    out: dict[str, torch.Tensor] = {}
    for k, v in items:
        out.update(_flatten(v, f"{prefix}{k}/"))
    return out


def _running_stats(model: nn.Module, fx: Fixture, prefix: str) -> dict[str, torch.Tensor]:
    sd = model.state_dict()
    out = {}
    for key in fx.output_specs(prefix + "running_stats/"):
        bn, buf = key[len(prefix + "running_stats/"):].rsplit("/", 1)
        out[key] = sd[f"{bn}.{buf}"]
    return out


def _weights(fx: Fixture, spec: dict, model: nn.Module) -> dict[str, torch.Tensor]:
    sd = fx.state_dict(spec["state_dict"])
    if "intersection" in spec.get("state_dict_loading", "") or "k in model_dict" in \
            spec.get("state_dict_loading", ""):
        own = model.state_dict()
        sd = {k: v for k, v in sd.items() if k in own}
    return sd


def _build(fx: Fixture, spec: dict) -> tuple[nn.Module, Replay | None]:
    model = build_official(spec["official_class"], spec.get("constructor_kwargs"),
                           spec.get("submodules"))
    load_official(model, _weights(fx, spec, model), fx.config.get("system", "bkind"))
    replay = None
    enc = (spec.get("submodules") or {}).get("encoder")
    if enc is not None and "replay" in enc.get("class_", ""):
        kw = enc.get("kwargs", {})
        passes = kw.get("pass_order") or []
        # "features/<pass>/<level>" for the model, "extract_features/<level>" for the detector
        prefix = "features" if passes else kw.get("returns", "").split("inputs ")[-1].split("/")[0]
        calls = spec["forward"]["calls"]
        grad = any(not c.get("no_grad", True) for c in calls)
        replay = Replay(fx, passes, kw.get("inputs_by_pass"), prefix, grad)
        model.encoder = replay
    return model, replay


def _run_encoder(fx, spec, run, model, replay, state):
    call = spec["forward"]["calls"][0]
    with torch.no_grad():
        feats = model(*[fx.resolve(a) for a in call["args"]])
    p = run["outputs_prefix"]
    return {**{f"{p}features/{i}": f for i, f in enumerate(feats)}, **_running_stats(model, fx, p)}


def _run_model(fx, spec, run, model, replay, state):
    call = spec["forward"]["calls"][0]
    args = [fx.resolve(a) for a in call["args"]]
    kwargs = {k: fx.resolve(v) for k, v in call.get("kwargs", {}).items()}
    rec: dict = {}
    with torch.set_grad_enabled(not call.get("no_grad", True)):
        output = model.forward_official(*args, **kwargs, record=rec)
    state.update(model=model, replay=replay, output=output, args=args)
    p = run["outputs_prefix"]
    got = {f"{p}{k}": v for k, v in _flatten(rec).items()}
    got.update({f"model_output/{k}": v for k, v in _flatten(list(output)).items()})
    got.update(_running_stats(model, fx, p))
    return got


def _run_detector(fx, spec, run, model, replay, state):
    call = spec["forward"]["calls"][0]
    size = fx.config.get("config", {}).get("extract_frame_size", model.image_size)
    rec: dict = {}
    with torch.no_grad():
        model.forward_official(torch.zeros(1, 3, size, size), record=rec)
    kw = call.get("kwargs", {})
    off = official_features(torch.stack((rec["u_x"], rec["u_y"]), -1)[0],
                            torch.stack((rec["var_x"], rec["cov"], rec["var_y"]), -1)[0],
                            kw["width"], kw["height"])
    p = run["outputs_prefix"]
    got = {f"{p}{k}": v for k, v in rec.items()}
    got.update({f"{p}compute_keypoints/keypoints": off["keypoints"],
                f"{p}compute_keypoints/xy_plus_1": off["xy_plus_1"],
                f"{p}compute_keypoints/covs_plus_1": off["covs"],
                f"{p}compute_keypoints/confidence": rec["confidence"][0]})
    got.update(_running_stats(model, fx, p))
    return got


class VGGReplay(nn.Module):
    """The loss network replaced by recorded features: the target's, then the recon's."""

    def __init__(self, fx: Fixture, prefix: str):
        super().__init__()
        self.fx, self.prefix, self.i = fx, prefix, 0

    def forward(self, x):
        side = ("to_pred", "recon")[self.i]
        self.i += 1
        n = len(self.fx.input(f"{self.prefix}/{side}"))
        return [self.fx.input(f"{self.prefix}/{side}/{j}") for j in range(n)]


def _run_loss(fx, spec, run, vgg, replay_unused, state):
    """The loss network's calls: update_loss (with and without the curriculum), backward + one
    SGD step, and the run with replayed VGG features."""
    model, output = state["model"], state["output"]
    image0, image1 = state["args"][0], state["args"][1]
    mask = fx.input("mask") if "mask" in fx.inputs else None
    vgg.requires_grad_(True)  # the official VGG is not frozen (only not optimised)
    vgg.eval()
    got: dict[str, torch.Tensor] = {}
    total = None
    args = fx.config.get("official_args", {}).get("values_read", {})
    for call in spec["forward"]["calls"]:
        method = call["method"]
        if "backward" in method:
            total.backward()
            for key in fx.output_specs("grads/model/"):
                got[key] = dict(model.named_parameters())[key[len("grads/model/"):]].grad
            for key in fx.output_specs("grads/vgg/"):
                got[key] = dict(vgg.named_parameters())[key[len("grads/vgg/"):]].grad
            for key in fx.output_specs("grads/features/"):
                name, level = key[len("grads/features/"):].rsplit("/", 1)
                got[key] = state["replay"].calls[name][int(level)].grad
            params = [p for p in model.parameters() if p.requires_grad]
            opt = torch.optim.SGD(params, args.get("lr", 1e-3), momentum=args.get("momentum", 0.9),
                                  weight_decay=args.get("weight_decay", 1e-4))
            opt.step()
            for key in fx.output_specs("after_sgd_step/"):
                got[key] = dict(model.named_parameters())[key[len("after_sgd_step/"):]].detach()
            continue
        epoch = fx.resolve(call["args"][4])
        epoch = int(epoch.item()) if isinstance(epoch, torch.Tensor) else int(epoch)
        replayed = "replay" in method
        net = VGGReplay(fx, call["returns"].split("/")[0]) if replayed else vgg
        rec: dict = {}
        with torch.set_grad_enabled(not call.get("no_grad", True)):
            terms = model.losses(image0, image1, output, epoch, mask, loss_net=net, record=rec)
            t = sum(terms.values())
        returns = call["returns"]
        if replayed:
            pre = returns.split("/")[0]
            got.update({f"{pre}/{k}": v for k, v in _flatten(rec["loss"]).items()})
            got[f"{pre}/total"] = t
        elif returns.startswith("loss/total_pre"):
            got[returns.split()[0]] = t
        else:
            total = t
            got["loss/total"] = t
            got.update({f"loss/{k}": v for k, v in _flatten(rec["loss"]).items()})
            got["to_pred"] = rec["to_pred"]
            got.update({f"ssim/{k}": v for k, v in rec["ssim"].items()})
    return got


def _runner(spec: dict):
    cls = spec["official_class"]
    if cls.endswith("ResNetBankAll"):
        return _run_encoder
    if cls.endswith("kpt_detector.py::Model"):
        return _run_detector
    if cls.endswith("VGG_feat"):
        return _run_loss
    return _run_model


@pytest.mark.parametrize("fixture_dir", PARAMS)
def test_bkind_matches_official(fixture_dir):
    fx = Fixture.load(fixture_dir)
    failures: list[str] = []
    got: dict[str, torch.Tensor] = {}
    state: dict = {}
    for spec in fx.config["models"]:
        for run in spec.get("runs") or [{"mode": spec.get("mode", "eval"), "outputs_prefix": ""}]:
            model, replay = _build(fx, spec)
            model.train(run["mode"] == "train")
            got.update(_runner(spec)(fx, spec, run, model, replay, state))
    failures += fx.mismatches(got, fx.config["outputs"])
    assert not failures, f"{fx.name} differs from the official code:\n" + "\n".join(failures)


@pytest.mark.parametrize("fixture_dir", PARAMS)
def test_official_state_dicts_load_strictly(fixture_dir):
    """Our key names and shapes are the official ones: every stored state_dict loads into the
    model built from the recorded constructor with no conversion and nothing left over."""
    fx = Fixture.load(fixture_dir)
    for spec in fx.config["models"]:
        model, _ = _build(fx, spec)
        sd = _weights(fx, spec, model)
        ours = set(model.state_dict())
        assert ours == set(sd), f"{fx.name}/{spec['name']}: keys differ: {sorted(ours ^ set(sd))[:6]}"
