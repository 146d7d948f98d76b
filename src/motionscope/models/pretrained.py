"""``model.pretrained=PATH``: one path for every model, owned by its family where it must be.

:func:`load_pretrained` reads the file (a motionscope checkpoint, an official one, a
``.safetensors``; never unpickling code), converts official key names when ``system`` is given,
and hands it to the family's own ``load_pretrained`` when the family defines one (MAMP:
``temp_embed`` resized to another frame count, the probe head redrawn, the decoder ignored).
Otherwise the generic rule applies: every tensor of the model must come from the file with its
shape, and the file must hold nothing else. With ``partial=True`` (``model.pretrained_partial``)
the tensors that fit are loaded and the rest stays newly initialised. Either way the report
names every key that was not loaded and why; nothing is dropped silently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import CheckpointError
from .official import convert_official, load_checked, read_state_dict, unwrap_state_dict


@dataclass
class LoadReport:
    """What a pretrained load did: keys loaded, and every key left out with the reason."""

    path: str | None
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the model, not in the file: new
    unexpected: list[str] = field(default_factory=list)  # in the file, not in the model: ignored
    mismatched: list[str] = field(default_factory=list)  # "key: file (a, b) vs model (c, d)"
    notes: list[str] = field(default_factory=list)  # family steps (resized, redrawn, ...)

    def summary(self) -> str:
        """One paragraph for the console: counts, then the keys (a few of each) and why."""
        lines = [f"loaded {len(self.loaded)} tensors from {self.path}"]
        for what, keys in (("newly initialised (not in the file)", self.missing),
                           ("newly initialised (shape differs)", self.mismatched),
                           ("ignored (not in the model)", self.unexpected)):
            if keys:
                more = f" and {len(keys) - 6} more" if len(keys) > 6 else ""
                lines.append(f"  {what}: {len(keys)}: {', '.join(keys[:6])}{more}")
        lines += [f"  {n}" for n in self.notes]
        return "\n".join(lines)


def read_pretrained(checkpoint: str | os.PathLike | Mapping[str, torch.Tensor],
                    system: str | None = None, model: nn.Module | None = None
                    ) -> tuple[dict[str, torch.Tensor], str | None]:
    """The state_dict of ``checkpoint`` (path or dict) in our key names, and its path."""
    if isinstance(checkpoint, Mapping):
        sd, path = unwrap_state_dict(checkpoint), None
    else:
        sd, path = read_state_dict(checkpoint), str(checkpoint)
    if system is not None:
        sd = convert_official(system, sd, model)
    return sd, path


def compare(model: nn.Module, sd: Mapping[str, torch.Tensor], path: str | None) -> LoadReport:
    """Which keys of ``sd`` fit ``model`` (same name and shape), and which do not."""
    own = model.state_dict()
    rep = LoadReport(path)
    for k, v in sd.items():
        if k not in own:
            rep.unexpected.append(k)
        elif tuple(v.shape) != tuple(own[k].shape):
            rep.mismatched.append(f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}")
        else:
            rep.loaded.append(k)
    rep.missing = [k for k in own if k not in sd]
    return rep


def load_fitting(model: nn.Module, sd: Mapping[str, torch.Tensor], path: str | None,
                 partial: bool, what: str = "this model") -> LoadReport:
    """The generic rule: load ``sd`` whole, or (``partial``) the tensors that fit."""
    rep = compare(model, sd, path)
    if not rep.loaded:
        raise CheckpointError(path, f"no tensor of this checkpoint fits {what} (is it a checkpoint "
                                    "of another model? model.pretrained_system names an official one)")
    if (rep.missing or rep.unexpected or rep.mismatched) and not partial:
        problems = []
        if rep.missing:
            problems.append(f"{len(rep.missing)} model keys not in the file (e.g. {rep.missing[:4]})")
        if rep.mismatched:
            problems.append(f"{len(rep.mismatched)} of another shape (e.g. {rep.mismatched[:2]})")
        if rep.unexpected:
            problems.append(f"{len(rep.unexpected)} file keys not in the model "
                            f"(e.g. {rep.unexpected[:4]})")
        raise CheckpointError(path, f"does not fit {what}: {'; '.join(problems)}. Set "
                                    "model.pretrained_partial=true to load the "
                                    f"{len(rep.loaded)} tensors that fit and keep the rest new")
    load_checked(model, {k: sd[k] for k in rep.loaded}, path=path, strict=False)
    return rep


def load_pretrained(model: nn.Module, checkpoint: str | os.PathLike | Mapping[str, torch.Tensor],
                    *, model_name: str | None = None, system: str | None = None,
                    partial: bool = False) -> LoadReport:
    """Initialise ``model`` (built as ``model_name``) from ``checkpoint``: the family's own
    ``load_pretrained`` if it defines one, the generic rule otherwise (module docstring)."""
    from . import family_of

    fam = family_of(model_name) if model_name is not None else None
    own = getattr(fam, "load_pretrained", None)
    if own is not None:
        return own(model, checkpoint, system=system, partial=partial)
    sd, path = read_pretrained(checkpoint, system, model)
    return load_fitting(model, sd, path, partial, what=f"model {model_name or type(model).__name__!r}")


__all__ = ["LoadReport", "load_pretrained", "read_pretrained", "compare", "load_fitting"]
