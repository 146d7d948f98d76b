"""Keyword checks against a callable's signature: the one check behind ``model.args`` and
``data.args``, so an unknown key fails before any work starts, naming the closest valid one."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable

from .errors import ConfigError


def check_kwargs(fn: Callable, kwargs: Iterable[str], where: str, skip: tuple[str, ...] = ()) -> None:
    """Raise :class:`ConfigError` on a key ``fn`` does not take (no check if it takes ``**kw``)."""
    params = inspect.signature(fn).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n in params if n not in skip and n != "self"]
    for key in kwargs:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where}: unknown argument {key!r}{hint} (valid: {', '.join(valid)})")


__all__ = ["check_kwargs"]
