"""The experiment package needs no torch: it imports none of data/models/engine/tasks (statically,
except analyze's lazy bmp-eval) and loading the server, create and export pulls no torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "src" / "motionscope" / "experiment"
BANNED = ("data", "models", "engine", "tasks")


def test_no_module_imports_the_torch_layers():
    bad = []
    for path in sorted(PKG.glob("*.py")):
        if path.name == "analyze.py":  # runs bmp-eval (torch) inside one function, on request
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                mod = ("." * node.level) + (node.module or "")
                names = [mod.lstrip(".").split(".")[0]] if node.level == 2 else []
                names += [mod.split(".")[1]] if mod.startswith("motionscope.") else []
            elif isinstance(node, ast.Import):
                names = [a.name.split(".")[1] for a in node.names if a.name.startswith("motionscope.")]
            else:
                continue
            bad += [f"{path.name}: {n}" for n in names if n in BANNED or n == "torch"]
            if isinstance(node, ast.Import):
                bad += [f"{path.name}: torch" for a in node.names if a.name.split(".")[0] == "torch"]
    assert not bad, bad


def test_loading_the_server_imports_no_torch():
    code = ("import sys, motionscope.experiment.app, motionscope.experiment.create, "
            "motionscope.experiment.export, motionscope.experiment.db, motionscope.cli_experiment; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
