from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from motionscope.engine.evaluate import classification_metrics, predict_loader, write_eval_outputs


def test_metrics_on_known_predictions():
    label = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    prob = np.zeros((8, 3))
    pred = [0, 1, 1, 1, 2, 2, 0, 0]
    prob[np.arange(8), pred] = 0.7
    prob[np.arange(8), (np.array(pred) + 1) % 3] = 0.2
    prob[np.arange(8), (np.array(pred) + 2) % 3] = 0.1
    m = classification_metrics(label, prob, 3, topk=(1, 2))
    assert m["top1"] == pytest.approx(5 / 8)
    assert m["mean_class_acc"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    assert m["confusion"].tolist() == [[1, 1, 0], [0, 2, 0], [2, 0, 2]]
    # top-2 adds the second choice (pred+1): sample 1 (pred 1 -> 2: no), sample 6,7 (0 -> 1: no)
    assert m["top2"] == pytest.approx(5 / 8)


def test_eval_outputs_written(tmp_path):
    label = np.array([0, 1, 1])
    prob = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    m = classification_metrics(label, prob, 2, topk=(1,))
    res = {"index": np.arange(3), "label": label, "prob": prob}
    paths = write_eval_outputs(tmp_path, res, m, ["walk", "run"], ["a", "b", "c"], "test")
    rows = list(csv.DictReader(open(paths["predictions"])))
    assert [r["pred_name"] for r in rows] == ["walk", "run", "walk"]
    assert [r["correct"] for r in rows] == ["1", "1", "0"]
    cm = list(csv.reader(open(paths["confusion_csv"])))
    assert cm[0] == ["true\\pred", "walk", "run"] and cm[2] == ["run", "1", "1"]
    assert paths["confusion_png"].stat().st_size > 1000
    assert paths["confusion_png"].read_bytes()[:4] == b"\x89PNG"


class _Views(torch.utils.data.Dataset):
    """Two views per sample; only their average picks the right class."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        v = torch.tensor([[3.0, 0.0], [0.0, 1.0]]) if i % 2 == 0 else torch.tensor([[0.0, 1.0], [0.0, 3.0]])
        return {"skeleton": v, "label": 0 if i % 2 == 0 else 1, "index": i}


class _Identity(torch.nn.Module):
    input_ndim = {"skeleton": 2}

    def forward(self, batch):
        return {"logits": batch["skeleton"]}


def test_multi_view_average():
    loader = DataLoader(_Views(), batch_size=2)
    res = predict_loader(_Identity(), loader, torch.device("cpu"), views=2, show_progress=False)
    assert res["prob"].argmax(1).tolist() == [0, 1, 0, 1]
    assert res["prob"].shape == (4, 2)


def test_official_checkpoint_with_pickled_args_reads(tmp_path):
    """MAE-style official files store argparse options beside the weights."""
    import argparse

    from motionscope.models.official import read_state_dict

    p = tmp_path / "checkpoint-399.pth"
    torch.save({"model": {"module.w": torch.ones(2)}, "args": argparse.Namespace(lr=1.0),
                "epoch": 399}, p)
    sd = read_state_dict(p)
    assert list(sd) == ["w"] and torch.equal(sd["w"], torch.ones(2))
