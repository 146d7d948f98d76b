"""Model families, listed in one plain dict, and the protocol the engine relies on.

A *family* is one module of this package (one published system, or the small baselines). The
engine, the tasks and the tests rely on what a family module exports, and on nothing else:

``MODELS: dict[str, Callable[..., nn.Module]]`` (required)
    Builders by model name; keyword arguments are the model's sizes (presets pick the paper's).
``TINY: dict[str, dict]`` (required, one entry per name in ``MODELS``)
    A CPU-sized configuration of each model for the tests (``tests/models/test_all_models.py``
    fails for a model without one).
``tiny_batch(name, model, batch_size, labelled) -> dict`` (required)
    A batch that model ``name`` built from ``TINY[name]`` accepts (the dataset contract's keys).
``convert_official(state_dict, model) -> state_dict`` (optional)
    Official key names -> ours; identity when absent (the preferred case).
``build_official(official_class, constructor_kwargs, **overrides) -> nn.Module`` (optional)
    Our module for an official class and its official arguments (fidelity fixtures).
``load_pretrained(model, checkpoint, *, system=None, partial=False) -> LoadReport`` (optional)
    How ``model.pretrained=PATH`` initialises this family's models (ours and official
    checkpoints), when the generic rule (:func:`motionscope.models.pretrained.load_pretrained`)
    does not fit, e.g. MAMP resizes ``temp_embed`` and redraws the probe head.

Every model is an ``nn.Module`` whose ``forward(batch: dict) -> dict`` returns ``logits``
(classifiers) and ``losses: dict[str, Tensor]`` (every term it defines; classification terms
only when the batch carries ``label``); in a family with official code (``build_official``),
``forward_official(...)`` computes what the official code's ``forward`` computes, with its
arguments (the fidelity tests call it). Optimiser hooks:
``param_groups(optim_cfg)`` for groups of the model's own (MIE-Net's TSN policies), otherwise the
engine's :func:`~motionscope.engine.optim.default_param_groups`, which gives layer-wise LR decay
from the model's ``layer_id(name)`` and ``num_layers`` and skips ``no_weight_decay()`` names.

Adding a family: write the module, add it to :data:`FAMILIES` below, nothing else.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from types import ModuleType

from torch import nn

from ..argcheck import check_kwargs
from ..errors import ConfigError
from . import baselines, bkind, drsr, mamp, mienet, mp

# family name -> module; the order is the order of `motionscope info`
FAMILIES: dict[str, ModuleType] = {"baselines": baselines, "mamp": mamp, "mp": mp, "mienet": mienet,
                                  "drsr": drsr, "bkind": bkind}

REQUIRED = ("MODELS", "TINY", "tiny_batch")


def _models() -> dict[str, tuple[str, Callable[..., nn.Module]]]:
    out: dict[str, tuple[str, Callable[..., nn.Module]]] = {}
    for fam, mod in FAMILIES.items():
        for name, fn in mod.MODELS.items():
            if name in out:
                raise RuntimeError(f"model {name!r} is defined by families {out[name][0]!r} and {fam!r}")
            out[name] = (fam, fn)
    return out


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`, sorted."""
    return sorted(_models())


def family_of(name: str) -> ModuleType:
    """The family module that defines model ``name``."""
    return FAMILIES[_lookup(name)[0]]


def _lookup(name: str) -> tuple[str, Callable[..., nn.Module]]:
    reg = _models()
    if name not in reg:
        close = difflib.get_close_matches(name, list(reg), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown model {name!r}{hint} (known: {', '.join(sorted(reg))})")
    return reg[name]


def _signature_target(fn: Callable) -> Callable:
    """The callable whose signature names a builder's valid arguments (a builder that forwards
    ``**kwargs`` to one class declares it as ``fn.builds``)."""
    return getattr(fn, "builds", fn)


def create_model(name: str, **kwargs) -> nn.Module:
    """Build model ``name`` with constructor arguments ``kwargs`` (sizes, class count, ...).

    An unknown argument, or one the layers reject (a ``dim`` not divisible by ``num_heads``),
    is one :class:`ConfigError` naming the model and the problem, never a traceback.
    """
    _, fn = _lookup(name)
    check_kwargs(_signature_target(fn), kwargs, f"model.args for {name!r}")
    try:
        return fn(**kwargs)
    except TypeError as e:
        raise ConfigError(f"model {name!r}: bad constructor arguments: {e}") from e
    except (ValueError, AssertionError) as e:
        raise ConfigError(f"model {name!r} with model.args {kwargs}: {e}") from e


__all__ = ["FAMILIES", "REQUIRED", "create_model", "list_models", "family_of"]
