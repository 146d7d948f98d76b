"""One run per run directory, resume only what was asked, nothing half-written survives."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from motionscope.config import load_config
from motionscope.engine.checkpoint import load_checkpoint
from motionscope.engine.logging import MetricsLogger, read_metrics
from motionscope.engine.trainer import Interrupted, Trainer, seed_everything
from motionscope.errors import ConfigError, MotionscopeError
from motionscope.runlock import RunLock
from motionscope.tasks.classify import config_differences, train
from motionscope.tasks.runs import build_datasets, build_model

# 64 samples, batch 16: a few steps per epoch; two epochs so that step 2 is mid-run
OVER = ["train.epochs=2", "data.args.num_samples=64", "model.args.dim=16",
        "train.tensorboard=false", "train.log_every=1"]


def _interrupted(run: Path, over: list[str] = OVER, at: int = 2) -> Path:
    """A run stopped (as by SIGTERM) after step ``at``, checkpoint saved."""
    cfg = load_config("baseline_skeleton", over)
    seed_everything(cfg.train.seed)
    trainer = Trainer(cfg, build_model(cfg), build_datasets(cfg), run)
    trainer.callbacks.append(lambda tr: tr.request_stop() if tr.global_step == at else None)
    with pytest.raises(Interrupted):
        trainer.fit()
    return run


def _step(run: Path) -> int:
    return load_checkpoint(run / "checkpoints" / "last.pt")["global_step"]


def test_a_second_process_fails_at_once_naming_the_holder(tmp_path):
    run = tmp_path / "r"
    code = ("import sys; from motionscope.cli import main; "
            f"main(['train', 'baseline_skeleton', *{OVER!r}, '--run-dir', {str(run)!r}])")
    env = {**os.environ, "MOTIONSCOPE_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    with RunLock(run):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=300)
    assert out.returncode == 2, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"pid {os.getpid()}" in lines[0] and "in use" in lines[0]
    assert not (run / "checkpoints").exists() and not (run / "config.yaml").exists()


def test_the_lock_is_held_for_the_run_and_released_after(tmp_path, monkeypatch):
    run = tmp_path / "r"
    with RunLock(run), pytest.raises(MotionscopeError, match=f"pid {os.getpid()}"):
        train("baseline_skeleton", OVER, run_dir=str(run))
    seen = []

    class Probe:  # a second holder while the run trains is refused
        def __call__(self, tr):
            if tr.global_step == 1:
                with pytest.raises(MotionscopeError, match="in use"):
                    RunLock(run).acquire()
                seen.append(True)

    from motionscope.engine import trainer as trainer_mod

    orig = trainer_mod.Trainer.__init__

    def init(self, *a, **kw):
        orig(self, *a, **kw)
        self.callbacks.append(Probe())

    monkeypatch.setattr(trainer_mod.Trainer, "__init__", init)
    train("baseline_skeleton", OVER, run_dir=str(run))
    assert seen
    with RunLock(run) as lock:  # released, and released cleanly (no stale holder named)
        assert lock.stale is None


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    run = tmp_path / "r"
    run.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run / ".lock").write_text(f"pid={dead.pid}\nhost={socket.gethostname()}\ncmd=motionscope\n")
    res = train("baseline_skeleton", OVER, run_dir=str(run))
    assert res["global_step"] > 0
    assert f"stale lock of pid {dead.pid} (dead)" in capsys.readouterr().err
    assert (run / ".lock").read_text() == ""


def test_resume_refuses_a_config_that_changes_the_result(tmp_path, capsys):
    run = _interrupted(tmp_path / "r")
    with pytest.raises(MotionscopeError, match="optim.lr: 0.001 -> 0.01") as e:
        train("baseline_skeleton", [*OVER, "optim.lr=0.01"], run_dir=str(run))
    assert "--force-resume" in str(e.value) and "--fresh" in str(e.value)
    with pytest.raises(MotionscopeError, match="already holds a run"):
        train("baseline_skeleton", OVER, run_dir=str(run), fresh=True)
    assert _step(run) == 2 and not (run / "config.yaml").exists()  # nothing was touched
    res = train("baseline_skeleton", [*OVER, "optim.lr=0.01"], run_dir=str(run),
                force_resume=True)
    assert res["run_dir"] == str(run) and res["global_step"] == _step(run) > 2
    assert load_checkpoint(run / "checkpoints" / "last.pt")["config"]["optim"]["lr"] == 0.01
    assert "despite config differences (--force-resume): optim.lr: 0.001 -> 0.01" in \
        capsys.readouterr().out


def test_resume_ignores_keys_that_do_not_change_the_result(tmp_path, capsys):
    run = _interrupted(tmp_path / "r")
    with pytest.raises(MotionscopeError, match="data.batch_size: 16 -> 8"):
        train("baseline_skeleton", [*OVER, "data.batch_size=8"], run_dir=str(run))
    res = train("baseline_skeleton", [*OVER, "train.progress=false", "train.log_every=2"],
                run_dir=str(run))
    assert "resuming" in capsys.readouterr().out and res["run_dir"] == str(run)
    cfg = load_config("baseline_skeleton", OVER)
    diff = config_differences(cfg, load_checkpoint(run / "checkpoints" / "last.pt")["config"])
    assert diff == []


def test_fresh_starts_a_new_run_beside_the_interrupted_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = _interrupted(Path("runs") / "baseline_skeleton")
    res = train("baseline_skeleton", [*OVER, "optim.lr=0.01"], fresh=True)
    assert Path(res["run_dir"]) == Path("runs") / "baseline_skeleton-1"
    assert _step(run) == 2  # the interrupted run is kept as it was
    with pytest.raises(ConfigError, match="--fresh"):
        train("baseline_skeleton", OVER, fresh=True, force_resume=True)


def test_orphaned_temp_files_are_removed_at_start(tmp_path):
    run = _interrupted(tmp_path / "r")
    orphans = [run / "checkpoints" / ".last.x1y2z3.tmp.pt", run / ".results.ab12.tmp.json",
               run / ".metrics.jsonl.123.4.tmp"]
    for p in orphans:
        p.write_bytes(b"half")
    keep = run / "checkpoints" / "notes.tmp.txt"  # not one of ours
    keep.write_text("x")
    train("baseline_skeleton", OVER, run_dir=str(run))
    assert not any(p.exists() for p in orphans) and keep.exists()
    assert not list(run.rglob(".*.tmp*"))


def test_metrics_have_each_split_and_step_once_after_a_resume(tmp_path):
    run = _interrupted(tmp_path / "r")
    with open(run / "metrics.jsonl", "a") as f:  # logged after the checkpoint, then killed
        for step in (3, 4):
            f.write(json.dumps({"split": "train", "step": step, "loss": -1.0}) + "\n")
        f.write('{"split": "train", "st')  # a line cut short by the kill
    train("baseline_skeleton", OVER, run_dir=str(run))
    records = read_metrics(run)
    keys = [(r["split"], r["step"]) for r in records]
    assert len(keys) == len(set(keys))
    total = _step(run)
    assert {s for sp, s in keys if sp == "train"} == set(range(1, total + 1))
    assert all(r["loss"] != -1.0 for r in records)


def test_metrics_logger_replaces_a_repeated_step(tmp_path):
    log = MetricsLogger(tmp_path, tensorboard=False)
    log.log({"split": "val", "step": 4, "top1": 0.1})
    log.log({"split": "train", "step": 4, "loss": 1.0})
    log = MetricsLogger(tmp_path, tensorboard=False)  # reopened, as on resume
    log.log({"split": "val", "step": 4, "top1": 0.2})
    got = {(r["split"], r["step"]): r for r in read_metrics(tmp_path)}
    assert len(read_metrics(tmp_path)) == 2 and got["val", 4]["top1"] == 0.2


TOO_FEW = [*OVER, "data.args.num_samples=8", "data.batch_size=8", "train.accumulate=4"]


def test_a_run_failing_before_its_first_checkpoint_leaves_nothing(tmp_path):
    run = tmp_path / "r"
    with pytest.raises(MotionscopeError, match="too few"):
        train("baseline_skeleton", TOO_FEW, run_dir=str(run))
    assert not run.exists()
    run.mkdir()  # a folder the user made: kept, without the config.yaml of the failed run
    with pytest.raises(MotionscopeError, match="too few"):
        train("baseline_skeleton", TOO_FEW, run_dir=str(run))
    assert run.is_dir() and not (run / "config.yaml").exists()


@pytest.mark.parametrize("override", ["train.epochs=0", "train.max_steps=0"])
def test_training_nothing_is_refused(tmp_path, override):
    with pytest.raises(ConfigError, match=override.split("=")[0]):
        train("baseline_skeleton", [*OVER, override], run_dir=str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_two_real_train_processes_and_a_sigkill(tmp_path):
    """Two real `motionscope train` on one dir: the second fails naming the first; a SIGKILL of
    the first leaves a stale lock that the next holder takes over."""
    import signal
    import time

    run = tmp_path / "r"
    env = {**os.environ, "MOTIONSCOPE_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "motionscope", "train", "baseline_skeleton", *OVER,
           "train.epochs=1000", "--run-dir", str(run)]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (run / "metrics.jsonl").is_file():
            assert first.poll() is None, first.stderr.read()
            time.sleep(0.05)
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert first.poll() is None, "the first run must still be training"
        assert second.returncode == 2 and f"in use by pid {first.pid}" in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    with RunLock(run) as lock:
        assert lock.stale == f"pid {first.pid} (dead)"
