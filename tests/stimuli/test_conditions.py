"""The 24 BMP conditions, their frame-index rules, the view partition and the paper table."""

from __future__ import annotations

import numpy as np
import pytest

from motionscope.errors import ConfigError
from motionscope.stimuli.conditions import (
    CONDITION_NAMES,
    CONDITIONS,
    GROUPS,
    JOINT_SETS,
    PAPER_TOP1,
    SP_LIMBS,
    condition_indices,
    parse_conditions,
    replication_indices,
    sample_indices,
    view_of,
)

PAPER_NAMES = (
    "RGB RGB-R RGB-S RGB-4F RGB-3F J-26P J-18P J-14P J-10P J-6P J-5P J-6P-R J-6P-S J-6P-4F "
    "J-6P-3F J-6P-0V J-6P-45V J-6P-90V SP-4P-1LT SP-4P-2LT SP-4P-4LT SP-8P-1LT SP-8P-2LT "
    "SP-8P-4LT").split()


def test_the_24_conditions_in_table_order():
    assert list(CONDITION_NAMES) == PAPER_NAMES
    assert [c.name for c in parse_conditions("all")] == PAPER_NAMES
    assert sum(len(v) for v in GROUPS.values()) == 24
    assert set(GROUPS["LVI"]) == {n for n in PAPER_NAMES if n.startswith("SP")}
    sp = CONDITIONS["SP-4P-2LT"]
    assert (sp.kind, sp.limbs, sp.lifetime) == ("sp", 4, 2)
    assert CONDITIONS["J-6P-3F"].keep_frames == 3 and CONDITIONS["RGB-4F"].keep_frames == 4
    assert CONDITIONS["J-6P-45V"].view == 45 and CONDITIONS["J-6P-45V"].points == JOINT_SETS["J-6P"]


def test_parse_conditions_groups_names_and_errors():
    got = [c.name for c in parse_conditions("sp-8p-1lt, AVI ,J-6P")]
    assert got == ["J-26P", "J-18P", "J-14P", "J-10P", "J-6P", "J-5P", "SP-8P-1LT"]
    with pytest.raises(ConfigError, match="did you mean 'J-6P'"):
        parse_conditions("J-7P")
    with pytest.raises(ConfigError):
        parse_conditions(" , ")


def test_joint_sets_match_the_official_lists():
    sizes = {k: len(v) for k, v in JOINT_SETS.items()}
    assert sizes == {"J-5P": 5, "J-6P": 6, "J-10P": 10, "J-14P": 14, "J-18P": 18, "J-26P": 26}
    order = ["J-5P", "J-6P", "J-10P", "J-14P", "J-18P", "J-26P"]
    for small, big in zip(order, order[1:]):
        assert set(JOINT_SETS[small]) < set(JOINT_SETS[big])
    assert JOINT_SETS["J-5P"] == (0, 9, 10, 15, 16)  # nose, wrists, ankles
    assert set(JOINT_SETS["J-6P"]) - set(JOINT_SETS["J-5P"]) == {19}  # + pelvis
    assert len(SP_LIMBS) == 8 and {i for ab in SP_LIMBS for i in ab} == set(range(5, 17))


def test_replication_rule_for_short_clips():
    counts3 = np.bincount(replication_indices(3, 32))
    assert counts3.tolist() == [11, 11, 10]
    assert np.bincount(replication_indices(4, 32)).tolist() == [8, 8, 8, 8]
    idx = sample_indices(100, 32)
    assert len(idx) == 32 and idx[0] == 0 and idx[-1] < 100 and (np.diff(idx) > 0).all()
    assert np.array_equal(sample_indices(32, 32), np.arange(32))
    assert np.array_equal(sample_indices(7, None), np.arange(7))


def test_temporal_rules():
    T = 90
    base = sample_indices(T)
    assert np.array_equal(condition_indices("reverse", T), T - 1 - base)
    four = condition_indices(CONDITIONS["J-6P-4F"], T)
    three = condition_indices(CONDITIONS["RGB-3F"], T)
    assert four.tolist() == [0, 29, 59, 89] and three.tolist() == [0, 44, 89]
    a = condition_indices("shuffle", T, rng=np.random.default_rng(1))
    b = condition_indices("shuffle", T, rng=np.random.default_rng(1))
    c = condition_indices("shuffle", T, rng=np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert len(set(a.tolist())) == 32 and not (np.diff(a) > 0).all()
    with pytest.raises(ValueError, match="random generator"):
        condition_indices("shuffle", T)


def test_view_partition_matches_the_official_lists(shared_data):
    import re

    root = shared_data("point_light", "motion_perceiver_protocols")
    seen = set()
    for view in (0, 45, 90):
        lines = (root / f"test_6JOINTS_viewpoint_{view}.csv").read_text().split()
        assert lines
        for line in lines:
            m = re.search(r"(S\d{3}C(\d{3})P\d{3}R(\d{3})A\d{3})", line)
            assert view_of(int(m.group(2)), int(m.group(3))) == view, line
            seen.add(m.group(1))
    rgb = {re.search(r"S\d{3}C\d{3}P\d{3}R\d{3}A\d{3}", x).group(0)
           for x in (root / "test_RGB.csv").read_text().split()}
    assert seen == rgb and len(rgb) == 2848  # the three views partition the test set
    assert view_of(None, 1) is None


def test_paper_table():
    assert PAPER_TOP1["SP-8P-1LT"]["MP"] == 49.68 and PAPER_TOP1["SP-8P-1LT"]["SlowFast"] == 20.29
    assert PAPER_TOP1["J-6P"]["Human"] == 86.33 and PAPER_TOP1["J-14P"]["Human"] is None
    assert set(PAPER_TOP1) == set(PAPER_NAMES)
