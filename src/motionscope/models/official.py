"""Official-checkpoint loading for every system.

Official checkpoints come in many wrappers (``{"model": ...}``, ``{"state_dict": ...}``,
``module.`` prefixes from DDP). :func:`read_state_dict` unwraps them; :func:`load_official`
maps the official key names onto ours with the system's converter and loads strictly, so a
wrong or truncated file fails with the list of keys that do not fit.

A system module may define ``convert_official(state_dict, model) -> state_dict``; when it
does not, our key names are the official ones (the preferred case: fewer places to go wrong).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError
from ..statedict import (
    load_checked,  # noqa: F401  (re-exported: one checked load for all)
    load_error_reason,
    refused_global,
)

# system name (as in the fixtures' "system" field, case-insensitive) -> model module
SYSTEMS = {"mamp": "mamp", "mp": "mp", "enmp": "mp", "mienet": "mienet", "mie": "mienet",
           "drsr": "drsr", "bkind": "bkind"}

_WRAPPER_KEYS = ("model", "state_dict", "model_state", "module", "teacher", "student")


def read_state_dict(path: str | os.PathLike, wrapper_key: str | None = None) -> dict[str, torch.Tensor]:
    """Read a checkpoint file (.pt/.pth/.bin or .safetensors) and return a flat state_dict."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "checkpoint file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(path))
        else:
            # official files pickle their argparse options beside the weights (MAE-style); the
            # weights-only unpickler builds a Namespace by __dict__.update of values it has
            # itself unpickled (Namespace has no __setstate__), so allowing it runs no code
            with torch.serialization.safe_globals([argparse.Namespace]), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Detected pickle protocol")
                obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # weights_only refused a global or an instruction
        needed = refused_global(str(e))
        with open(path, "rb") as f:
            head = f.read(2)  # a pickle of protocol > 2 (torch.save writes 2) or garbage
        if needed is None and not (len(head) == 2 and head[0] == pickle.PROTO[0] and head[1] > 2):
            raise CheckpointError(path, f"cannot read checkpoint ({load_error_reason(e)})") from None
        what = f"unpickling {needed}" if needed else f"a full unpickler ({load_error_reason(e)})"
        raise CheckpointError(path, f"refused to load: the file needs {what}, and "
                                    "motionscope never unpickles code (only tensors, plain values "
                                    "and argparse.Namespace); a checkpoint written by motionscope "
                                    "before checkpoint format 2 that you trust can be converted with "
                                    f"`motionscope convert-checkpoint {path} NEW.pt`") from None
    except Exception as e:  # noqa: BLE001 - any other format failure is a corrupt file
        raise CheckpointError(path, f"cannot read checkpoint ({load_error_reason(e)})") from e
    return unwrap_state_dict(obj, path, wrapper_key)


def unwrap_state_dict(obj, path=None, wrapper_key: str | None = None) -> dict[str, torch.Tensor]:
    """Find the tensor dict inside common checkpoint wrappers and strip DDP's ``module.``."""
    if wrapper_key is not None:
        if not isinstance(obj, Mapping) or wrapper_key not in obj:
            raise CheckpointError(path, f"checkpoint has no key {wrapper_key!r}")
        obj = obj[wrapper_key]
    while isinstance(obj, Mapping) and not _is_tensor_dict(obj):
        inner = next((obj[k] for k in _WRAPPER_KEYS if k in obj and isinstance(obj[k], Mapping)), None)
        if inner is None:
            raise CheckpointError(
                path, f"no state_dict found (top-level keys: {sorted(map(str, obj))[:10]})"
            )
        obj = inner
    if not isinstance(obj, Mapping):
        raise CheckpointError(path, f"expected a dict of tensors, got {type(obj).__name__}")
    sd = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    return sd


def _is_tensor_dict(d: Mapping) -> bool:
    return len(d) > 0 and all(isinstance(v, torch.Tensor) for v in d.values())


def convert_official(system: str, state_dict: dict[str, torch.Tensor], model: nn.Module | None = None):
    """Map official key names of ``system`` onto motionscope's (identity when names agree)."""
    mod_name = SYSTEMS.get(system.lower().replace("-", "").replace("_", ""))
    if mod_name is None:
        raise CheckpointError(None, f"unknown system {system!r} (known: {sorted(set(SYSTEMS))})")
    mod = importlib.import_module(f"motionscope.models.{mod_name}")
    conv = getattr(mod, "convert_official", None)
    return dict(state_dict) if conv is None else conv(state_dict, model)


def load_official(
    model: nn.Module,
    checkpoint: str | os.PathLike | Mapping[str, torch.Tensor],
    system: str,
    strict: bool = True,
) -> tuple[list[str], list[str]]:
    """Load an official checkpoint (path or state_dict) into ``model``.

    Returns ``(missing, unexpected)`` key lists; with ``strict`` any of them, or a shape
    mismatch, raises :class:`CheckpointError` naming the keys.
    """
    path = None
    if isinstance(checkpoint, Mapping):
        sd = unwrap_state_dict(checkpoint)
    else:
        path = checkpoint
        sd = read_state_dict(checkpoint)
    sd = convert_official(system, sd, model)
    return load_checked(model, sd, path=path, strict=strict)


