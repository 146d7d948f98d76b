"""``test`` / ``predict`` on runs they cannot serve, and ``train.threads``."""

from __future__ import annotations

import pytest
import torch

from motionscope.cli import main
from motionscope.config import load_config, to_dict
from motionscope.engine.checkpoint import save_checkpoint
from motionscope.errors import ConfigError
from motionscope.tasks.runs import build_model, set_threads


def test_test_and_predict_on_a_pretraining_run_are_one_clear_error(tmp_path, capsys):
    cfg = load_config("baseline_skeleton", ["task=pretrain", "model.args.dim=16"])
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    save_checkpoint(ckpt, {"model": build_model(cfg).state_dict(), "config": to_dict(cfg),
                           "finished": True})
    arr = tmp_path / "x.npy"
    import numpy as np

    np.save(arr, np.zeros((3, 8, 25, 2), np.float32))
    for argv in (["test", str(tmp_path / "run")], ["predict", str(ckpt), str(arr)]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "pre-training run" in err[0] and "Traceback" not in err[0]


def test_threads_option_sets_the_thread_count():
    before = torch.get_num_threads()
    try:
        n = 2 if before == 1 else 1
        set_threads(load_config("baseline_skeleton", [f"train.threads={n}"]))
        assert torch.get_num_threads() == n
        with pytest.raises(ConfigError, match="train.threads"):
            set_threads(load_config("baseline_skeleton", ["train.threads=0"]))
    finally:
        torch.set_num_threads(before)


def test_label_outside_the_class_range_names_the_list_file_and_line(tmp_path):
    from motionscope.errors import DataError
    from motionscope.io.index import Sample
    from motionscope.tasks.runs import check_labels

    class Listed:
        labels = [0, 1, 12]
        names = ["a", "b", "c"]
        samples = [Sample("a", 1, 0, {"list": "train.txt", "line": 1}),
                   Sample("b", 1, 1, {"list": "train.txt", "line": 2}),
                   Sample("c", 1, 12, {"list": "train.txt", "line": 3})]

    with pytest.raises(DataError, match=r"train.txt: line 3: split 'train': sample 2 \(c\) has "
                                        r"label 12 outside the class range 0..9"):
        check_labels(Listed(), 10, "train")
