"""The trial plan: what each participant sees, in which order, with which button order.

Design (docs/psychophysics.md, "Creating an experiment"):

* **Within a participant** every (condition, class) cell gets the same number of trials (when the
  trial count is not a multiple of the number of cells, cells differ by at most one, the extra
  trials rotating over participants), no video is shown twice, and a source clip (the action
  sample a video was rendered from) is shown in one condition only whenever the plan allows it
  (always with the default trial count).
* **Across participants** videos are assigned to conditions by a Latin square: for class ``k``
  with source clips ``s_0..s_{n-1}`` (a seeded order), participant ``p`` sees clip ``s_i`` in
  condition ``(i + p) mod C``. So every block of ``C`` participants sees each clip once in every
  condition, and successive blocks rotate through the clips of a cell, so each video is shown
  about equally often.
* Camera-view conditions (``J-6P-0V/45V/90V``) partition one set of clips by camera; selected
  together they form one Latin-square slot, and a trial's condition is the view of its clip.
* Catch and practice trials are extra: practice first (with feedback), catch trials spread over
  the main block (one at a random place in each of ``catch`` equal parts); neither is counted in
  the balance.

Everything is drawn from ``numpy`` generators keyed by (seed, slot, purpose): the same inputs give
the same plan, byte for byte.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = ["Video", "make_plan", "slots_of", "default_trials", "PLAN_FORMAT"]

PLAN_FORMAT = "motionscope-experiment-plan"
_PURPOSE = {"order": 1, "buttons": 2, "catch": 3, "samples": 4, "extra": 5}


@dataclass(frozen=True)
class Video:
    """One playable clip of the experiment folder."""

    id: str         # opaque id (also its file name under videos/)
    condition: str  # BMP condition name (or "catch")
    label: int      # true class index
    sample: str     # source clip it was rendered from (same in every condition)


def slots_of(conditions: Sequence[str], views: dict[str, object] | None = None) -> list[list[str]]:
    """Latin-square slots: one per condition, the camera-view conditions (``views[name]`` not
    None) together in one slot when more than one is selected."""
    views = views or {}
    view_conds = [c for c in conditions if views.get(c) is not None]
    slots, merged = [], False
    for c in conditions:
        if c in view_conds and len(view_conds) > 1:
            if not merged:
                slots.append(list(view_conds))
                merged = True
        else:
            slots.append([c])
    return slots


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, *key])


def _pools(videos: Sequence[Video], slots: list[list[str]]
           ) -> tuple[dict[int, list[str]], dict[tuple[int, str, int], str], list[str]]:
    """Per class, the source clips present in every slot; ``(slot, sample, class) -> video``;
    the clips dropped because some slot lacks them."""
    where: dict[tuple[int, str, int], str] = {}
    slot_of = {c: j for j, conds in enumerate(slots) for c in conds}
    samples: dict[int, set[str]] = defaultdict(set)
    for v in videos:
        j = slot_of.get(v.condition)
        if j is None:
            continue
        where.setdefault((j, v.sample, v.label), v.id)
        samples[v.label].add(v.sample)
    pools, dropped = {}, []
    for k in sorted(samples):
        full = sorted(s for s in samples[k] if all((j, s, k) in where for j in range(len(slots))))
        dropped += sorted(samples[k] - set(full))
        if full:
            pools[k] = full
    return pools, where, dropped


def default_trials(videos: Sequence[Video], slots: list[list[str]]) -> int:
    """The largest balanced trial count with every source clip shown at most once per
    participant: slots x classes x floor(min clips per class / slots); one trial per cell (some
    clips then shown in two conditions, never a video twice) when a class has fewer clips than
    there are slots."""
    pools, _, _ = _pools(videos, slots)
    if not pools:
        return 0
    per_cell = max(1, min(len(p) for p in pools.values()) // len(slots))
    return per_cell * len(slots) * len(pools)


def _cell_counts(n_cells: int, total: int, slot: int, order: np.ndarray) -> np.ndarray:
    base, extra = divmod(total, n_cells)
    counts = np.full(n_cells, base, dtype=np.int64)
    if extra:
        start = (slot * extra) % n_cells  # the extra trials rotate over participants
        counts[order[(start + np.arange(extra)) % n_cells]] += 1
    return counts


def _participant_trials(p: int, pools: dict[int, list[str]], where: dict, n_slots: int,
                        total: int, seed: int) -> list[str]:
    """The main-block video ids of participant ``p`` (unordered)."""
    classes = sorted(pools)
    cells = [(j, k) for k in classes for j in range(n_slots)]
    order = _rng(seed, _PURPOSE["extra"]).permutation(len(cells))
    counts = _cell_counts(len(cells), total, p, order)
    chosen: list[str] = []
    for (j, k), m in zip(cells, counts):
        clips = pools[k]
        n = len(clips)
        got, r = [], 0
        # round r of the Latin square: clip i goes to slot (i + p + r) mod C; round 0 shows every
        # clip once, later rounds (only when a cell needs more) show clips in another slot
        while len(got) < m and r < n_slots:
            residue = [i for i in range(n) if (i + p + r) % n_slots == j]
            if residue:
                off = ((p // n_slots) * int(m)) % len(residue)  # next block: next clips
                take = min(int(m) - len(got), len(residue))
                got += [residue[(off + t) % len(residue)] for t in range(take)]
            r += 1
        if len(got) < m:
            raise ConfigError(f"class {k}: {m} trials per condition asked but only {n} clips "
                              f"exist in every condition; lower trials_per_participant")
        chosen += [where[(j, clips[i], k)] for i in got]
    return chosen


def _spread_catch(n_main: int, n_catch: int, rng: np.random.Generator) -> list[int]:
    """Positions (in the final main block of n_main + n_catch) of the catch trials: one at a
    random place in each of ``n_catch`` equal parts, never first."""
    total = n_main + n_catch
    bounds = np.linspace(0, total, n_catch + 1)
    pos = []
    for c in range(n_catch):
        lo = max(int(np.ceil(bounds[c])), 1 if c == 0 else 0)
        hi = max(lo, int(np.floor(bounds[c + 1])) - 1)
        pos.append(int(rng.integers(lo, hi + 1)))
    return sorted(set(pos)) if len(set(pos)) == n_catch else list(range(1, n_catch + 1))


def make_plan(videos: Sequence[Video], conditions: Sequence[str], num_classes: int, *,
              participants: int, trials_per_participant: int | None = None, seed: int = 0,
              practice: Sequence[Video] = (), catch: Sequence[Video] = (),
              views: dict[str, object] | None = None) -> dict:
    """The plan of ``participants`` slots (see the module docstring) as a JSON-able dict:
    ``{"participants": [{"slot", "trials": [{"index", "kind", "condition", "video", "label",
    "buttons"}]}], "exposures": {video: count}, ...}``."""
    if participants < 1:
        raise ConfigError(f"participants must be >= 1, got {participants}")
    if num_classes < 2:
        raise ConfigError(f"a forced choice needs at least 2 classes, got {num_classes}")
    conditions = list(conditions)
    if not conditions:
        raise ConfigError("no condition selected")
    slots = slots_of(conditions, views)
    by_id = {v.id: v for v in [*videos, *practice, *catch]}
    # a seeded order of the clips of each class (the Latin square's rows)
    pools, where, dropped = _pools(videos, slots)
    rs = _rng(seed, _PURPOSE["samples"])
    pools = {k: [p[i] for i in rs.permutation(len(p))] for k, p in pools.items()}
    if not pools:
        raise ConfigError("no source clip is present in every selected condition ("
                          + ", ".join(conditions) + ")")
    full = default_trials(videos, slots)
    total = full if trials_per_participant is None else int(trials_per_participant)
    if total < 1:
        raise ConfigError(f"too few clips for a balanced plan over {len(slots)} conditions: each "
                          f"class needs at least {len(slots)} clips present in every condition "
                          "(or set trials_per_participant)")
    out = []
    exposures: dict[str, int] = defaultdict(int)
    for p in range(int(participants)):
        main = _participant_trials(p, pools, where, len(slots), total, seed)
        if len(set(main)) != len(main):  # the Latin square never repeats a video
            raise AssertionError("plan repeats a video")
        order = _rng(seed, _PURPOSE["order"], p).permutation(len(main))
        main = [main[i] for i in order]
        rc = _rng(seed, _PURPOSE["catch"], p)
        cat = [catch[i].id for i in rc.permutation(len(catch))]
        block: list[tuple[str, str]] = [("test", v) for v in main]
        for pos, vid in zip(_spread_catch(len(main), len(cat), rc), cat):
            block.insert(pos, ("catch", vid))
        seq = [("practice", v.id) for v in practice] + block
        rb = _rng(seed, _PURPOSE["buttons"], p)
        trials = []
        for i, (kind, vid) in enumerate(seq):
            v = by_id[vid]
            trials.append({"index": i, "kind": kind, "condition": v.condition, "video": vid,
                           "label": int(v.label),
                           "buttons": [int(b) for b in rb.permutation(num_classes)]})
            if kind == "test":
                exposures[vid] += 1
        out.append({"slot": p, "trials": trials})
    return {
        "format": PLAN_FORMAT, "version": 1, "seed": int(seed), "conditions": conditions,
        "slots": slots, "num_classes": int(num_classes), "trials_per_participant": total,
        "balanced_trials_per_participant": full, "practice": len(practice), "catch": len(catch),
        "participants": out, "dropped_samples": dropped,
        "exposures": {v.id: exposures.get(v.id, 0) for v in videos if v.condition in
                      {c for s in slots for c in s} and v.sample in pools.get(v.label, ())},
    }
