"""Stopping a job the way schedulers do: SIGTERM to the whole process group, workers included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import torch

ENV = {**os.environ, "MOTIONSCOPE_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}


def _start(args: list[str]) -> subprocess.Popen:
    code = f"import sys; from motionscope.cli import main; sys.argv[0] = 'motionscope'; main({args!r})"
    return subprocess.Popen([sys.executable, "-c", code], env=ENV, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(cond, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while not cond():
        assert proc.poll() is None, f"exited early: {proc.communicate()}"
        assert time.monotonic() - t0 < timeout, "timed out waiting for the job to get going"
        time.sleep(0.2)


def _killpg_term(proc: subprocess.Popen) -> tuple[int, str]:
    os.killpg(proc.pid, signal.SIGTERM)  # what Slurm, Kubernetes and `timeout` do
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def test_train_with_loader_workers_saves_and_exits_130_on_group_sigterm(tmp_path):
    run = tmp_path / "run"
    proc = _start(["train", "baseline_skeleton", "data.num_workers=2", "train.epochs=1000",
                   "data.args.num_samples=256", "model.args.dim=16", "train.log_every=1",
                   "train.tensorboard=false", "train.progress=false", "--run-dir", str(run)])
    metrics = run / "metrics.jsonl"
    _wait_for(lambda: metrics.is_file() and metrics.read_text().count('"train"') >= 3, proc)
    rc, err = _killpg_term(proc)
    assert rc == 130, err
    assert "Traceback" not in err and "killed by signal" not in err, err
    assert "checkpoint saved" in err
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    logged = max(json.loads(ln)["step"] for ln in metrics.read_text().splitlines()
                 if '"train"' in ln)
    assert state["global_step"] >= logged and not state["finished"]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", f"from motionscope.cli import main; main({args!r})"],
                          env=ENV, capture_output=True, text=True, timeout=300)


def test_synth_and_stimuli_with_pools_exit_130_and_resume(tmp_path):
    out = tmp_path / "world"
    args = ["synth", "--out", str(out), "--clips-per-class", "60", "--frames", "32",
            "--size", "64x64", "--formats", "rgb,skeleton", "--workers", "2"]
    proc = _start(args)
    _wait_for(lambda: len(list(out.rglob("*.skeleton"))) >= 2, proc)
    rc, err = _killpg_term(proc)
    assert rc == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "motionscope: interrupted", err
    assert not (out / "manifest.json").is_file()
    done = _run(args)
    assert done.returncode == 0, done.stderr
    assert len(json.loads((out / "manifest.json").read_text())["clips"]) == 600
    # the stimuli of that world, with a pool of two, stopped the same way
    stim = tmp_path / "stimuli"
    sargs = ["stimuli", "--source", str(out), "--out", str(stim), "--conditions", "J-6P,RGB",
             "--frames", "16", "--workers", "2"]
    proc = _start(sargs)
    _wait_for(lambda: len(list(stim.rglob("*.mp4"))) >= 4, proc)
    rc, err = _killpg_term(proc)
    assert rc == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "motionscope: interrupted", err
    done = _run(sargs)
    assert done.returncode == 0, done.stderr
    conds = json.loads((stim / "stimuli.json").read_text())["conditions"]
    assert conds["J-6P"]["clips"] > 0 and not conds["J-6P"]["failed"]
