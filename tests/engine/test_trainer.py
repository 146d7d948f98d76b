"""The engine end to end on the baselines: learning, exact resume, AMP, accumulation, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from motionscope.config import load_config
from motionscope.engine.checkpoint import load_checkpoint
from motionscope.engine.logging import read_metrics
from motionscope.engine.trainer import Interrupted, Trainer, seed_everything
from motionscope.errors import CheckpointError, ConfigError, DataError, MotionscopeError
from motionscope.tasks.classify import train
from motionscope.tasks.runs import build_datasets, build_model

SMALL = ["data.args.num_samples=64", "model.args.dim=16", "train.tensorboard=false",
         "train.progress=false", "train.log_every=1"]


def _weights(run_dir) -> dict:
    return load_checkpoint(Path(run_dir) / "checkpoints" / "last.pt")["model"]


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_learns_and_writes_everything(tmp_path):
    res = train("baseline_skeleton", ["train.epochs=8", "data.args.num_samples=160", "optim.lr=0.005",
                                      *SMALL[2:]],
                run_dir=str(tmp_path / "r"))
    run = Path(res["run_dir"])
    metrics = read_metrics(run)
    train_loss = [m["loss"] for m in metrics if m["split"] == "train"]
    assert train_loss[-1] < train_loss[0]
    assert res["test"]["top1"] > 0.3, "10 classes: chance is 0.1"
    for f in ("config.yaml", "results.json", "test_confusion.png", "test_predictions.csv",
              "test_confusion.csv", "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (run / f).is_file(), f
    results = json.loads((run / "results.json").read_text())
    assert results["best_val"]["epoch"] >= 1
    assert not list(run.rglob("*.tmp*")), "no temporary files may be left behind"


def test_resume_mid_epoch_is_exact(tmp_path):
    over = ["train.epochs=3", "train.ckpt_every=2", "model.args.dropout=0.1", *SMALL]
    cfg = load_config("baseline_skeleton", over)
    full = train("baseline_skeleton", over, run_dir=str(tmp_path / "full"))

    # the same run, stopped by a (simulated) SIGTERM at step 5 of 12, then resumed
    run = tmp_path / "cut"
    seed_everything(cfg.train.seed)
    trainer = Trainer(cfg, build_model(cfg), build_datasets(cfg), run)
    trainer.callbacks.append(lambda tr: tr.request_stop() if tr.global_step == 5 else None)
    with pytest.raises(Interrupted, match="step 5"):
        trainer.fit()
    assert load_checkpoint(run / "checkpoints" / "last.pt")["global_step"] == 5
    resumed = train("baseline_skeleton", over, run_dir=str(run))  # auto-resume
    assert resumed["global_step"] == full["global_step"] == 12
    assert _same(_weights(full["run_dir"]), _weights(run))
    assert resumed["test"]["top1"] == full["test"]["top1"]


@pytest.mark.slow
def test_sigterm_saves_and_the_same_command_resumes(tmp_path):
    """A real kill of the CLI process: the checkpoint is saved, the rerun ends identical."""
    over = ["train.epochs=4", "data.args.num_samples=128", "model.args.dim=16",
            "train.tensorboard=false", "train.log_every=1", "train.progress=false"]
    env = {**os.environ, "MOTIONSCOPE_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "motionscope", "train", "baseline_skeleton", *over]
    full = tmp_path / "full"
    subprocess.run([*cmd, "--run-dir", str(full)], check=True, env=env, capture_output=True)
    cut = tmp_path / "cut"
    p = subprocess.Popen([*cmd, "--run-dir", str(cut)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until training is under way
        if (cut / "metrics.jsonl").is_file() and len(read_metrics(cut)) >= 3:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    if p.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert p.returncode == 130 and "checkpoint saved" in err
    step = load_checkpoint(cut / "checkpoints" / "last.pt")["global_step"]
    assert 0 < step < 32
    out = subprocess.run([*cmd, "--run-dir", str(cut)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "resuming" in out.stdout
    assert _same(_weights(full), _weights(cut))


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_trains(tmp_path, amp):
    res = train("baseline_skeleton", ["train.epochs=1", f"train.amp={amp}", *SMALL],
                run_dir=str(tmp_path / amp))
    ck = load_checkpoint(Path(res["run_dir"]) / "checkpoints" / "last.pt")
    assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())
    if amp == "fp16":
        assert ck["scaler"]["scale"] > 0  # the scaler state is saved for resume


def test_gradient_accumulation_matches_big_batch(tmp_path):
    base = ["train.epochs=1", "optim.name=sgd", "optim.weight_decay=0", "sched.name=constant", *SMALL]
    a = train("baseline_skeleton", [*base, "data.batch_size=16"], run_dir=str(tmp_path / "a"))
    b = train("baseline_skeleton", [*base, "data.batch_size=8", "train.accumulate=2"],
              run_dir=str(tmp_path / "b"))
    assert a["global_step"] == b["global_step"] == 4
    wa, wb = _weights(a["run_dir"]), _weights(b["run_dir"])
    assert all(torch.allclose(wa[k], wb[k], atol=1e-5) for k in wa)


def test_gradient_clipping_is_logged(tmp_path):
    res = train("baseline_skeleton", ["train.epochs=1", "train.clip_grad=0.001", *SMALL],
                run_dir=str(tmp_path / "c"))
    norms = [m["grad_norm"] for m in read_metrics(res["run_dir"]) if m["split"] == "train"]
    assert norms and all(n > 0.001 for n in norms)  # pre-clip norms are reported


def test_finished_run_dir_is_not_overwritten(tmp_path):
    run = str(tmp_path / "done")
    train("baseline_skeleton", ["train.epochs=1", *SMALL], run_dir=run)
    with pytest.raises(MotionscopeError, match="already finished.*--resume .* train.epochs=N"):
        train("baseline_skeleton", ["train.epochs=1", *SMALL], run_dir=run)
    # what the message says: resumed with a longer schedule it trains on from where it stopped
    first = read_metrics(run)
    res = train("baseline_skeleton", ["train.epochs=2", *SMALL], run_dir=run, resume=run)
    assert res["run_dir"] == run and res["global_step"] == 2 * max(m["step"] for m in first)


def test_bad_inputs_fail_early_and_clearly(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        train("baseline_skeleton", ["data.root=/no/such/dir", *SMALL], run_dir=str(tmp_path / "x"))
    assert not (tmp_path / "x").exists(), "a run that cannot start leaves no run directory"
    with pytest.raises(ConfigError, match="unknown dataset"):
        train("baseline_skeleton", ["data.name=synthetic_skel", *SMALL], run_dir=str(tmp_path / "y"))
    with pytest.raises(DataError, match="empty"):
        train("baseline_skeleton", [*SMALL, "data.args.num_samples=0"], run_dir=str(tmp_path / "z"))
    with pytest.raises(MotionscopeError, match="too few for one step"):
        train("baseline_skeleton", ["data.args.num_samples=8", "data.batch_size=8",
                                    "train.accumulate=4", *SMALL[1:]],
              run_dir=str(tmp_path / "w"))


def test_label_outside_class_range(tmp_path):
    with pytest.raises(DataError, match="outside the class range"):
        cfg = load_config("baseline_skeleton", ["data.num_classes=4", *SMALL])
        from motionscope.tasks.runs import check_labels

        ds = build_datasets(load_config("baseline_skeleton", SMALL))["train"]
        ds.labels = [i % 10 for i in range(len(ds))]
        check_labels(ds, cfg.data.num_classes, "train")


def test_corrupt_checkpoint_names_the_file(tmp_path):
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(bad)
    assert str(bad) in str(e.value)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a motionscope checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_incompatible_checkpoint_on_resume(tmp_path):
    run = tmp_path / "r"
    train("baseline_skeleton", ["train.epochs=1", *SMALL], run_dir=str(run))
    with pytest.raises(CheckpointError, match="shape mismatch"):
        train("baseline_skeleton", ["train.epochs=2", *SMALL, "model.args.dim=24"],
              resume=str(run / "checkpoints" / "last.pt"))


class _AutoEncoder(torch.nn.Module):
    """A model that defines only a loss, like MAMP pre-training."""

    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Linear(3 * 25 * 2, 8)
        self.dec = torch.nn.Linear(8, 3 * 25 * 2)

    def forward(self, batch):
        x = batch["skeleton"].mean(2).flatten(1)
        return {"losses": {"mse": torch.nn.functional.mse_loss(self.dec(self.enc(x)), x)}}


def test_pretrain_task_uses_losses_only(tmp_path):
    cfg = load_config("baseline_skeleton", ["task=pretrain", "train.epochs=3", *SMALL])
    seed_everything(0)
    trainer = Trainer(cfg, _AutoEncoder(), build_datasets(cfg), tmp_path / "p")
    res = trainer.fit()
    assert set(res["test"]) == {"mse", "loss"}
    val = [m for m in read_metrics(tmp_path / "p") if m["split"] == "val"]
    assert len(val) == 3 and "top1" not in val[0]
    assert res["best"]["loss"] == min(m["loss"] for m in val)
    assert json.loads((tmp_path / "p" / "results.json").read_text())["test"]["loss"] > 0


def test_last_checkpoint_keeps_the_last_weights_after_the_test_loads_best(tmp_path):
    """The final test evaluates best.pt; last.pt must still be the end of training (what a
    user resumes or fine-tunes from), not the validation-selected weights."""
    over = ["train.epochs=4", "train.eval_every=1", "optim.lr=0.05", *SMALL]
    cfg = load_config("baseline_skeleton", over)
    seed_everything(cfg.train.seed)
    run = tmp_path / "r"
    trainer = Trainer(cfg, build_model(cfg), build_datasets(cfg), run)
    end = {}
    trainer.callbacks.append(lambda tr: end.update(
        step=tr.global_step, w={k: v.detach().clone() for k, v in tr.model.state_dict().items()}))
    trainer.fit()
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    assert best["epoch"] < last["epoch"], "precondition: the best epoch is not the last"
    assert last["global_step"] == end["step"]
    assert _same(last["model"], end["w"]) and not _same(best["model"], end["w"])


class _EpochAware(_AutoEncoder):
    """Records the epochs the trainer announces (DRSR's schedules and B-KinD's curriculum use it)."""

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[int, int]] = []

    def set_epoch(self, epoch: int, num_epochs: int) -> None:
        self.seen.append((epoch, num_epochs))


def test_set_epoch_is_called_before_every_epoch_and_after_resume(tmp_path):
    over = ["task=pretrain", "train.epochs=3", "train.ckpt_every=1", *SMALL]
    cfg = load_config("baseline_skeleton", over)
    seed_everything(0)
    model = _EpochAware()
    Trainer(cfg, model, build_datasets(cfg), tmp_path / "a").fit()
    assert model.seen == [(0, 3), (1, 3), (2, 3)]

    cfg5 = load_config("baseline_skeleton", [*over[:1], "train.epochs=5", *over[2:]])
    again = _EpochAware()
    trainer = Trainer(cfg5, again, build_datasets(cfg5), tmp_path / "a")
    trainer.resume(tmp_path / "a" / "checkpoints" / "last.pt")
    trainer.fit()
    assert again.seen == [(3, 5), (4, 5)], "a resumed run starts at the epoch it stopped"
