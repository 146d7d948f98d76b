"""The trial plan: balanced within a participant, Latin square across participants, seeded."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motionscope.errors import ConfigError
from motionscope.experiment.plan import Video, default_trials, make_plan, slots_of


def _videos(conds, n_classes, n_per_class):
    return [Video(f"{c}|{k}|{i}", c, k, f"s{k}_{i}") for c in conds for k in range(n_classes)
            for i in range(n_per_class)]


def _extras(n_practice, n_catch):
    prac = [Video(f"prac{i}", "C0", i % 2, f"p{i}") for i in range(n_practice)]
    catch = [Video(f"catch{i}", "RGB", 2 + i % 2, f"c{i}") for i in range(n_catch)]
    return prac, catch


def _main(trials):
    return [t for t in trials if t["kind"] == "test"]


designs = st.tuples(st.integers(1, 4), st.integers(2, 5), st.integers(1, 7), st.integers(1, 9),
                    st.integers(0, 4), st.integers(0, 3), st.integers(0, 2**31 - 1))


@settings(max_examples=60, deadline=None)
@given(designs, st.data())
def test_plan_properties(design, data):
    C, K, n, P, n_catch, n_prac, seed = design
    conds = [f"C{j}" for j in range(C)]
    vids = _videos(conds, K, n)
    full = default_trials(vids, slots_of(conds))
    T = data.draw(st.sampled_from([None, full, max(1, full // 2), min(full + K, C * K * n)]),
                  label="trials")
    prac, catch = _extras(n_prac, n_catch)
    plan = make_plan(vids, conds, max(K, 4), participants=P, trials_per_participant=T, seed=seed,
                     practice=prac, catch=catch)
    total = full if T is None else T
    cells = C * K
    counts_all = Counter()
    for part in plan["participants"]:
        trials = part["trials"]
        assert [t["index"] for t in trials] == list(range(len(trials)))
        # practice first, then the main block; catch trials inside it, never counted
        assert [t["kind"] for t in trials[:n_prac]] == ["practice"] * n_prac
        assert sum(t["kind"] == "catch" for t in trials) == n_catch
        assert all(t["kind"] != "practice" for t in trials[n_prac:])
        if n_catch:
            assert trials[n_prac]["kind"] == "test"  # the main block never opens on a catch
        main = _main(trials)
        assert len(main) == total
        # no video twice for one participant
        assert len({t["video"] for t in main}) == len(main)
        # conditions x classes balanced within the participant (exactly, or within one)
        cell = Counter((t["condition"], t["label"]) for t in main)
        sizes = [cell.get((c, k), 0) for c in conds for k in range(K)]
        assert max(sizes) - min(sizes) <= (0 if total % cells == 0 else 1)
        # a source clip in one condition only whenever the plan allows it
        if total <= full and n >= C:
            samples = Counter(v.split("|")[1] + "|" + v.split("|")[2] for v in
                              (t["video"] for t in main))
            assert max(samples.values()) == 1
        # buttons: a permutation of the classes on every trial
        assert all(sorted(t["buttons"]) == list(range(max(K, 4))) for t in trials)
        counts_all.update(t["video"] for t in main)
    assert sum(plan["exposures"].values()) == P * total
    assert plan["exposures"] == {v.id: counts_all.get(v.id, 0) for v in vids}


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(2, 4), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 1000))
def test_videos_are_shown_equally_often_across_a_latin_square(C, K, per_residue, m_div, blocks, seed):
    """n clips per class a multiple of C, whole blocks of C participants, every cell the same
    size: every video is shown the same number of times, give or take one."""
    n = C * per_residue
    conds = [f"C{j}" for j in range(C)]
    vids = _videos(conds, K, n)
    m = max(1, per_residue // m_div)
    plan = make_plan(vids, conds, K, participants=C * blocks, trials_per_participant=m * C * K,
                     seed=seed)
    counts = list(plan["exposures"].values())
    assert len(counts) == len(vids)
    assert max(counts) - min(counts) <= 1
    if m == per_residue:  # every block shows every video exactly once
        assert set(counts) == {blocks}


def test_plan_is_reproducible_and_seeded():
    conds = ["A", "B", "C"]
    vids = _videos(conds, 4, 6)
    prac, catch = _extras(2, 4)
    kw = dict(participants=5, seed=3, practice=prac, catch=catch)
    a = make_plan(vids, conds, 4, **kw)
    b = make_plan(list(reversed(vids)), conds, 4, **kw)  # input order does not matter
    assert a == b
    c = make_plan(vids, conds, 4, **{**kw, "seed": 4})
    assert a["participants"] != c["participants"]
    # participants differ from each other (order, buttons, videos)
    assert a["participants"][0]["trials"] != a["participants"][1]["trials"]


def test_camera_views_share_one_latin_square_slot():
    views = {"J-6P-0V": 0, "J-6P-45V": 45, "RGB": None}
    conds = ["RGB", "J-6P-0V", "J-6P-45V"]
    assert slots_of(conds, views) == [["RGB"], ["J-6P-0V", "J-6P-45V"]]
    vids = []
    for k in range(3):
        for i in range(4):
            s = f"s{k}_{i}"
            vids.append(Video(f"RGB|{s}", "RGB", k, s))
            view = "J-6P-0V" if i % 2 else "J-6P-45V"  # each clip exists in one view only
            vids.append(Video(f"{view}|{s}", view, k, s))
    plan = make_plan(vids, conds, 3, participants=4, seed=0, views=views)
    assert plan["trials_per_participant"] == 2 * 3 * 2
    for part in plan["participants"]:
        main = _main(part["trials"])
        rgb = sum(t["condition"] == "RGB" for t in main)
        assert rgb == len(main) // 2
        assert {t["condition"] for t in main} <= set(conds)
        assert len({t["video"].split("|")[1] for t in main}) == len(main)  # each clip once


def test_clips_missing_from_a_condition_are_left_out():
    conds = ["A", "B"]
    vids = [v for v in _videos(conds, 2, 4) if not (v.condition == "B" and v.sample == "s0_0")]
    plan = make_plan(vids, conds, 2, participants=2, seed=0)
    assert plan["dropped_samples"] == ["s0_0"]
    used = {t["video"] for p in plan["participants"] for t in p["trials"]}
    assert not any("s0_0" in v or "|0|0" in v for v in used)


@pytest.mark.parametrize("kw, match", [
    ({"participants": 0}, "participants"),
    ({"participants": 1, "trials_per_participant": 0}, "too few"),
    ({"participants": 1, "trials_per_participant": 100}, "clips exist"),
])
def test_bad_plans_are_one_clear_error(kw, match):
    conds = ["A", "B"]
    with pytest.raises(ConfigError, match=match):
        make_plan(_videos(conds, 2, 2), conds, 2, **kw)


def test_no_condition_or_no_common_clip():
    with pytest.raises(ConfigError, match="no condition"):
        make_plan(_videos(["A"], 2, 2), [], 2, participants=1)
    with pytest.raises(ConfigError, match="every selected condition"):
        make_plan(_videos(["A"], 2, 2), ["A", "Z"], 2, participants=1)
