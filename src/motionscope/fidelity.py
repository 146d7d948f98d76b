"""Official fidelity fixtures: reading them and comparing outputs within their tolerances.

A fixture directory (see ``shared/fixtures/README.md``) holds ``config.json``, ``inputs.pt``,
``outputs.pt`` and ``state_dict*.pt``. Users can drop their own fixtures of the same layout in
``$MOTIONSCOPE_FIXTURES`` and the fidelity tests pick them up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .errors import DataError


def fixtures_root() -> Path:
    """``$MOTIONSCOPE_FIXTURES`` or ``../shared/fixtures/official`` beside the checkout."""
    env = os.environ.get("MOTIONSCOPE_FIXTURES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "official"


def discover(prefix: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Fixture directories under ``root`` whose name starts with ``prefix``."""
    root = Path(root) if root is not None else fixtures_root()
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(prefix)
                  and (p / "config.json").is_file())


@dataclass
class Fixture:
    path: Path
    config: dict
    inputs: Any
    outputs: Any
    sep: str = "."
    _sd_cache: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Fixture:
        path = Path(path)
        try:
            config = json.loads((path / "config.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise DataError(path / "config.json", f"cannot read fixture config: {e}") from e
        inputs = torch.load(path / "inputs.pt", map_location="cpu", weights_only=True)
        outputs = torch.load(path / "outputs.pt", map_location="cpu", weights_only=True)
        return cls(path, config, inputs, outputs, config.get("key_separator", "."))

    @property
    def name(self) -> str:
        return self.path.name

    def state_dict(self, filename: str = "state_dict.pt") -> dict[str, torch.Tensor]:
        if filename not in self._sd_cache:
            self._sd_cache[filename] = torch.load(
                self.path / filename, map_location="cpu", weights_only=True
            )
        return self._sd_cache[filename]

    def input(self, key: str):
        return get_path(self.inputs, key, self.sep)

    def output(self, key: str):
        return get_path(self.outputs, key, self.sep)

    def resolve(self, arg: Any) -> Any:
        """A recorded call argument: ``"inputs:x"`` is the recorded input ``x``, anything else a literal."""
        if isinstance(arg, str) and arg.startswith("inputs:"):
            return self.input(arg[len("inputs:"):])
        return arg

    def output_specs(self, prefix: str = "") -> dict[str, dict]:
        return {k: v for k, v in self.config.get("outputs", {}).items() if k.startswith(prefix)}

    def mismatches(self, got: dict[str, Any], keys: Iterable[str], tag: str = "") -> list[str]:
        """One line per recorded output in ``keys`` that ``got`` lacks (or holds as None) or
        that differs from the recording beyond the tolerance its config entry gives."""
        lines = []
        for key in keys:
            label = f"{tag} {key}" if tag else key
            if got.get(key) is None:
                lines.append(f"{label}: not produced")
                continue
            why = compare(got[key], self.output(key), self.config["outputs"][key])
            if why:
                lines.append(f"{label}: {why}")
        return lines


def get_path(tree: Any, key: str, sep: str = ".") -> Any:
    """Follow ``a.b.0.c`` into nested dicts/lists (an all-digit part indexes a list).

    Keys that themselves contain the separator (flat dicts) are tried first.
    """
    if isinstance(tree, dict) and key in tree:
        return tree[key]
    node = tree
    parts = key.split(sep)
    i = 0
    while i < len(parts):
        # allow dict keys that contain the separator: take the longest matching prefix
        for j in range(len(parts), i, -1):
            k = sep.join(parts[i:j])
            if isinstance(node, dict) and k in node:
                node, i = node[k], j
                break
            if isinstance(node, list | tuple) and j == i + 1 and k.isdigit():
                node, i = node[int(k)], j
                break
        else:
            raise KeyError(f"{key!r}: no {parts[i]!r} at this level")
    return node


def compare(actual: torch.Tensor, expected: torch.Tensor, spec: dict) -> str | None:
    """None when ``actual`` matches ``expected`` under ``spec`` (atol/rtol/exact), else why not."""
    actual = torch.as_tensor(actual).detach().cpu()
    expected = torch.as_tensor(expected)
    if tuple(actual.shape) != tuple(expected.shape):
        return f"shape {tuple(actual.shape)} != expected {tuple(expected.shape)}"
    if spec.get("exact", False):
        if torch.equal(actual.to(expected.dtype), expected):
            return None
        n = int((actual.to(expected.dtype) != expected).sum())
        return f"not exactly equal ({n} of {expected.numel()} entries differ)"
    a, e = actual.double(), expected.double()
    atol, rtol = float(spec.get("atol", 0.0)), float(spec.get("rtol", 0.0))
    err = (a - e).abs()
    ok = err <= atol + rtol * e.abs()
    if bool(ok.all()) and not bool(torch.isnan(a).any()):
        return None
    return (f"max |diff| {err.max().item():.3g} > atol {atol:g} + rtol {rtol:g}·|expected| "
            f"({int((~ok).sum())} of {e.numel()} entries)")
