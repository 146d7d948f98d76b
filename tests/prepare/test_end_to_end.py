"""As a user types it: NTU-format world skeletons -> `motionscope prepare ntu --ntu120` ->
`motionscope train mamp_world_xsub_pretrain` -> `... mamp_world_xsub_linprobe` from that
checkpoint -> `motionscope predict` on a .skeleton file. Tiny step counts (CPU, seconds)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ntu_fakes import body, present, write

from motionscope.cli import main as cli_main
from motionscope.engine.checkpoint import load_checkpoint

WORLD_ACTIONS = (6, 7, 8, 9, 24, 27, 31, 35, 43, 97)  # the world's classes (NTU-120 ids)


def _world_like(root, frames=32):
    for k, a in enumerate(WORLD_ACTIONS):
        for p in (1, 2, 3):  # x-sub: performers 1, 2 train, 3 test
            j = body(frames, seed=100 * p + k, drift=0.1 * k, wave=0.02 * (k + 1))
            write(root / f"S001C001P{p:03d}R001A{a:03d}.skeleton", [(j, present(frames))],
                  frames)


@pytest.mark.slow
def test_prepare_pretrain_probe_predict(tmp_path, capsys):
    raw, data = tmp_path / "skeleton", tmp_path / "ntu"
    _world_like(raw)
    cli_main(["prepare", "ntu", "--ntu120", "--raw", str(raw), "--out", str(data),
              "--workers", "1"])
    assert "ntu120_xsub: 20 train / 10 test" in capsys.readouterr().out
    small = [f"data.root={data}", "data.batch_size=4", "data.eval_batch_size=10",
             "train.max_steps=3", "train.progress=false", "train.log_every=1"]
    pre_dir, lin_dir = tmp_path / "pre", tmp_path / "lin"
    cli_main(["train", "mamp_world_xsub_pretrain", *small, "data.test_split=null",
              "--run-dir", str(pre_dir)])
    losses = [json.loads(ln)["mse"] for ln in (pre_dir / "metrics.jsonl").read_text().splitlines()
              if '"train"' in ln]
    assert len(losses) == 3 and all(np.isfinite(losses))
    ckpt = pre_dir / "checkpoints" / "last.pt"
    cli_main(["train", "mamp_world_xsub_linprobe", *small, f"model.pretrained={ckpt}",
              "--run-dir", str(lin_dir)])
    out = capsys.readouterr().out
    assert "test: top1=" in out
    res = json.loads((lin_dir / "results.json").read_text())
    assert 0.0 <= res["test"]["top1"] <= 1.0
    # the probe's encoder is the pre-trained one, untouched (frozen): only the head trained
    pre = load_checkpoint(ckpt)["model"]
    lin = load_checkpoint(lin_dir / "checkpoints" / "last.pt")["model"]
    for k in ("pos_embed", "blocks.0.attn.qkv.weight", "norm.weight"):
        torch.testing.assert_close(lin[k], pre[k], rtol=0, atol=0)
    assert not torch.equal(lin["head.fc.1.weight"], torch.zeros_like(lin["head.fc.1.weight"]))
    classes = (lin_dir / "test_predictions.csv").read_text()
    assert "pickup" in classes or "throw" in classes
    cli_main(["predict", str(lin_dir), str(raw / "S001C001P003R001A027.skeleton"), "--json"])
    pred = json.loads(capsys.readouterr().out)
    assert len(pred["predictions"]) == 5
    assert {p["class"] for p in pred["predictions"]} <= {
        "pickup", "throw", "sitting down", "standing up (from sitting position)",
        "kicking something", "jump up", "pointing to something with finger", "nod head/bow",
        "falling", "arm circles"}
