"""torchrun + DDP (gloo on CPU) gives the same model as one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from motionscope.engine.checkpoint import load_checkpoint

COMMON = ["train.epochs=2", "data.args.num_samples=64", "model.args.dim=16", "train.progress=false",
          "train.tensorboard=false", "optim.weight_decay=0.0", "optim.name=sgd", "optim.lr=0.05"]
# SGD: Adam divides by sqrt(v), which turns float noise in exactly-zero gradients (the attention
# key bias) into full-size steps, so only a linear optimiser can be compared tightly.


@pytest.mark.slow
def test_ddp_two_processes_match_single_process(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MOTIONSCOPE_NO_PROGRESS": "1"}
    single = tmp_path / "single"
    subprocess.run([sys.executable, "-m", "motionscope", "train", "baseline_skeleton", *COMMON,
                    "data.batch_size=16", "--run-dir", str(single)], check=True, env=env,
                   capture_output=True)
    ddp = tmp_path / "ddp"
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", "29531", "-m", "motionscope", "train", "baseline_skeleton",
                          *COMMON, "data.batch_size=8", "--run-dir", str(ddp)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    a = load_checkpoint(single / "checkpoints" / "last.pt")
    b = load_checkpoint(ddp / "checkpoints" / "last.pt")
    assert a["global_step"] == b["global_step"] == 8
    assert b["world_size"] == 2 and len(b["rng"]) == 2
    for k in a["model"]:
        assert torch.allclose(a["model"][k], b["model"][k], atol=1e-5), k
    # metrics were reduced over both ranks: the test split was evaluated exactly once per sample
    rows = (ddp / "test_predictions.csv").read_text().splitlines()[1:]
    assert len(rows) == 16
    assert Path(ddp / "results.json").is_file()
