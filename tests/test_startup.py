"""Commands that need no torch do not import it: each runs for real in a fresh interpreter
that reports afterwards whether ``torch`` got into ``sys.modules``. (How fast they start is
measured in benchmarks/startup.py, not here.) Also: each ``motionscope.api`` wrapper keeps the
signature of the function it calls."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import pytest

# runs motionscope.cli.main(argv) as the console script does, then reports on the last line
_WRAPPER = """
import json, sys
code = 0
try:
    from motionscope.cli import main
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code or 0
heavy = sorted(m for m in ("torch", "torchvision", "timm", "matplotlib") if m in sys.modules)
print("\\nSTARTUP " + json.dumps({"code": code, "torch": "torch" in sys.modules, "heavy": heavy}))
"""


def run_fresh(*args: str) -> tuple[dict, str]:
    env = {**os.environ, "MOTIONSCOPE_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-c", _WRAPPER, *args], capture_output=True, text=True,
                       env=env, timeout=300)
    last = p.stdout.rstrip().splitlines()[-1] if p.stdout.strip() else ""
    assert last.startswith("STARTUP "), f"no report from {args}:\n{p.stdout}\n{p.stderr}"
    report = json.loads(last[len("STARTUP "):])
    assert report["code"] == 0, f"{args} exited {report['code']}:\n{p.stdout}\n{p.stderr}"
    return report, p.stdout


def assert_torch_free(report: dict, args) -> None:
    assert not report["torch"], f"`motionscope {' '.join(args)}` imported torch"


@pytest.mark.parametrize("args", [["--help"], ["synth", "--help"], ["prepare", "--help"],
                                  ["discover", "--help"], ["discover", "extract", "--help"],
                                  ["stimuli", "--help"], ["presets"],
                                  ["config", "baseline_skeleton", "train.epochs=3"],
                                  ["config", "mamp_ntu60_xsub_finetune"],
                                  ["experiment", "--help"], ["experiment", "create", "--help"],
                                  ["experiment", "serve", "--help"],
                                  ["experiment", "export", "--help"],
                                  ["experiment", "status", "--help"]])
def test_light_commands_do_not_import_torch(args):
    report, out = run_fresh(*args)
    assert_torch_free(report, args)
    assert out.strip()  # it printed something (help text, preset list, YAML)


def test_importing_cli_and_api_does_not_import_torch():
    code = "import sys, motionscope, motionscope.cli, motionscope.api; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("startup") / "world"
    args = ["synth", "--out", str(root), "--classes", "pick_up,throw", "--clips-per-class", "1",
            "--frames", "8", "--size", "32x32", "--formats", "skeleton"]
    report, out = run_fresh(*args)
    return root, report, out, args


def test_synth_run_is_torch_free(world):
    root, report, out, args = world
    assert_torch_free(report, args)
    assert "world written" in out and (root / "manifest.json").is_file()
    assert len(list((root / "skeleton").glob("*.skeleton"))) == 2


def test_prepare_ntu_run_is_torch_free(world, tmp_path):
    root = world[0]
    args = ["prepare", "ntu", "--raw", str(root / "skeleton"), "--out", str(tmp_path / "ntu"),
            "--workers", "1"]
    report, out = run_fresh(*args)
    assert_torch_free(report, args)
    assert "2 files, 2 samples kept" in out and (tmp_path / "ntu" / "NTU60_XSub.npz").is_file()


def test_stimuli_run_is_torch_free(world, tmp_path):
    root = world[0]
    args = ["stimuli", "--source", str(root), "--out", str(tmp_path / "stim"), "--conditions",
            "J-6P,SP-4P-1LT", "--frames", "8", "--size", "32x32"]
    report, out = run_fresh(*args)
    assert_torch_free(report, args)
    assert "stimuli written" in out and (tmp_path / "stim" / "stimuli.json").is_file()


def test_api_wrappers_keep_the_signatures_they_call():
    from motionscope import api
    from motionscope.config import list_presets, load_config
    from motionscope.experiment.app import experiment_status
    from motionscope.experiment.app import serve as experiment_serve
    from motionscope.experiment.create import create_experiment
    from motionscope.experiment.export import export_experiment
    from motionscope.prepare import prepare
    from motionscope.stimuli import generate_stimuli
    from motionscope.synth import generate_world
    from motionscope.tasks.bmp import bmp_eval
    from motionscope.tasks.classify import evaluate, predict, train
    from motionscope.tasks.demo import demo

    pairs = {api.experiment_create: create_experiment, api.experiment_export: export_experiment,
             api.experiment_status: experiment_status, api.experiment_serve: experiment_serve,
             api.train: train, api.evaluate: evaluate, api.predict: predict, api.demo: demo,
             api.synth: generate_world, api.prepare: prepare, api.stimuli: generate_stimuli,
             api.bmp_eval: bmp_eval, api.presets: list_presets, api.config: load_config}
    for wrapper, real in pairs.items():
        assert wrapper.__doc__, wrapper.__name__
        if wrapper is api.config:  # same parameters, returns the YAML text
            want = inspect.signature(real).replace(return_annotation="str")
        else:
            want = inspect.signature(real)
        assert inspect.signature(wrapper) == want, (wrapper.__name__, real.__module__)
    assert set(api.__all__) <= set(dir(api))


def test_api_presets_and_config():
    from motionscope import api

    assert "baseline_skeleton" in api.presets()
    assert "epochs: 3" in api.config("baseline_skeleton", ["train.epochs=3"])
