"""experiment/analyze.py: error consistency, bootstrap intervals, the exclusion rule, pairing
models with the same trials, and reading bmp-eval's per-clip predictions."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from motionscope.errors import ConfigError, DataError
from motionscope.experiment.analyze import (
    Trial,
    analyze_trials,
    apply_exclusion,
    bootstrap_ci,
    clip_key,
    condition_summary,
    error_consistency,
    read_model_predictions,
)


# ----------------------------------------------------------------------------- kappa
def test_kappa_identical_opposite_and_independent():
    h = [1, 1, 0, 0]
    assert error_consistency(h, h)["kappa"] == pytest.approx(1.0)
    assert error_consistency(h, [0, 0, 1, 1])["kappa"] == pytest.approx(-1.0)
    # same accuracies (0.5, 0.5), agreement exactly what chance predicts
    ec = error_consistency(h, [1, 0, 1, 0])
    assert ec["c_obs"] == pytest.approx(0.5) and ec["c_exp"] == pytest.approx(0.5)
    assert ec["kappa"] == pytest.approx(0.0)


def test_kappa_by_hand():
    # p_h = p_m = 0.6; agree on trials 1, 2, 4 -> c_obs 0.6; c_exp = .36 + .16 = .52
    ec = error_consistency([1, 1, 1, 0, 0], [1, 1, 0, 0, 1])
    assert ec["c_obs"] == pytest.approx(0.6)
    assert ec["c_exp"] == pytest.approx(0.52)
    assert ec["kappa"] == pytest.approx(0.08 / 0.48)


def test_kappa_beyond_accuracy_not_accuracy_itself():
    # two observers at 90 % agree on 82 % of trials by chance alone: kappa 0, not 0.82
    rng = np.random.default_rng(3)
    h = rng.random(200_000) < 0.9
    m = rng.random(200_000) < 0.9
    ec = error_consistency(h, m)
    assert ec["c_obs"] == pytest.approx(0.82, abs=0.005)
    assert abs(ec["kappa"]) < 0.02


def test_kappa_matches_cohen_on_binary_correctness():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for _ in range(5):
        h = rng.random(300) < rng.uniform(0.2, 0.9)
        m = np.where(rng.random(300) < 0.6, h, rng.random(300) < 0.5)
        ours = error_consistency(h, m)["kappa"]
        assert ours == pytest.approx(sklearn_metrics.cohen_kappa_score(h, m), abs=1e-12)


def test_kappa_undefined_when_accuracies_fix_agreement():
    assert error_consistency([1, 1, 1], [1, 1, 1])["kappa"] is None
    assert error_consistency([0, 0], [0, 0])["kappa"] is None
    assert error_consistency([], [])["kappa"] is None
    with pytest.raises(ValueError):
        error_consistency([1, 0], [1])


# ----------------------------------------------------------------------------- bootstrap
def _acc(x):
    return float(x.mean()) if x.size else None


def test_bootstrap_interval_covers_the_true_accuracy():
    """95 % intervals over participants cover the true mean in about 95 % of studies."""
    rng = np.random.default_rng(11)
    covered, studies = 0, 120
    for s in range(studies):
        # participants differ in ability (a beta around 0.7): the unit of sampling matters
        ability = rng.beta(7, 3, size=25)
        groups = [(rng.random(12) < a).astype(float) for a in ability]
        lo, hi = bootstrap_ci(groups, _acc, n_boot=400, seed=s)
        covered += lo <= 0.7 <= hi
    assert 0.88 <= covered / studies <= 1.0


def test_bootstrap_resamples_participants_not_trials():
    # half the participants always right, half always wrong: trial-level resampling would give
    # a narrow interval around 0.5; over 6 participants it must be wide
    groups = [np.ones(50), np.zeros(50)] * 3
    lo, hi = bootstrap_ci(groups, _acc, n_boot=2000, seed=0)
    assert lo <= 0.2 and hi >= 0.8
    # same data, deterministic for a seed
    assert bootstrap_ci(groups, _acc, n_boot=500, seed=4) == bootstrap_ci(groups, _acc, 500, 4)


def test_bootstrap_edge_cases():
    assert bootstrap_ci([], _acc) == (None, None)
    lo, hi = bootstrap_ci([np.ones(5)], _acc, n_boot=50)
    assert lo == hi == 1.0
    with pytest.raises(ValueError):
        bootstrap_ci([np.ones(3)], _acc, level=1.5)


# ----------------------------------------------------------------------------- exclusion
def _trials(pid: str, catch_right: int, catch_total: int = 4, tests=(("RGB", "a", 0, 0),),
            practice_wrong: bool = True) -> list[Trial]:
    out = [Trial(pid, 0, "practice", "RGB", "p0", 1, 2 if practice_wrong else 1)]
    for i in range(catch_total):
        out.append(Trial(pid, 1 + i, "catch", "catch", f"c{i}", 0, 0 if i < catch_right else 1))
    for j, (cond, vid, lab, resp) in enumerate(tests):
        out.append(Trial(pid, 10 + j, "test", cond, vid, lab, resp))
    return out


def test_exclusion_rule_catch_trials_and_completion():
    trials = (_trials("good", 4) + _trials("missed_one", 3) + _trials("unfinished", 4)
              + _trials("nocatch", 0, catch_total=0))
    completed = {"good": True, "missed_one": True, "unfinished": False, "nocatch": True,
                 "no_answers": True}
    rep = apply_exclusion(trials, completed)
    assert sorted(rep.kept) == ["good", "nocatch"]
    assert rep.excluded["missed_one"] == "catch trials 3/4 correct (needed 4)"
    assert rep.excluded["unfinished"] == "did not complete the session"
    assert rep.excluded["no_answers"] == "no test trials answered"
    assert rep.catch["missed_one"] == (3, 4)
    # a looser rule keeps 3 of 4; not requiring completion keeps the unfinished one
    rep2 = apply_exclusion(trials, completed, min_correct=3, require_complete=False)
    assert sorted(rep2.kept) == ["good", "missed_one", "nocatch", "unfinished"]
    d = rep.as_dict()
    assert d["participants"] == 5 and d["kept"] == 2 and d["excluded"] == 3
    with pytest.raises(ConfigError):
        apply_exclusion(trials, completed, min_correct=-1)


def test_excluded_participants_and_practice_and_catch_never_counted():
    # the excluded participant answered everything right; counting them would raise accuracy
    tests_a = [("RGB", f"v{i}", 0, 0 if i < 2 else 1) for i in range(4)]     # 2/4 right
    tests_b = [("RGB", f"v{i}", 0, 0) for i in range(4)]                       # 4/4 right
    trials = _trials("A", 4, tests=tests_a) + _trials("B", 2, tests=tests_b)
    res = analyze_trials(trials, {}, {"A": True, "B": True}, n_boot=100)
    (row,) = res["rows"]
    assert row["condition"] == "RGB" and row["trials"] == 4 and row["participants"] == 1
    assert row["human"] == pytest.approx(0.5)
    assert res["exclusion"].kept == ["A"] and not res["simulated"]


# ----------------------------------------------------------------------------- pairing with models
def test_models_are_scored_on_exactly_the_same_trials():
    rng = np.random.default_rng(5)
    trials, preds_m = [], {}
    for p in range(8):
        for i in range(10):
            vid = f"A0{i % 5}/clip{i}"
            lab = i % 5
            trials.append(Trial(f"P{p}", i, "test", "J-6P", vid, lab,
                                lab if rng.random() < 0.7 else (lab + 1) % 5))
    for i in range(10):
        preds_m[("J-6P", f"A0{i % 5}/clip{i}")] = i % 5 if i < 6 else (i + 1) % 5  # 6/10 right
    preds_m[("RGB", "A00/clip0")] = 3  # another condition: never paired with J-6P trials
    partial = {k: v for k, v in preds_m.items() if k[1] != "A04/clip9"}
    (row,) = condition_summary(trials, {"m": preds_m, "partial": partial}, n_boot=200)
    m = row["models"]["m"]
    assert m["trials"] == 80 and m["missing"] == 0
    assert m["acc"] == pytest.approx(0.6)
    hc = [t.correct for t in trials]
    mc = [preds_m[("J-6P", t.video)] == t.label for t in trials]
    assert m["kappa"] == pytest.approx(error_consistency(hc, mc)["kappa"])
    assert m["kappa_lo"] <= m["kappa"] <= m["kappa_hi"]
    assert row["human_lo"] <= row["human"] <= row["human_hi"]
    part = row["models"]["partial"]
    assert part["trials"] == 72 and part["missing"] == 8
    # the paper's numbers beside ours
    assert row["paper_human"] == pytest.approx(86.33) and row["paper_MP"] == pytest.approx(69.0)
    assert row["paper_best_baseline"] == "SlowFast"


def test_simulated_label():
    trials = _trials("SIMULATED-001", 4) + _trials("SIMULATED-002", 4)
    assert analyze_trials(trials, {}, None, n_boot=20)["simulated"]
    trials += _trials("real-person", 4)
    assert not analyze_trials(trials, {}, None, n_boot=20)["simulated"]


# ----------------------------------------------------------------------------- bmp-eval files
def _write_predictions(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "name", "label", "label_name", "pred", "pred_name", "prob", "correct",
                    "top5"])
        for i, (name, lab, pred) in enumerate(rows):
            w.writerow([i, name, lab, str(lab), pred, str(pred), "0.9", int(lab == pred), ""])


def test_read_bmp_eval_predictions(tmp_path):
    _write_predictions(tmp_path / "RGB" / "test_predictions.csv",
                       [("A008/S001C001P001R001A008_rgb.mp4", 0, 0), ("A009/x.mp4", 1, 0)])
    _write_predictions(tmp_path / "J-6P" / "test_predictions.csv", [("A008/y.mp4", 0, 1)])
    preds = read_model_predictions(tmp_path)
    assert preds == {("RGB", "A008/S001C001P001R001A008_rgb"): 0, ("RGB", "A009/x"): 0,
                     ("J-6P", "A008/y"): 1}
    assert read_model_predictions(tmp_path, ["J-6P"]) == {("J-6P", "A008/y"): 1}
    # a transcoded copy is the same clip
    assert clip_key("A008/x.webm") == clip_key("./A008/x.mp4") == "A008/x"
    bad = tmp_path / "bad"
    (bad / "RGB").mkdir(parents=True)
    (bad / "RGB" / "test_predictions.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="not a bmp-eval predictions file"):
        read_model_predictions(bad)


# ----------------------------------------------------------------------------- the command
def test_analyze_command_end_to_end(tiny_stimuli, tmp_path, capsys):
    """Simulated participants answer through the HTTP API; `motionscope experiment analyze`
    excludes the one who missed the catch trials, scores a model (bmp-eval predictions) on
    exactly their trials and labels the study SIMULATED."""
    import json

    from fastapi.testclient import TestClient

    from motionscope.experiment.app import build_app
    from motionscope.experiment.create import create_experiment
    from motionscope.experiment.simulate import accuracy_policy, simulate_participant, simulated_id
    from motionscope.testing import run_cli

    exp = tmp_path / "exp"
    create_experiment(tiny_stimuli, exp, participants=3, catch=2, practice=1, progress=False)
    plan = json.loads((exp / "plan.json").read_text())
    db = f"sqlite:///{tmp_path / 'a.db'}"
    app = build_app(exp, db)
    with TestClient(app) as client:
        for i, catch_acc in enumerate([1.0, 1.0, 1.0, 0.0]):
            simulate_participant(client, plan, accuracy_policy(0.7, plan["num_classes"], catch_acc),
                                 params={"participant": simulated_id(i)}, seed=i,
                                 fetch_videos=False)
    app.server.store.dispose()
    # a model that is right on every clip of class 0 and wrong elsewhere
    man = json.loads((tiny_stimuli / "stimuli.json").read_text())
    for cond, info in man["conditions"].items():
        rows = []
        for line in (tiny_stimuli / info["list"]).read_text().split():
            path, lab = line.rsplit(",", 1)
            rows.append((path, int(lab), 0))
        _write_predictions(tmp_path / "modelA" / cond / "test_predictions.csv", rows)
    out = tmp_path / "ana"
    code, text, err = run_cli(capsys, "experiment", "analyze", str(exp), "--runs",
                              str(tmp_path / "modelA"), "--out", str(out), "--db", db,
                              "--bootstrap", "200")
    assert code == 0, err
    assert "SIMULATED participants only" in text
    assert "excluded SIMULATED-0003: catch trials 0/2 correct" in text
    res = json.loads((out / "analysis.json").read_text())
    assert res["simulated"] and res["exclusion"]["kept"] == 3
    paired = list(csv.DictReader(open(out / "trials_paired.csv")))
    assert {r["participant"] for r in paired} == {simulated_id(i) for i in range(3)}
    assert len(paired) == 3 * plan["trials_per_participant"]
    for row in res["rows"]:
        mine = [r for r in paired if r["condition"] == row["condition"]]
        assert row["trials"] == len(mine)
        assert row["human"] == pytest.approx(np.mean([int(r["correct"]) for r in mine]))
        m = row["models"]["modelA"]
        assert m["trials"] == len(mine) and m["missing"] == 0
        assert m["acc"] == pytest.approx(np.mean([r["label"] == "0" for r in mine]))
    for name in ("analysis.csv", "analysis.md", "analysis.png", "exclusions.csv"):
        assert (out / name).stat().st_size > 0
    assert "SIMULATED" in (out / "analysis.md").read_text()


def test_simulated_study_over_loopback_only(tiny_stimuli, tmp_path):
    import json

    from motionscope.experiment.create import create_experiment
    from motionscope.experiment.simulate import LoopbackServer, check_loopback, simulate_study

    for bad in ("http://example.org:8000", "https://127.0.0.1:1", "http://10.0.0.1:80"):
        with pytest.raises(ValueError, match="only talk to a server on this machine"):
            check_loopback(bad)
    exp = tmp_path / "exp"
    create_experiment(tiny_stimuli, exp, participants=2, catch=2, practice=1, progress=False)
    plan = json.loads((exp / "plan.json").read_text())
    with LoopbackServer(exp, f"sqlite:///{tmp_path / 's.db'}") as srv:
        with pytest.raises(ValueError):
            simulate_study(srv.url, plan, 0)
        res = simulate_study(srv.url, plan, 3, 1.0, concurrency=2)
    assert [r["id"] for r in res] == ["SIMULATED-0001", "SIMULATED-0002", "SIMULATED-0003"]
    for r in res:  # accuracy 1.0: every answer is the planned label
        trials = plan["participants"][r["slot"]]["trials"]
        assert r["answers"] == {t["index"]: t["label"] for t in trials}
        assert r["completion"]["code"]
