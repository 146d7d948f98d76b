"""The 24 BMP conditions, their frame-index rules and the paper's numbers (no torch).

Every condition is a rendering (RGB, joint dots, or sequential-position dots) plus a rule that
picks which source frames, in which order, make the clip. Writing each temporal manipulation
as an index rule over the *source* frames reproduces the official order of operations: the
official scripts reverse / shuffle / keep 4 or 3 frames of the full-length rendered video, and
the loader then samples 32 frames from what it gets (specs/mp.md 11, 13.7).

Index rules (T = frames of the source that can be shown, ``n`` = clip length, 32):

* base: ``floor(linspace(0, T, n, endpoint=False))`` -- the official test-time rule for clips
  that are not 32 frames long (specs/mp.md 11, "Clips shorter than 32 frames"); used here for
  down-sampling too, because the script that wrote the official 32-frame betons is not public.
  For ``T < n`` it replicates frames (3 -> 11, 11, 10 copies; 4 -> 8 each).
* reverse: the base rule applied to the reversed video: ``T - 1 - base``.
* shuffle: the base rule applied to a seeded permutation of the video (official: unseeded
  ``np.random.shuffle`` of the full video).
* 4 / 3 frames: ``int(linspace(0, T - 1, k))`` (first and last frame always kept), written as
  a k-frame clip at ``fps * k / T`` (duration kept), as the official scripts do; the loader
  replicates it to 32 frames with :func:`replication_indices`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = [
    "Condition", "CONDITIONS", "CONDITION_NAMES", "GROUPS", "GROUP_TITLES", "JOINT_SETS",
    "SP_LIMBS", "SP_ENDPOINTS", "VIEW_PAIRS", "BMP_ACTIONS", "PAPER_TOP1", "PAPER_MODELS",
    "PAPER_BASELINES", "get_condition", "parse_conditions", "view_of", "sample_indices",
    "replication_indices", "condition_indices", "CLIP_FRAMES",
]

#: frames per clip the MP architecture needs (time embedding (1, 32, 768))
CLIP_FRAMES = 32

#: the 10 NTU RGB+D 120 actions of BMP, in label order (label id = index)
BMP_ACTIONS = (6, 7, 8, 9, 24, 27, 31, 35, 43, 97)

#: Halpe-26 point subsets of the joint conditions, in the official list order (JOINTS/vis.py)
JOINT_SETS: dict[str, tuple[int, ...]] = {
    "J-5P": (0, 9, 10, 15, 16),
    "J-6P": (0, 9, 10, 19, 15, 16),
    "J-10P": (0, 9, 10, 19, 15, 16, 5, 6, 11, 12),
    "J-14P": (0, 9, 10, 19, 15, 16, 5, 6, 11, 12, 7, 8, 13, 14),
    "J-18P": (0, 9, 10, 19, 15, 16, 5, 6, 11, 12, 7, 8, 13, 14, 3, 4, 17, 18),
    "J-26P": tuple(range(26)),
}
#: the 8 limb segments of the SP stimuli (upper arms, forearms, thighs, shins; SP/vis.py)
SP_LIMBS: tuple[tuple[int, int], ...] = (
    (5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (12, 14), (13, 15), (14, 16))
#: keypoints the SP renderer reads (only these must pass the visibility threshold)
SP_ENDPOINTS = tuple(range(5, 17))
#: BMP camera-view partition of J-6P by NTU (camera, replication), specs/mp.md 13.8
VIEW_PAIRS: dict[int, tuple[tuple[int, int], ...]] = {
    0: ((2, 2), (3, 1)),
    45: ((1, 1), (1, 2)),
    90: ((2, 1), (3, 2)),
}


@dataclass(frozen=True)
class Condition:
    """One BMP condition: what is drawn (``kind``), which points, and which frame rule.

    ``kind``: ``rgb`` (the source video), ``joints`` (a dot on each point of ``points``) or
    ``sp`` (``limbs`` dots at random positions along limb segments, redrawn every
    ``lifetime`` frames). ``temporal``: None, ``reverse``, ``shuffle``, ``4frames``,
    ``3frames``. ``view``: 0 / 45 / 90 keeps only the samples of that camera view.
    """

    name: str
    group: str
    kind: str
    points: tuple[int, ...] = ()
    limbs: int = 0
    lifetime: int = 1
    temporal: str | None = None
    view: int | None = None

    @property
    def keep_frames(self) -> int | None:
        """3 or 4 for the temporal-resolution conditions, else None."""
        return {"4frames": 4, "3frames": 3}.get(self.temporal or "")

    @property
    def output_prefix(self) -> str:
        """File-name prefix of the official stimuli: AlphaPose rendered the J and SP videos."""
        return "" if self.kind == "rgb" else "AlphaPose_"


def _build() -> dict[str, Condition]:
    c: list[Condition] = [Condition("RGB", "RGB", "rgb")]
    c += [Condition("RGB-R", "TO", "rgb", temporal="reverse"),
          Condition("RGB-S", "TO", "rgb", temporal="shuffle"),
          Condition("RGB-4F", "TR", "rgb", temporal="4frames"),
          Condition("RGB-3F", "TR", "rgb", temporal="3frames")]
    for n in ("J-26P", "J-18P", "J-14P", "J-10P", "J-6P", "J-5P"):
        c.append(Condition(n, "AVI", "joints", JOINT_SETS[n]))
    six = JOINT_SETS["J-6P"]
    c += [Condition("J-6P-R", "TO", "joints", six, temporal="reverse"),
          Condition("J-6P-S", "TO", "joints", six, temporal="shuffle"),
          Condition("J-6P-4F", "TR", "joints", six, temporal="4frames"),
          Condition("J-6P-3F", "TR", "joints", six, temporal="3frames")]
    c += [Condition(f"J-6P-{v}V", "ICV", "joints", six, view=v) for v in (0, 45, 90)]
    c += [Condition(f"SP-{n}P-{lt}LT", "LVI", "sp", limbs=n, lifetime=lt)
          for n in (4, 8) for lt in (1, 2, 4)]
    return {x.name: x for x in c}


#: all 24 conditions by name, in the paper's table order
CONDITIONS: dict[str, Condition] = _build()
CONDITION_NAMES: tuple[str, ...] = tuple(CONDITIONS)
#: the paper's property groups (Tab. S6): RGB, temporal order, temporal resolution, amount of
#: visual information, invariance to camera view, lifetime of visual information
GROUPS: dict[str, tuple[str, ...]] = {
    g: tuple(n for n, c in CONDITIONS.items() if c.group == g)
    for g in ("RGB", "TO", "TR", "AVI", "ICV", "LVI")}
GROUP_TITLES = {"RGB": "RGB", "TO": "temporal order", "TR": "temporal resolution",
                "AVI": "amount of visual information", "ICV": "camera view",
                "LVI": "lifetime of visual information"}


def get_condition(name: str) -> Condition:
    key = name.strip().upper()
    for n, c in CONDITIONS.items():
        if n.upper() == key:
            return c
    import difflib

    close = difflib.get_close_matches(key, [n.upper() for n in CONDITIONS], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"unknown BMP condition {name!r}{hint} (known: {', '.join(CONDITIONS)}; "
                      f"groups: {', '.join(GROUPS)}; or 'all')")


def parse_conditions(spec: str | Iterable[str] | None) -> list[Condition]:
    """``"all"``, a comma-separated list of names and/or group names (``AVI,SP-8P-1LT``),
    or a list of them -> conditions in table order, without duplicates."""
    if spec is None:
        spec = "all"
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [
        str(s).strip() for s in spec]
    items = [s for s in items if s]
    if not items:
        raise ConfigError("no BMP condition given (use 'all', names or group names)")
    chosen: set[str] = set()
    for it in items:
        if it.lower() == "all":
            chosen.update(CONDITIONS)
        elif it.upper() in GROUPS:
            chosen.update(GROUPS[it.upper()])
        else:
            chosen.add(get_condition(it).name)
    return [c for n, c in CONDITIONS.items() if n in chosen]


def view_of(camera: int | None, replication: int | None) -> int | None:
    """The BMP view (0, 45, 90) of an NTU (camera, replication) pair, None when unknown."""
    if camera is None or replication is None:
        return None
    for view, pairs in VIEW_PAIRS.items():
        if (int(camera), int(replication)) in pairs:
            return view
    return None


# ----------------------------------------------------------------------------- frame rules
def replication_indices(num_in: int, num_out: int = CLIP_FRAMES) -> np.ndarray:
    """``floor(linspace(0, num_in, num_out, endpoint=False))``: the official rule that turns a
    clip of any length into ``num_out`` frames (replicating when shorter, in order)."""
    if num_in < 1:
        raise ValueError("a clip needs at least one frame")
    return np.floor(np.linspace(0, num_in, num_out, endpoint=False)).astype(np.int64)


def sample_indices(num_in: int, frames: int | None = CLIP_FRAMES) -> np.ndarray:
    """The base rule: ``frames`` indices into a ``num_in``-frame video (all when None)."""
    if frames is None:
        return np.arange(num_in, dtype=np.int64)
    return replication_indices(num_in, frames)


def condition_indices(cond: Condition | str | None, num_in: int, frames: int | None = CLIP_FRAMES,
                      rng: np.random.Generator | None = None) -> np.ndarray:
    """Source-frame indices of one clip of ``cond`` (see the module docstring for each rule).

    ``rng`` is needed for the shuffle conditions (a seeded generator keeps them reproducible).
    """
    if num_in < 1:
        raise ValueError("a clip needs at least one frame")
    temporal = cond.temporal if isinstance(cond, Condition) else cond
    base = sample_indices(num_in, frames)
    if temporal is None:
        return base
    if temporal == "reverse":
        return (num_in - 1) - base
    if temporal == "shuffle":
        if rng is None:
            raise ValueError("the shuffle conditions need a random generator")
        return rng.permutation(num_in)[base]
    if temporal in ("4frames", "3frames"):
        k = 4 if temporal == "4frames" else 3
        # decord casts the float indices of np.linspace to int64 (truncation)
        return np.linspace(0, num_in - 1, k, endpoint=True).astype(np.int64)
    raise ValueError(f"unknown temporal manipulation {temporal!r}")


# ----------------------------------------------------------------------------- paper numbers
#: models of Tab. S6 in column order; the first six are the Kinetics-400 pre-trained baselines
PAPER_MODELS = ("ResNet3D", "I3D", "R(2+1)D", "SlowFast", "X3D", "MViT", "MP", "Human")
PAPER_BASELINES = PAPER_MODELS[:6]
_S6 = """
RGB        98.56 98.74 99.02 98.63 98.67 99.02 96.45 98.00
RGB-R      70.51 68.82 76.23 62.18 66.50 68.19 62.32 61.83
RGB-S      53.12 41.57 38.76 22.68 41.50 51.65 61.34 76.00
RGB-4F     68.89 76.62 77.91 60.11 75.53 32.44 68.82 88.00
RGB-3F     61.24 62.89 64.61 65.98 64.92 31.88 68.43 84.33
J-26P      27.95 75.35 33.39 77.98 67.21 76.90 72.16 92.50
J-18P      26.12 76.51 34.66 75.74 67.80 75.46 73.17 /
J-14P      25.77 68.15 35.22 72.30 66.68 74.61 70.37 /
J-10P      20.75 56.04 26.90 70.54 61.03 68.05 71.73 /
J-6P       18.54 28.41 18.57 55.72 48.38 52.00 69.00 86.33
J-5P       18.19 27.14 17.17 51.23 40.41 47.86 65.52 86.17
J-6P-R     17.70 23.53 16.26 35.04 31.00 32.37 38.69 56.67
J-6P-S     26.69 19.56 18.43 24.30 20.93 20.89 32.65 47.83
J-6P-4F    16.19 10.96 15.80 21.70 20.40 12.29 41.12 63.17
J-6P-3F    16.50 16.22 13.83 11.27 18.22 17.03 43.71 55.67
J-6P-0V    19.83 31.36 17.86 59.50 51.30 52.23 70.20 84.00
J-6P-45V   17.98 30.46 18.73 58.88 53.18 55.11 69.64 91.50
J-6P-90V   17.78 23.43 19.14 48.85 40.79 48.74 67.15 90.83
SP-4P-1LT  12.96 21.91 10.50 19.10 14.12 10.64 32.76 56.33
SP-4P-2LT  10.57 22.02 15.06 26.09 17.77 18.40 35.01 45.36
SP-4P-4LT  12.64 23.07 19.31 19.77 19.59 27.53 34.76 52.50
SP-8P-1LT  15.59 18.43 10.53 20.29 19.91 15.06 49.68 80.33
SP-8P-2LT  13.45 33.85 17.49 21.00 22.54 31.07 49.33 69.64
SP-8P-4LT  17.35 38.97 27.39 21.31 26.23 46.63 50.49 74.47
"""


def _parse_s6() -> dict[str, dict[str, float | None]]:
    out = {}
    for line in _S6.strip().splitlines():
        name, *vals = line.split()
        out[name] = {m: (None if v == "/" else float(v)) for m, v in zip(PAPER_MODELS, vals)}
    return out


#: the paper's top-1 (%) per condition and model (Tab. S6); Human is None where not measured
PAPER_TOP1: dict[str, dict[str, float | None]] = _parse_s6()
