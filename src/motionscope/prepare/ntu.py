"""NTU RGB+D 60/120 ingestion: the official MAMP (SGN) preprocessing, parallel, with a summary.

``prepare_ntu(raw, out)`` reads every ``SsssCcccPpppRrrrAaaa.skeleton`` under ``raw``
(searched recursively, so the NTU-120 download's two folders can sit side by side), leaves out
the official missing-skeleton samples, and computes per file exactly what the official three
scripts compute (``maoyunyao/MAMP`` ``data/ntu*/``, see ``specs/mamp.md`` sections 3-6):

1. **Parse** (``get_raw_skes_data.py``): frames without a body are dropped; each ``bodyID``
   keeps its joints in order of appearance and a *compacted* interval (first valid-frame index,
   then ``interval[-1] + 1`` per appearance); with several bodies, ``motion`` is the summed
   per-axis variance of all its joints.
2. **Denoise** (``get_raw_denoised_data.py``), only with two or more bodies: drop bodies seen in
   ``<= 11`` frames; then drop a body whose share of frames with ``x-spread > 0.8 * y-spread``
   is ``>= 0.69754`` (else lower its motion to that of its valid frames), stopping as soon as
   one body is left; rank the rest by motion; actor 1 = most motion, later bodies fill actor 1's
   slot when their interval does not overlap actor 1's running interval, else actor 2's (which
   starts as ``[0, 0]``), else they are discarded; rows whose values sum to 0 are removed.
3. **Translate** (``seq_transformation.py``): subtract joint 2 (spine middle) of actor 1 in its
   first non-zero frame from every joint; re-zero the frames where an actor was missing; no
   scale normalisation. A single actor's second slot is zeros (NTU-60) or a copy (NTU-120).

Arrays are written as the official ``NTU60_XSub.npz``/``NTU60_XView.npz`` (or
``NTU120_XSub.npz``/``NTU120_XSet.npz``): ``x_train (N, T, 150)`` float32 with ``T`` the
longest sequence (300 on the full datasets), one-hot ``y_train`` float64, the same for
``test``, samples grouped by split id in the official list order. Extra keys: ``names_train``,
``names_test`` and ``classes``. Plus ``splits/<benchmark>_{train,test}.txt`` name lists and
``summary.json``.

A file that cannot be read is reported by name and counted, and the run goes on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..fsutil import atomic_write_text
from ..io.ntu import NTUSkeleton, parse_ntu_name, read_missing_list, read_skeleton
from ..io.splits import NTU60_XSUB_TRAIN_SUBJECTS, NTU120_XSUB_TRAIN_SUBJECTS
from .common import (
    ArraySpec,
    SequenceStore,
    Summary,
    check_raw_dir,
    default_workers,
    one_hot,
    padded_blocks,
    run_pool,
    write_npz_streaming,
)
from .ntu_missing import NTU60_MISSING, NTU120_MISSING

__all__ = [
    "prepare_ntu", "process_file", "read_ntu_joints", "denoise_skeleton", "collect_bodies", "denoise_bodies",
    "assemble_actors", "remove_missing_frames", "translate_sequence", "pad_second_person",
    "benchmark_order", "NTU_CLASSES", "BENCHMARK_FILES", "SkippedSample", "RawBody",
    "NOISE_LEN_THRES", "NOISE_SPR_THRES1", "NOISE_SPR_THRES2", "MIN_FRAMES",
]

#: official SGN denoising thresholds
NOISE_LEN_THRES = 11
NOISE_SPR_THRES1 = 0.8
NOISE_SPR_THRES2 = 0.69754
#: sequences with fewer valid frames than one MAMP segment (4 frames) are skipped
MIN_FRAMES = 4

#: benchmark -> official output file
BENCHMARK_FILES = {
    "ntu60_xsub": "NTU60_XSub.npz", "ntu60_xview": "NTU60_XView.npz",
    "ntu120_xsub": "NTU120_XSub.npz", "ntu120_xset": "NTU120_XSet.npz",
}

#: NTU RGB+D 120 action names; action ``A00k`` is ``NTU_CLASSES[k - 1]`` (NTU-60: the first 60)
NTU_CLASSES = (
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup",
    "throw", "sitting down", "standing up (from sitting position)", "clapping", "reading",
    "writing", "tear up paper", "wear jacket", "take off jacket", "wear a shoe",
    "take off a shoe", "wear on glasses", "take off glasses", "put on a hat/cap",
    "take off a hat/cap", "cheer up", "hand waving", "kicking something", "reach into pocket",
    "hopping (one foot jumping)", "jump up", "make a phone call/answer phone",
    "playing with phone/tablet", "typing on a keyboard", "pointing to something with finger",
    "taking a selfie", "check time (from watch)", "rub two hands together", "nod head/bow",
    "shake head", "wipe face", "salute", "put the palms together",
    "cross hands in front (say stop)", "sneeze/cough", "staggering", "falling",
    "touch head (headache)", "touch chest (stomachache/heart pain)", "touch back (backache)",
    "touch neck (neckache)", "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm", "punching/slapping other person",
    "kicking other person", "pushing other person", "pat on back of other person",
    "point finger at the other person", "hugging other person",
    "giving something to other person", "touch other person's pocket", "handshaking",
    "walking towards each other", "walking apart from each other",
    "put on headphone", "take off headphone", "shoot at the basket", "bounce ball",
    "tennis bat swing", "juggling table tennis balls", "hush (quite)", "flick hair",
    "thumb up", "thumb down", "make ok sign", "make victory sign", "staple book",
    "counting money", "cutting nails", "cutting paper (using scissors)", "snapping fingers",
    "open bottle", "sniff (smell)", "squat down", "toss a coin", "fold paper", "ball up paper",
    "play magic cube", "apply cream on face", "apply cream on hand back", "put on bag",
    "take off bag", "put something into a bag", "take something out of a bag", "open a box",
    "move heavy objects", "shake fist", "throw up cap/hat", "hands up (both hands)",
    "cross arms", "arm circles", "arm swings", "running on the spot",
    "butt kicks (kick backward)", "cross toe touch", "side kick", "yawn", "stretch oneself",
    "blow nose", "hit other person with something", "wield knife towards other person",
    "knock over other person (hit with body)", "grab other person's stuff",
    "shoot at other person with a gun", "step on foot", "high-five", "cheers and drink",
    "carry something with other person", "take a photo of other person",
    "follow other person", "whisper in other person's ear",
    "exchange things with other person", "support somebody with hand",
    "finger-guessing game (playing rock-paper-scissors)",
)


class SkippedSample(Exception):
    """A readable file the official rules cannot turn into a sample (a documented skip)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(eq=False)
class RawBody:
    """One ``bodyID`` as ``get_raw_skes_data.py`` stores it."""

    body_id: str
    joints: np.ndarray  # (n, 25, 3) float32, in order of appearance
    start: int  # first valid-frame index; the compacted interval is start..start+n-1
    motion: np.float32 | None = None

    @property
    def length(self) -> int:
        return len(self.joints)

    @property
    def end(self) -> int:
        return self.start + len(self.joints) - 1


def _motion(joints: np.ndarray) -> np.float32:
    # float32 throughout, as the official np.var over the (n*25, 3) float32 joints
    return np.sum(np.var(joints.reshape(-1, 3), axis=0))


# ----------------------------------------------------------------------------- reading
@dataclass(eq=False)
class _Body:
    body_id: str
    frame_index: np.ndarray  # (n,) true frame indices
    joints: np.ndarray  # (n, 25, 3) float32


@dataclass(eq=False)
class JointsOnly:
    """What MAMP reads of a ``.skeleton`` file: frame count, bodies per frame, ids and xyz."""

    num_frames: int
    bodies: list
    body_counts: np.ndarray
    name: str = ""


_NUMERIC_BYTES = b"0123456789.-+eE \r\n"


def _fast_joints(path: Path, raw: bytes) -> JointsOnly | None:
    """Parse only ids and x, y, z of a canonical file (single spaces); ``None`` if anything is
    unusual, so that :func:`io.ntu.read_skeleton` handles (and reports) it."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    lines = text.split("\n")
    try:
        num_frames = int(lines[0])
        if num_frames < 0:
            return None
        counts = np.zeros(num_frames, np.int64)
        ids: dict[str, int] = {}
        frames: list[list[int]] = []
        starts: list[list[int]] = []
        i = 1
        for t in range(num_frames):
            nb = int(lines[i])
            if nb < 0:
                return None
            counts[t] = nb
            i += 1
            for _ in range(nb):
                info = lines[i].split()
                if len(info) != 10 or int(lines[i + 1]) != 25 or i + 27 > len(lines):
                    return None
                k = ids.setdefault(info[0], len(ids))
                if k == len(frames):
                    frames.append([])
                    starts.append([])
                frames[k].append(t)
                starts[k].append(i + 2)
                i += 27
    except (ValueError, IndexError):
        return None
    if any(ln.strip() for ln in lines[i:]):
        return None
    bodies = []
    for k, body_id in enumerate(ids):
        chunk = [lines[s + j] for s in starts[k] for j in range(25)]
        joined = "\n".join(chunk)
        if joined.count(" ") != 11 * len(chunk) or joined.encode().translate(None, _NUMERIC_BYTES):
            return None  # not canonical, or a non-numeric field somewhere
        try:  # numpy's C parser, converting only the three used columns
            xyz = np.loadtxt(chunk, dtype=np.float64, ndmin=2, comments=None, usecols=(0, 1, 2))
        except ValueError:
            return None
        if xyz.shape != (len(chunk), 3):
            return None
        bodies.append(_Body(body_id, np.asarray(frames[k], np.int64),
                            xyz.reshape(-1, 25, 3).astype(np.float32)))
    return JointsOnly(num_frames, bodies, counts, path.name.split(".")[0])


def read_ntu_joints(path: str | os.PathLike) -> JointsOnly | NTUSkeleton:
    """Bodies (ids, frame indices, x y z joints) of a ``.skeleton`` file, fast.

    Canonical files (the Kinect dump: single spaces, 12 numbers a joint line) are parsed for
    what MAMP uses only (about twice as fast as a full read); any other file goes through
    :func:`io.ntu.read_skeleton`, which reads every field and names any problem.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError:
        return read_skeleton(path)  # raises the reader's DataError
    fast = _fast_joints(path, raw)
    return fast if fast is not None else read_skeleton(path)


# ----------------------------------------------------------------------------- stage 1
def collect_bodies(skel: NTUSkeleton | JointsOnly, path: str | os.PathLike | None = None,
                   ) -> tuple[list[RawBody], int, int]:
    """Bodies with compacted intervals, the number of valid frames and of frames dropped.

    A valid frame is one that lists at least one body. Raises :class:`SkippedSample` when no
    frame has a body, :class:`DataError` for non-finite joints or a body listed twice in one
    frame (the official interval arithmetic would overrun the sequence).
    """
    has_body = skel.body_counts > 0
    num_valid = int(has_body.sum())
    dropped = int(skel.num_frames - num_valid)
    if num_valid == 0:
        raise SkippedSample("no_bodies", f"none of the {skel.num_frames} frames lists a body")
    valid_index = np.cumsum(has_body) - 1
    bodies = []
    for b in skel.bodies:
        if not np.isfinite(b.joints).all():
            bad = np.argwhere(~np.isfinite(b.joints))[0]
            raise DataError(path, f"non-finite joint coordinate (NaN/inf) for body {b.body_id} in "
                                  f"frame {int(b.frame_index[bad[0]]) + 1}, joint {bad[1] + 1}")
        if len(np.unique(b.frame_index)) != len(b.frame_index):
            raise DataError(path, f"body {b.body_id} is listed twice in one frame")
        bodies.append(RawBody(b.body_id, b.joints.astype(np.float32, copy=False),
                              int(valid_index[b.frame_index[0]])))
    if len(bodies) > 1:
        for body in bodies:
            body.motion = _motion(body.joints)
    return bodies, num_valid, dropped


# ----------------------------------------------------------------------------- stage 2
def _spread_valid(joints: np.ndarray) -> np.ndarray:
    """Frames whose 3-D x spread is at most 0.8 times the y spread."""
    x, y = joints[..., 0], joints[..., 1]
    xr = (x.max(1) - x.min(1)).astype(np.float64)
    yr = (y.max(1) - y.min(1)).astype(np.float64)
    return xr <= NOISE_SPR_THRES1 * yr


def denoise_bodies(bodies: list[RawBody], stats: dict | None = None) -> list[RawBody]:
    """Length and spread filters, then rank by motion (descending); official step order.

    ``bodies`` must hold two or more bodies. Returns the remaining bodies (one, or several
    sorted by motion). ``stats`` (optional) counts ``bodies_removed_length`` /
    ``bodies_removed_spread``.
    """
    stats = {} if stats is None else stats
    kept = [b for b in bodies if b.length > NOISE_LEN_THRES]
    stats["bodies_removed_length"] = stats.get("bodies_removed_length", 0) + len(bodies) - len(kept)
    if len(kept) <= 1:
        return kept
    remaining = list(kept)
    for body in kept:  # iterate a copy, delete from `remaining`, stop at one body
        if len(remaining) == 1:
            break
        valid = _spread_valid(body.joints)
        num_noise = body.length - int(valid.sum())
        if num_noise == 0:
            continue
        ratio = num_noise / float(body.length)
        if ratio >= NOISE_SPR_THRES2:
            remaining = [b for b in remaining if b is not body]
            stats["bodies_removed_spread"] = stats.get("bodies_removed_spread", 0) + 1
        else:
            body.motion = min(body.motion, _motion(body.joints[valid]))
    if len(remaining) == 1:
        return remaining
    return sorted(remaining, key=lambda b: b.motion, reverse=True)


def _one_actor(body: RawBody, num_frames: int) -> np.ndarray:
    joints = np.zeros((num_frames, 75), np.float32)
    joints[body.start:body.end + 1] = body.joints.reshape(-1, 75)
    return joints


def assemble_actors(bodies: list[RawBody], num_frames: int,
                    stats: dict | None = None) -> np.ndarray:
    """``(num_frames, 75)`` for one body, else ``(num_frames, 150)`` with the slot rules."""
    stats = {} if stats is None else stats
    for b in bodies:
        if b.end >= num_frames:  # guarded in collect_bodies; kept as a cheap invariant
            raise DataError(None, f"body {b.body_id} interval {b.start}..{b.end} overruns "
                                  f"{num_frames} frames")
    if len(bodies) == 1:
        return _one_actor(bodies[0], num_frames)
    joints = np.zeros((num_frames, 150), np.float32)
    actor1 = bodies[0]
    joints[actor1.start:actor1.end + 1, :75] = actor1.joints.reshape(-1, 75)
    start1, end1 = actor1.start, actor1.end
    start2, end2 = 0, 0  # actor 2's virtual initial interval
    for b in bodies[1:]:
        if min(end1, b.end) - max(start1, b.start) <= 0:  # no overlap with actor 1
            joints[b.start:b.end + 1, :75] = b.joints.reshape(-1, 75)
            start1, end1 = min(b.start, start1), max(b.end, end1)
        elif min(end2, b.end) - max(start2, b.start) <= 0:  # no overlap with actor 2
            joints[b.start:b.end + 1, 75:] = b.joints.reshape(-1, 75)
            start2, end2 = min(b.start, start2), max(b.end, end2)
        else:
            stats["bodies_discarded_overlap"] = stats.get("bodies_discarded_overlap", 0) + 1
    return joints


def remove_missing_frames(joints: np.ndarray) -> np.ndarray:
    """Drop rows whose values sum to exactly 0 (official: for multi-body sequences only)."""
    return joints[joints.sum(axis=1) != 0]


# ----------------------------------------------------------------------------- stage 3
def translate_sequence(joints: np.ndarray) -> np.ndarray:
    """Subtract actor 1's spine middle (joint 2) in its first non-zero frame; re-zero gaps."""
    joints = np.array(joints, np.float32)
    two = joints.shape[1] == 150
    if two:
        missing1 = joints[:, :75].sum(axis=1) == 0
        missing2 = joints[:, 75:].sum(axis=1) == 0
    nonzero = np.flatnonzero(np.any(joints[:, :75] != 0, axis=1))
    if len(nonzero) == 0:
        raise SkippedSample("all_zero", "every joint of the main actor is 0")
    origin = joints[nonzero[0], 3:6].copy()
    joints -= np.tile(origin, joints.shape[1] // 3)
    if two:
        joints[missing1, :75] = 0
        joints[missing2, 75:] = 0
    return joints


def pad_second_person(joints: np.ndarray, padding: str) -> np.ndarray:
    """``(T, 75) -> (T, 150)``: ``"zeros"`` (NTU-60 scripts) or ``"duplicate"`` (NTU-120)."""
    if joints.shape[1] == 150:
        return joints
    if padding == "zeros":
        return np.hstack((joints, np.zeros_like(joints)))
    if padding == "duplicate":
        return np.hstack((joints, joints))
    raise ValueError(f"padding must be 'zeros' or 'duplicate', got {padding!r}")


LOST_FRAMES = ("keep", "drop", "interpolate")


def fix_lost_frames(joints: np.ndarray, mode: str) -> np.ndarray:
    """Frames where tracking of the main actor was lost (all its joints 0): ``"keep"`` them (the
    official code; the translation then turns them into jumps to minus the origin), ``"drop"``
    them, or ``"interpolate"`` the main actor linearly between the nearest tracked frames
    (held at the ends)."""
    if mode not in LOST_FRAMES:
        raise ValueError(f"lost_frames must be one of {LOST_FRAMES}, got {mode!r}")
    lost = ~np.any(joints[:, :75] != 0, axis=1)
    if mode == "keep" or not lost.any() or lost.all():
        return joints
    if mode == "drop":
        return joints[~lost]
    out = np.array(joints, np.float32)
    t, good = np.arange(len(out)), np.flatnonzero(~lost)
    for c in range(75):
        out[lost, c] = np.interp(t[lost], good, out[good, c])
    return out


def denoise_skeleton(skel: NTUSkeleton | JointsOnly, padding: str = "zeros", path=None,
                     stats: dict | None = None, lost_frames: str = "keep") -> np.ndarray:
    """One parsed ``.skeleton`` -> the official ``(T, 150)`` float32 sample (before padding T).

    Raises :class:`SkippedSample` for a documented skip (no body, all-zero, too short).
    ``lost_frames``: see :func:`fix_lost_frames` (default: the official ``"keep"``).
    """
    stats = {} if stats is None else stats
    bodies, num_frames, dropped = collect_bodies(skel, path)
    stats["frames_without_bodies"] = stats.get("frames_without_bodies", 0) + dropped
    if len(bodies) == 1:
        joints = _one_actor(bodies[0], num_frames)
    else:
        stats["multi_body_samples"] = stats.get("multi_body_samples", 0) + 1
        kept = denoise_bodies(bodies, stats)
        if not kept:  # the official script crashes here (IndexError)
            raise SkippedSample("noise_only", f"all {len(bodies)} bodies are seen in <= "
                                              f"{NOISE_LEN_THRES} frames (length rule)")
        joints = assemble_actors(kept, num_frames, stats)
        before = len(joints)
        joints = remove_missing_frames(joints)
        stats["missing_frames_removed"] = stats.get("missing_frames_removed", 0) + before - len(joints)
        if joints.shape[1] == 150 and not joints[:, 75:].any():
            stats["second_actor_empty"] = stats.get("second_actor_empty", 0) + 1
    if not joints.any():
        raise SkippedSample("all_zero", "every joint coordinate is 0")
    if len(joints) < MIN_FRAMES:
        raise SkippedSample("too_short", f"{len(joints)} valid frames, fewer than one "
                                         f"{MIN_FRAMES}-frame segment")
    zero_rows = int((~np.any(joints[:, :75] != 0, axis=1)).sum())
    if zero_rows:
        key = {"keep": "zero_frames_kept", "drop": "zero_frames_dropped",
               "interpolate": "zero_frames_interpolated"}[lost_frames]
        stats[key] = stats.get(key, 0) + zero_rows
        stats["files_with_zero_frames"] = stats.get("files_with_zero_frames", 0) + 1
        joints = fix_lost_frames(joints, lost_frames)
        if len(joints) < MIN_FRAMES:
            raise SkippedSample("too_short", f"{len(joints)} tracked frames, fewer than one "
                                             f"{MIN_FRAMES}-frame segment")
    joints = translate_sequence(joints)
    return pad_second_person(joints, padding)


def process_file(job: tuple[str, str]) -> dict:
    """Worker: read and denoise one file; never raises for bad input (the result says why)."""
    path, padding, *rest = job
    lost_frames = rest[0] if rest else "keep"
    name = Path(path).name.split(".")[0]
    stats: dict = {}
    try:
        skel = read_ntu_joints(path)
        joints = denoise_skeleton(skel, padding, path, stats, lost_frames)
        return {"name": name, "path": path, "joints": joints, "stats": stats}
    except SkippedSample as e:
        return {"name": name, "path": path, "skipped": e.reason, "detail": e.detail,
                "stats": stats}
    except DataError as e:
        return {"name": name, "path": path, "error": str(e), "stats": stats}
    except Exception as e:  # noqa: BLE001 - one odd file must not stop a 100k-file run
        return {"name": name, "path": path, "error": f"{path}: {type(e).__name__}: {e}",
                "stats": stats}


# ----------------------------------------------------------------------------- splits
def benchmark_order(names: list[str], benchmark: str) -> tuple[list[str], list[str]]:
    """(train, test) names in the official npz order: grouped by split id in list order.

    ``names`` must be sorted (the official ``skes_available_name.txt`` order).
    """
    ids = [parse_ntu_name(n) for n in names]
    if benchmark in ("ntu60_xsub", "ntu120_xsub"):
        train_ids = sorted(NTU60_XSUB_TRAIN_SUBJECTS if benchmark == "ntu60_xsub"
                           else NTU120_XSUB_TRAIN_SUBJECTS)
        top = 40 if benchmark == "ntu60_xsub" else 106
        test_ids = [i for i in range(1, top + 1) if i not in train_ids]
        key = [n.performer for n in ids]
    elif benchmark == "ntu60_xview":
        train_ids, test_ids, key = [2, 3], [1], [n.camera for n in ids]
    elif benchmark == "ntu120_xset":
        train_ids = list(range(2, 33, 2))
        test_ids = list(range(1, 33, 2))
        key = [n.setup for n in ids]
    else:
        raise ValueError(f"unknown NTU benchmark {benchmark!r} (known: {sorted(BENCHMARK_FILES)})")
    groups: dict[int, list[str]] = {}
    for n, k in zip(names, key):
        groups.setdefault(k, []).append(n)
    train = [n for i in train_ids for n in groups.get(i, [])]
    test = [n for i in test_ids for n in groups.get(i, [])]
    return train, test


def _find_files(raw: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for p in sorted(raw.rglob("*.skeleton")):
        name = p.name.split(".")[0]
        if name in files:
            raise DataError(p, f"sample {name} found twice (also {files[name]}); point --raw at "
                               "one copy of the dataset")
        files[name] = p
    return files


# ----------------------------------------------------------------------------- entry point
def class_names_for(num_classes: int | None, class_names: str | os.PathLike | None,
                    default: int) -> np.ndarray:
    """The dataset's class names: a names file (one per line; its length is the class count,
    which ``num_classes`` must then agree with), else NTU's names for ``num_classes`` (default
    ``default``), ``A0k`` style past NTU's 120."""
    if class_names is not None:
        p = Path(class_names)
        if not p.is_file():
            raise DataError(p, "class-names file not found")
        names = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if not names:
            raise DataError(p, "class-names file is empty (one name per line)")
        if num_classes is not None and int(num_classes) != len(names):
            raise DataError(p, f"lists {len(names)} class names but --num-classes is {num_classes}")
        return np.array(names)
    k = default if num_classes is None else int(num_classes)
    if k < 1:
        raise DataError(None, f"--num-classes must be >= 1, got {k}")
    return np.array([NTU_CLASSES[i] if i < len(NTU_CLASSES) else f"A{i + 1:03d}" for i in range(k)])


def prepare_ntu(raw: str | os.PathLike, out: str | os.PathLike, *, ntu120: bool = False,
                workers: int | None = None, progress: bool = True,
                missing: str | os.PathLike | None = None, padding: str | None = None,
                num_classes: int | None = None,
                class_names: str | os.PathLike | None = None, lost_frames: str = "keep") -> dict:
    """Ingest NTU RGB+D 60 (or 120 with ``ntu120``) from ``raw`` into ``out``; the summary.

    ``missing``: a missing-skeleton list to use instead of the official one shipped here.
    ``padding``: second slot of single-actor samples, ``"zeros"`` (NTU-60 default) or
    ``"duplicate"`` (NTU-120 default), as the official scripts of each dataset do.
    ``num_classes`` / ``class_names``: for another dataset in NTU's file format (actions
    ``A001..A0K``): the label width and the names written (default: NTU's 60 or 120).
    ``lost_frames``: frames where tracking was lost, see :func:`fix_lost_frames`.
    """
    if lost_frames not in LOST_FRAMES:
        raise DataError(None, f"lost_frames must be one of {LOST_FRAMES}, got {lost_frames!r}")
    classes = class_names_for(num_classes, class_names, 120 if ntu120 else 60)
    raw = check_raw_dir(raw)
    out = Path(out)
    dataset = "ntu120" if ntu120 else "ntu60"
    padding = padding or ("duplicate" if ntu120 else "zeros")
    if padding not in ("zeros", "duplicate"):
        raise DataError(None, f"padding must be 'zeros' or 'duplicate', got {padding!r}")
    workers = default_workers() if workers is None else max(1, int(workers))
    summary = Summary(dataset, raw, out)
    if missing is not None:
        missing_names = read_missing_list(missing)
    else:
        missing_names = set(NTU120_MISSING if ntu120 else NTU60_MISSING)

    found = _find_files(raw)
    summary.data["files_found"] = len(found)
    jobs = []
    for name, p in found.items():
        try:
            ids = parse_ntu_name(name)
        except DataError as e:
            summary.fail(str(p), str(e))
            continue
        if not ntu120 and not (ids.setup <= 17 and ids.action <= 60):
            summary.excluded["not_ntu60"] += 1
            continue
        if ids.action > 120 or not 1 <= ids.camera <= 3 or ids.action < 1:
            summary.fail(str(p), f"{p}: not an NTU sample name (action {ids.action}, "
                                 f"camera {ids.camera})")
            continue
        if name in missing_names:
            summary.excluded["missing_skeleton_list"] += 1
            continue
        jobs.append((str(p), padding, lost_frames))
    summary.data["files_processed"] = len(jobs)
    if not jobs:
        raise DataError(raw, f"no {dataset.upper()} .skeleton files to process "
                             f"({len(found)} found; {dict(summary.excluded)} excluded)")

    out.mkdir(parents=True, exist_ok=True)
    kept: list[str] = []
    max_frames = 0
    with SequenceStore(out / f".{dataset}-sequences.tmp") as store:
        for res in run_pool(process_file, jobs, workers, f"prepare {dataset}", progress):
            summary.stats.update(res["stats"])
            if "error" in res:
                summary.fail(res["path"], res["error"])
            elif "skipped" in res:
                summary.drop(res["path"], res["skipped"], res["detail"])
            else:
                store.add(res["name"], res["joints"])
                kept.append(res["name"])
                max_frames = max(max_frames, len(res["joints"]))
        kept.sort()
        summary.data["samples_kept"] = len(kept)
        if not kept:
            raise DataError(raw, "no file could be turned into a sample; see the errors: "
                                 + "; ".join(f["error"] for f in summary.failures[:3]))
        num_classes = len(classes)
        labels = {n: parse_ntu_name(n).label for n in kept}
        beyond = sorted(n for n in kept if labels[n] >= num_classes)
        if beyond:
            raise DataError(raw, f"{len(beyond)} samples have actions past the {num_classes} "
                                 f"classes (e.g. {beyond[:3]}): pass --num-classes or "
                                 "--class-names for this dataset")
        benches = ("ntu120_xsub", "ntu120_xset") if ntu120 else ("ntu60_xsub", "ntu60_xview")
        written = {}
        for bench in benches:
            train, test = benchmark_order(kept, bench)
            arrays: dict = {}
            for split, names in (("train", train), ("test", test)):
                arrays[f"x_{split}"] = ArraySpec((len(names), max_frames, 150), np.float32,
                                                 padded_blocks(store, names, max_frames, 150))
                arrays[f"y_{split}"] = one_hot(np.array([labels[n] for n in names]), num_classes)
            arrays["names_train"] = np.array(train, dtype="<U20")
            arrays["names_test"] = np.array(test, dtype="<U20")
            arrays["classes"] = classes
            fname = BENCHMARK_FILES[bench]
            write_npz_streaming(out / fname, arrays)
            for split, names in (("train", train), ("test", test)):
                atomic_write_text(out / "splits" / f"{bench}_{split}.txt",
                                  "".join(n + "\n" for n in names))
            written[bench] = {"file": fname, "train": len(train), "test": len(test)}
            for split, names in (("train", train), ("test", test)):
                if not names:
                    summary.warn(f"{bench}: the {split} split is empty (no sample of its "
                                 "subjects/cameras/setups); it is written, but cannot be trained "
                                 "or tested on")
    lost = summary.stats.get("zero_frames_kept", 0)
    if lost:
        summary.warn(f"{lost} frames of {summary.stats.get('files_with_zero_frames', 0)} files lost "
                     "tracking (all joints 0); kept as the official code does, which the "
                     "translation turns into jumps of the whole body: --lost-frames drop or "
                     "interpolate fixes them")
    result = summary.finish(benchmarks=written, max_frames=max_frames, padding=padding,
                            lost_frames=lost_frames,
                            num_classes=num_classes, workers=workers)
    atomic_write_text(out / "summary.json", json.dumps(result, indent=1) + "\n")
    return result
