"""``experiment export``: the CSV holds exactly the answers given; the CLI commands end to end."""

from __future__ import annotations

import csv
import json

import pytest
from fastapi.testclient import TestClient

from motionscope.experiment.app import build_app
from motionscope.experiment.create import create_experiment
from motionscope.experiment.export import PARTICIPANT_COLUMNS, TRIAL_COLUMNS, export_experiment
from motionscope.experiment.simulate import accuracy_policy, simulate_participant

from .conftest import motionscope_cli


@pytest.fixture(scope="module")
def exp(tiny_stimuli, tmp_path_factory):
    root = tmp_path_factory.mktemp("export") / "exp"
    create_experiment(tiny_stimuli, root, participants=2, seed=5, progress=False)
    return root


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_export_holds_exactly_the_answers_given(exp, tmp_path):
    url = f"sqlite:///{tmp_path / 'e.db'}"
    plan = json.loads((exp / "plan.json").read_text())
    app = build_app(exp, url)
    done = []
    with TestClient(app) as c:
        for i, (acc, catch) in enumerate([(1.0, 1.0), (0.0, 0.0)]):
            c.cookies.clear()
            done.append(simulate_participant(
                c, plan, accuracy_policy(acc, 4, catch_accuracy=catch), seed=i,
                params={"participant": f"P{i}"}, questionnaire={"age": str(30 + i)}))
    app.server.store.dispose()
    files = export_experiment(exp, tmp_path / "out", db_url=url)
    trials = _rows(files["trials"])
    assert list(trials[0]) == TRIAL_COLUMNS
    per = plan["trials_per_participant"] + plan["catch"] + plan["practice"]
    assert len(trials) == 2 * per
    for d, pid in zip(done, ("P0", "P1")):
        mine = [r for r in trials if r["external_id"] == pid]
        assert {int(r["trial_index"]): int(r["response"]) for r in mine} == d["answers"]
        for r in mine:
            planned = plan["participants"][int(r["slot"])]["trials"][int(r["trial_index"])]
            assert (r["kind"], r["condition"], r["video"], int(r["label"])) == (
                planned["kind"], planned["condition"], planned["video"], planned["label"])
            assert r["correct"] == str(int(int(r["response"]) == int(r["label"])))
            assert r["is_practice"] == str(int(r["kind"] == "practice"))
            assert r["is_catch"] == str(int(r["kind"] == "catch"))
            assert float(r["rt_start_ms"]) > float(r["rt_end_ms"]) > 0
            assert r["video_ended"] == "1" and r["answered_at"].endswith("+00:00")
    p0 = [r for r in trials if r["external_id"] == "P0" and r["kind"] == "test"]
    assert all(r["correct"] == "1" for r in p0)
    parts = _rows(files["participants"])
    assert list(parts[0]) == PARTICIPANT_COLUMNS
    assert [(p["external_id"], p["excluded"], p["catch_correct"]) for p in parts] == [
        ("P0", "0", "4"), ("P1", "1", "0")]  # all catch trials wrong: excluded, as in the paper
    q = _rows(files["questionnaire"])
    assert [(r["external_id"], r["age"], r["strategy"]) for r in q] == [("P0", "30", ""),
                                                                       ("P1", "31", "")]


def test_cli_create_status_export(tiny_stimuli, tmp_path, capsys):
    exp = tmp_path / "exp"
    motionscope_cli("experiment", "create", "--stimuli", str(tiny_stimuli), "--out", str(exp),
                    "--conditions", "J-6P,SP-8P-1LT", "--participants", "2", "--catch", "0",
                    "--practice", "1", "--seed", "3")
    out = capsys.readouterr().out
    assert "experiment written" in out and "2 plan slots" in out
    motionscope_cli("experiment", "status", str(exp))
    assert "started      0" in capsys.readouterr().out
    motionscope_cli("experiment", "export", str(exp), "--out", str(tmp_path / "csv"))
    assert _rows(tmp_path / "csv" / "trials.csv") == []
    assert (exp / "experiment.db").is_file()  # the default SQLite file


def test_cli_errors_are_one_line(tmp_path, capsys):
    from motionscope.cli import main

    with pytest.raises(SystemExit) as e:
        main(["experiment", "serve", str(tmp_path / "none")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "no such experiment folder" in err and "Traceback" not in err
