"""Model factory: ``create_model(name, **kw)`` over a plain dict of builders.

Each architecture-family module (``baselines``, ``mamp``, ``mp``, ``mienet``, ...) exports
``MODELS: dict[str, Callable[..., nn.Module]]``; this module merges them. Adding a family means
adding its module name to ``_FAMILIES`` and nothing else.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable

from torch import nn

from ..errors import ConfigError

_FAMILIES = ("baselines", "mamp", "mp", "mienet")


def _registry() -> dict[str, Callable[..., nn.Module]]:
    out: dict[str, Callable[..., nn.Module]] = {}
    for fam in _FAMILIES:
        try:
            mod = importlib.import_module(f"{__name__}.{fam}")
        except ModuleNotFoundError as e:  # a family not written yet
            if e.name == f"{__name__}.{fam}":
                continue
            raise
        out.update(getattr(mod, "MODELS", {}))
    return out


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`, sorted."""
    return sorted(_registry())


def create_model(name: str, **kwargs) -> nn.Module:
    """Build model ``name`` with constructor arguments ``kwargs`` (sizes, class count, ...)."""
    reg = _registry()
    if name not in reg:
        close = difflib.get_close_matches(name, list(reg), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown model {name!r}{hint} (known: {', '.join(sorted(reg))})")
    try:
        return reg[name](**kwargs)
    except TypeError as e:
        raise ConfigError(f"model {name!r}: bad constructor arguments: {e}") from e
