"""Split assignment on the whole NTU RGB+D 120 name set: the official counts of specs/mamp.md
section 6 (computed there from the official statistics files).

The NTU name set is a full product per setup: every listed performer of a setup performs every
action of the setup (A001-A060 in setups 1-17, A061-A120 in 18-32), twice (R001/R002), filmed
by cameras 1-3. The performers of each setup, below, are read off the official
``skes_available_name.txt`` + missing list (114,480 names in all).
"""

from __future__ import annotations

import pytest

from motionscope.prepare.ntu import benchmark_order
from motionscope.prepare.ntu_missing import NTU60_MISSING, NTU120_MISSING

SETUP_PERFORMERS = {
    1: (1, 2, 3, 4, 5, 6, 7, 8), 2: (3, 7, 8, 9, 10, 11, 12, 13, 14),
    3: (1, 2, 7, 8, 15, 16, 17, 18, 19), 4: (3, 7, 8, 20), 5: (4, 10, 13, 15, 16, 17, 18, 21),
    6: (1, 7, 8, 15, 16, 17, 19, 22, 23, 24), 7: (1, 7, 8, 15, 16, 17, 18, 19, 25, 26, 27, 28),
    8: (1, 7, 8, 15, 19, 25, 29, 30, 31, 32, 33, 34, 35, 36), 9: (7, 8, 15, 16, 17, 19, 25),
    10: (7, 8, 13, 15, 16, 17, 18, 19, 21, 25),
    11: (1, 2, 7, 8, 15, 16, 17, 18, 19, 25, 27, 28, 38),
    12: (7, 8, 15, 16, 17, 18, 19, 25, 27, 28, 37), 13: (7, 8, 15, 16, 17, 18, 19, 25, 27, 28, 37),
    14: (7, 8, 15, 17, 19, 25, 27, 37, 39), 15: (7, 8, 15, 16, 17, 19, 25, 37),
    16: (7, 8, 19, 21, 25, 39, 40), 17: (3, 7, 8, 9, 15, 16, 17, 20),
    18: (8, 41, 42, 43, 44, 45), 19: (8, 41, 42, 46, 47, 48, 49, 50, 51),
    20: (8, 41, 43, 44, 52, 53, 54), 21: (55, 56, 57, 58, 59, 60),
    22: (61, 62, 63, 64, 65, 66, 67), 23: tuple(range(55, 69)),
    24: (57, 60, 61, 62, 63, 64, 67), 25: (55, 56, 58, 59, 65, 66, 68),
    26: (8, 41, 44, 49, 50, 51, 69, 70, 71, 72, 74, 75, 76, 77),
    27: (6, 8, 11, 41, 43, 44, 78, 79, 80, 81, 82, 83, 84, 85, 86),
    28: (8, 41, 42, 43, 46, 48, 70, 73, 87),
    29: (6, 8, 41, 43, 44, 48, 49, 51, 67, 74, 75, 80, 88, 89, 90),
    30: (8, 11, 41, 43, 44, 48, 67, 75, 76, 81, 85, 88, 91, 92, 93, 94, 95, 96),
    31: (6, 8, 41, 42, 43, 44, 51, 67, 82, 85, 96, 97, 98, 99, 100, 101),
    32: (8, 41, 43, 44, 67, 102, 103, 104, 105, 106),
}

# specs/mamp.md section 6: benchmark -> (#train, #test)
OFFICIAL_COUNTS = {
    "ntu60_xsub": (40091, 16487), "ntu60_xview": (37646, 18932),
    "ntu120_xsub": (63026, 50919), "ntu120_xset": (54468, 59477),
}


def _all_names() -> list[str]:
    out = []
    for s, perfs in SETUP_PERFORMERS.items():
        actions = range(1, 61) if s <= 17 else range(61, 121)
        out += [f"S{s:03d}C{c:03d}P{p:03d}R{r:03d}A{a:03d}"
                for p in perfs for c in (1, 2, 3) for r in (1, 2) for a in actions]
    return sorted(out)


@pytest.fixture(scope="module")
def names():
    allnames = _all_names()
    assert len(allnames) == 114480
    assert NTU120_MISSING <= set(allnames)
    ntu60 = [n for n in allnames if int(n[1:4]) <= 17 and n not in NTU60_MISSING]
    ntu120 = [n for n in allnames if n not in NTU120_MISSING]
    assert (len(ntu60), len(ntu120)) == (56578, 113945)  # spec section 3
    return {"ntu60": ntu60, "ntu120": ntu120}


@pytest.mark.parametrize("bench", sorted(OFFICIAL_COUNTS))
def test_split_counts_equal_the_official_ones(names, bench):
    train, test = benchmark_order(names[bench.split("_")[0]], bench)
    assert (len(train), len(test)) == OFFICIAL_COUNTS[bench]
    assert not set(train) & set(test)


def test_order_is_grouped_by_split_id_in_list_order(names):
    train, test = benchmark_order(names["ntu60"], "ntu60_xview")
    cams = [int(n[5:8]) for n in train]
    assert cams == sorted(cams) and set(cams) == {2, 3}
    assert train[:3] == sorted(n for n in names["ntu60"] if n[5:8] == "002")[:3]
    train, _ = benchmark_order(names["ntu120"], "ntu120_xsub")
    perf = [int(n[9:12]) for n in train]
    assert perf[0] == 1 and perf[-1] == 103 and perf == sorted(perf)
