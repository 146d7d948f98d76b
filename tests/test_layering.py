"""The import direction of DESIGN ("Thin layers, one direction"), checked statically over every
import (top-level or inside a function) and at run time (what importing a module loads)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "motionscope"
FAMILIES = ("baselines", "mamp", "mp", "mienet")

# package -> modules (dotted, under motionscope) it must never import
RULES = {
    "data": ["models", "engine", "tasks"],
    "engine": ["models", "tasks"],
    "stimuli": ["engine", "models", "tasks", "data"],
    "synth": ["engine", "models", "tasks", "data"],
    "io": ["engine", "models", "tasks", "data", "synth", "stimuli"],
    "prepare": ["engine", "models", "tasks"],
}


def _imports(path: Path) -> set[str]:
    """Dotted ``motionscope.*`` names imported anywhere in ``path``."""
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    here = parts if path.name == "__init__.py" else parts[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("motionscope")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("motionscope"):
                out.add(mod)
                out |= {f"{mod}.{a.name}" for a in node.names}
    return out


@pytest.mark.parametrize("pkg", sorted(RULES))
def test_no_import_goes_upward(pkg):
    bad = []
    for path in sorted((PKG / pkg).rglob("*.py")):
        for mod in _imports(path):
            for banned in RULES[pkg]:
                if mod == f"motionscope.{banned}" or mod.startswith(f"motionscope.{banned}."):
                    bad.append(f"{path.relative_to(PKG)} imports {mod}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module, banned", [
    ("motionscope.data.datasets", ["motionscope.models", "motionscope.engine"]),
    ("motionscope.engine.trainer", [f"motionscope.models.{f}" for f in FAMILIES]),
    ("motionscope.stimuli", ["motionscope.engine"]),
])
def test_importing_a_layer_loads_nothing_above_it(module, banned):
    code = (f"import sys, {module}; "
            f"print(sorted(m for m in sys.modules if m.startswith(tuple({banned!r}))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"importing {module} loaded {out.stdout.strip()}"
