"""2D keypoint files: AlphaPose JSON, COCO keypoint JSON, DeepLabCut CSV/H5, SLEAP .slp/.h5.

Everything is read into one container, :class:`KeypointSet`: ``keypoints (M, T, V, 2)`` float32
pixels and ``scores (M, T, V)`` float32 for M persons/animals, T frames, V joints. A person
missing from a frame, and a joint that was not detected/labelled/visible, is **NaN with score 0**,
so downstream code never mistakes (0, 0) for a real position.

Person slots (M): tracked files (AlphaPose ``idx``, COCO ``track_id``, SLEAP tracks, DLC
individuals) give each track its own slot in order of first appearance (SLEAP/DLC: file order).
Untracked detections fill slots per frame in file order (AlphaPose: by descending score).

No pandas: DeepLabCut's pandas HDF5 (``fixed`` and ``table`` formats) is decoded with h5py;
the ``table`` format keeps column names in pickled attributes, which are read with an unpickler
that only accepts plain lists/tuples/strings/numbers (anything else is refused).
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import DataError
from ..fsutil import atomic_path, atomic_write_text

__all__ = [
    "KeypointSet",
    "read_keypoints",
    "read_alphapose_json",
    "write_alphapose_json",
    "read_coco_json",
    "write_coco_json",
    "read_dlc_csv",
    "write_dlc_csv",
    "read_dlc_h5",
    "write_dlc_h5",
    "read_sleap",
    "read_sleap_analysis",
]

_LAYOUT_BY_V = {17: "coco17", 26: "halpe26"}


@dataclass
class KeypointSet:
    """2D keypoints of M persons over T frames (see module docstring for conventions).

    ``image_size`` is ``(height, width)`` when known; ``frame_names`` (length T) the image
    names/ids of the source when it has them; ``joint_names`` (length V) and ``track_names``
    (length M) when the source names them.
    """

    keypoints: np.ndarray  # (M, T, V, 2) float32, NaN = missing
    scores: np.ndarray  # (M, T, V) float32, 0 = missing
    layout: str | None = None
    image_size: tuple[int, int] | None = None
    frame_names: list[str] | None = None
    joint_names: list[str] | None = None
    track_names: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.keypoints = np.asarray(self.keypoints, np.float32)
        self.scores = np.asarray(self.scores, np.float32)
        if self.keypoints.ndim != 4 or self.keypoints.shape[-1] != 2:
            raise ValueError(f"keypoints must be (M, T, V, 2), got {self.keypoints.shape}")
        if self.scores.shape != self.keypoints.shape[:3]:
            raise ValueError(f"scores must be {self.keypoints.shape[:3]}, got {self.scores.shape}")
        M, T, V = self.scores.shape
        for name, n in (("frame_names", T), ("joint_names", V), ("track_names", M)):
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, [str(x) for x in v])
                if len(v) != n:
                    raise ValueError(f"{name} has {len(v)} entries, expected {n}")
        # the convention: missing <=> NaN coordinates <=> score 0
        missing = ~np.isfinite(self.keypoints).all(-1)
        self.keypoints[missing] = np.nan
        self.scores[missing] = 0.0
        self.scores[~np.isfinite(self.scores)] = 0.0

    @property
    def num_persons(self) -> int:
        return self.keypoints.shape[0]

    @property
    def num_frames(self) -> int:
        return self.keypoints.shape[1]

    @property
    def num_joints(self) -> int:
        return self.keypoints.shape[2]

    def present(self) -> np.ndarray:
        """``(M, T)`` bool: the person has at least one keypoint in the frame."""
        return np.isfinite(self.keypoints[..., 0]).any(-1)


# ----------------------------------------------------------------------------- helpers
def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError(path, "keypoint file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(path, f"not valid JSON ({e})") from None


_NUM_RE = re.compile(r"^(.*?)(\d+)(\.[A-Za-z0-9]+)?$")


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _frame_axis(names: list[str], first_number: int | None, num_frames: int | None
                ) -> tuple[dict[str, int], list[str]]:
    """Map image ids to frame indices. Numbered names (``12.jpg``, ``img_00012.png``) index by
    their number so frames without detections become empty frames; others by natural order."""
    uniq = list(dict.fromkeys(names))
    parsed = [_NUM_RE.match(n) for n in uniq]
    if uniq and all(parsed) and len({(m.group(1), m.group(3)) for m in parsed}) == 1:
        nums = [int(m.group(2)) for m in parsed]
        if len(set(nums)) == len(nums):
            bare = parsed[0].group(1) == ""
            start = first_number if first_number is not None else (
                0 if bare or min(nums) == 0 else 1)
            if min(nums) >= start:
                T = max(nums) - start + 1
                if num_frames is not None:
                    T = max(T, num_frames)
                m0 = parsed[0]
                width = len(m0.group(2)) if all(len(m.group(2)) == len(m0.group(2))
                                                for m in parsed) else 0
                fmt = f"{m0.group(1)}{{:0{width}d}}{m0.group(3) or ''}"
                frame_names = [fmt.format(start + t) for t in range(T)]
                for n, k in zip(uniq, nums):
                    frame_names[k - start] = n
                return {n: k - start for n, k in zip(uniq, nums)}, frame_names
    order = sorted(uniq, key=_natural_key)
    if num_frames is not None and num_frames > len(order):
        order = order + [""] * (num_frames - len(order))
    return {n: i for i, n in enumerate(order) if n}, order


def _assemble(entries: list[tuple[int, Any, float, np.ndarray, np.ndarray]], T: int, V: int,
              tracked: bool) -> tuple[np.ndarray, np.ndarray, list]:
    """entries: (frame, track_key or None, sort_score, xy (V,2), score (V,)) -> dense arrays."""
    if tracked:
        slots = list(dict.fromkeys(e[1] for e in entries))
        slot_of = {k: i for i, k in enumerate(slots)}
        M = len(slots)
    else:
        per_frame: dict[int, list] = {}
        for e in entries:
            per_frame.setdefault(e[0], []).append(e)
        M = max((len(v) for v in per_frame.values()), default=0)
        slots = list(range(M))
    kp = np.full((M, T, V, 2), np.nan, np.float32)
    sc = np.zeros((M, T, V), np.float32)
    if tracked:
        for t, key, _, xy, s in entries:
            kp[slot_of[key], t], sc[slot_of[key], t] = xy, s
    else:
        for t, group in per_frame.items():
            group = sorted(group, key=lambda e: -e[2])  # stable: ties keep file order
            for m, (_, _, _, xy, s) in enumerate(group):
                kp[m, t], sc[m, t] = xy, s
    return kp, sc, slots


def _xys(path: Path, flat, V: int | None, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        a = np.asarray(flat, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(path, f"{where}: keypoints must be a flat list of numbers") from None
    if a.size % 3 or (V is not None and a.size != 3 * V):
        raise DataError(path, f"{where}: {a.size} keypoint numbers, expected "
                              f"{'3*V' if V is None else 3 * V} ([x, y, score] per joint)")
    a = a.reshape(-1, 3)
    return a[:, :2], a[:, 2]


def _layout_for(V: int, layout: str | None) -> str | None:
    return layout if layout is not None else _LAYOUT_BY_V.get(V)


def _flat_triplets(xy: np.ndarray, s: np.ndarray) -> list[float]:
    out = np.concatenate([np.nan_to_num(xy, nan=0.0), s[:, None]], axis=1)
    return [round(float(v), 4) for v in out.reshape(-1)]


def _bbox(xy: np.ndarray) -> list[float] | None:
    ok = np.isfinite(xy).all(-1)
    if not ok.any():
        return None
    lo, hi = xy[ok].min(0), xy[ok].max(0)
    return [round(float(lo[0]), 2), round(float(lo[1]), 2), round(float(hi[0] - lo[0]), 2),
            round(float(hi[1] - lo[1]), 2)]


def _frame_name(kps: KeypointSet, t: int) -> str:
    return kps.frame_names[t] if kps.frame_names else f"{t}.jpg"


# ----------------------------------------------------------------------------- AlphaPose
def read_alphapose_json(path: str | os.PathLike, layout: str | None = None,
                        first_number: int | None = None,
                        num_frames: int | None = None) -> KeypointSet:
    """AlphaPose results: a list of ``{image_id, category_id, keypoints [x, y, s]*V, score,
    box, idx}``; a joint written as ``0, 0, 0`` is missing.

    With ``idx`` (pose tracking) each track id is a person slot; without it the detections of
    a frame fill slots by descending ``score``. Numbered image ids index frames by number
    (``"12.jpg"`` from AlphaPose's video mode is frame 12, 0-based; ``img_00012.jpg`` is frame
    11 unless ``first_number`` says otherwise), so frames without detections stay empty.
    """
    path = Path(path)
    data = _load_json(path)
    if isinstance(data, dict) and "annotations" not in data and all(
            isinstance(v, dict) for v in data.values()):
        raise DataError(path, "this is AlphaPose's 'cmu' format; export with the default "
                              "(coco) format")
    if not isinstance(data, list):
        raise DataError(path, "AlphaPose JSON must be a list of detections")
    V = None
    raw = []
    tracked = bool(data) and all(isinstance(d, dict) and "idx" in d for d in data)
    for n, d in enumerate(data):
        where = f"detection {n}"
        if not isinstance(d, dict) or "image_id" not in d or "keypoints" not in d:
            raise DataError(path, f"{where}: needs 'image_id' and 'keypoints'")
        xy, s = _xys(path, d["keypoints"], V, where)
        V = len(s)
        xy[(xy == 0).all(-1) & (s == 0)] = np.nan  # (0, 0, 0) is how a missing joint is written
        key = None
        if tracked:
            idx = d["idx"]
            while isinstance(idx, list) and idx:
                idx = idx[0]
            key = idx if not isinstance(idx, float) else int(idx)
        raw.append((str(d["image_id"]), key, float(d.get("score", s.mean())), xy, s))
    frame_of, frame_names = _frame_axis([r[0] for r in raw], first_number, num_frames)
    T = len(frame_names)
    entries = [(frame_of[r[0]], r[1], r[2], r[3], r[4]) for r in raw]
    kp, sc, slots = _assemble(entries, T, V or 0, tracked)
    return KeypointSet(kp, sc, _layout_for(V or 0, layout), None, frame_names, None,
                       [str(s) for s in slots] if tracked else None)


def write_alphapose_json(path: str | os.PathLike, kps: KeypointSet, tracked: bool = True) -> None:
    """Write AlphaPose-style results (one entry per present person per frame; missing joints
    are written as ``0, 0, 0``). ``tracked`` writes each slot's index as ``idx``."""
    out = []
    present = kps.present()
    for t in range(kps.num_frames):
        name = _frame_name(kps, t)
        for m in np.flatnonzero(present[:, t]):
            xy, s = kps.keypoints[m, t], kps.scores[m, t]
            d = {"image_id": name, "category_id": 1, "keypoints": _flat_triplets(xy, s),
                 "score": round(float(s.mean()), 4), "box": _bbox(xy)}
            if tracked:
                d["idx"] = int(m)
            out.append(d)
    atomic_write_text(path, json.dumps(out))


# ----------------------------------------------------------------------------- COCO
def read_coco_json(path: str | os.PathLike, layout: str | None = None) -> KeypointSet:
    """COCO keypoint JSON (``images``, ``annotations``, ``categories``): frames in ``images``
    order; visibility ``v`` becomes the score (2 visible: 1.0, 1 occluded: 0.5, 0: missing)
    unless the annotation carries ``keypoint_scores``; ``track_id`` makes tracked slots."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list) \
            or not isinstance(data.get("images"), list):
        raise DataError(path, "COCO JSON needs 'images' and 'annotations' lists")
    try:
        image_ids = [im["id"] for im in data["images"]]
        names = [str(im.get("file_name", im["id"])) for im in data["images"]]
    except (KeyError, TypeError):
        raise DataError(path, "every COCO image needs an 'id'") from None
    frame_of = {i: t for t, i in enumerate(image_ids)}
    sizes = {(im.get("height"), im.get("width")) for im in data["images"]}
    size = sizes.pop() if len(sizes) == 1 else None
    size = size if size and None not in size else None
    cats = data.get("categories") or []
    joint_names = cats[0].get("keypoints") if cats and isinstance(cats[0], dict) else None
    V = len(joint_names) if joint_names else None
    anns = [a for a in data["annotations"] if isinstance(a, dict) and "keypoints" in a]
    tracked = bool(anns) and all("track_id" in a for a in anns)
    entries = []
    for n, a in enumerate(anns):
        where = f"annotation {n} (id {a.get('id', '?')})"
        if a.get("image_id") not in frame_of:
            raise DataError(path, f"{where}: image_id {a.get('image_id')!r} is not in 'images'")
        xy, v = _xys(path, a["keypoints"], V, where)
        V = len(v)
        xy = xy.copy()
        xy[v <= 0] = np.nan
        if "keypoint_scores" in a:
            s = np.asarray(a["keypoint_scores"], np.float64).reshape(-1)
            if s.shape != (V,):
                raise DataError(path, f"{where}: keypoint_scores has {s.size} values, "
                                      f"expected {V}")
        else:
            s = np.where(v >= 2, 1.0, np.where(v > 0, 0.5, 0.0))
        entries.append((frame_of[a["image_id"]], a.get("track_id"),
                        float(a.get("score", 0.0)), xy, s))
    if joint_names is not None and V is not None and len(joint_names) != V:
        joint_names = None
    kp, sc, slots = _assemble(entries, len(image_ids), V or 0, tracked)
    return KeypointSet(kp, sc, _layout_for(V or 0, layout), size, names, joint_names,
                       [str(s) for s in slots] if tracked else None)


def write_coco_json(path: str | os.PathLike, kps: KeypointSet, category: str = "person",
                    skeleton: list[tuple[int, int]] | None = None) -> None:
    """Write COCO keypoint JSON: one image per frame, one annotation per present person.

    ``v`` is 2 where the score is > 0.75, 1 where > 0, else 0 (and x = y = 0); the exact scores
    are kept in the (non-standard, ignored by COCO tools) ``keypoint_scores`` field, and
    ``track_id`` holds the person slot. ``skeleton`` is 0-based joint pairs.
    """
    H, W = kps.image_size or (None, None)
    images = [{"id": t, "file_name": _frame_name(kps, t), "height": H, "width": W}
              for t in range(kps.num_frames)]
    anns = []
    present = kps.present()
    for t in range(kps.num_frames):
        for m in np.flatnonzero(present[:, t]):
            xy, s = kps.keypoints[m, t], kps.scores[m, t]
            v = np.where(~np.isfinite(xy).all(-1) | (s <= 0), 0, np.where(s > 0.75, 2, 1))
            flat = np.concatenate([np.nan_to_num(xy, nan=0.0), v[:, None]], 1)
            box = _bbox(xy)
            anns.append({
                "id": len(anns) + 1, "image_id": t, "category_id": 1, "iscrowd": 0,
                "keypoints": [round(float(a), 4) if k % 3 < 2 else int(a)
                              for k, a in enumerate(flat.reshape(-1))],
                "num_keypoints": int((v > 0).sum()), "bbox": box,
                "area": round(box[2] * box[3], 2) if box else 0.0,
                "score": round(float(s.mean()), 4),
                "keypoint_scores": [round(float(a), 4) for a in s], "track_id": int(m)})
    names = kps.joint_names or [f"joint_{j}" for j in range(kps.num_joints)]
    cat = {"id": 1, "name": category, "supercategory": category, "keypoints": names,
           "skeleton": [[int(a) + 1, int(b) + 1] for a, b in (skeleton or [])]}
    atomic_write_text(path, json.dumps({"images": images, "annotations": anns,
                                        "categories": [cat]}))


# ----------------------------------------------------------------------------- DeepLabCut
_DLC_HEADER_KEYS = ("scorer", "individuals", "bodyparts", "coords")


def _dlc_from_columns(path: Path, columns: list[tuple[str, ...]], level_names: list[str],
                      values: np.ndarray, index: list[str]) -> KeypointSet:
    """Build a KeypointSet from DLC's column MultiIndex (scorer, [individuals,] bodyparts,
    coords) and the (N, C) value matrix."""
    lv = {name: i for i, name in enumerate(level_names)}
    if "bodyparts" not in lv or "coords" not in lv:
        raise DataError(path, f"not a DeepLabCut table: column levels are {level_names}, "
                              "expected scorer/[individuals]/bodyparts/coords")
    ind_of = (lambda c: c[lv["individuals"]]) if "individuals" in lv else (lambda c: "")
    individuals = list(dict.fromkeys(ind_of(c) for c in columns))
    bodyparts = list(dict.fromkeys(c[lv["bodyparts"]] for c in columns))
    M, V, T = len(individuals), len(bodyparts), values.shape[0]
    kp = np.full((M, T, V, 2), np.nan, np.float32)
    sc = np.full((M, T, V), np.nan, np.float32)
    has_lik = False
    mi = {k: i for i, k in enumerate(individuals)}
    vi = {k: i for i, k in enumerate(bodyparts)}
    for col, c in enumerate(columns):
        m, v, coord = mi[ind_of(c)], vi[c[lv["bodyparts"]]], c[lv["coords"]]
        if coord == "x":
            kp[m, :, v, 0] = values[:, col]
        elif coord == "y":
            kp[m, :, v, 1] = values[:, col]
        elif coord == "likelihood":
            sc[m, :, v] = values[:, col]
            has_lik = True
    if not has_lik:  # labelled data: every labelled point is certain
        sc = np.where(np.isfinite(kp).all(-1), 1.0, 0.0).astype(np.float32)
    scorer = columns[0][lv["scorer"]] if "scorer" in lv and columns else None
    return KeypointSet(kp, np.nan_to_num(sc, nan=0.0), None, None, index, bodyparts,
                       individuals if "individuals" in lv else None,
                       meta={"scorer": scorer})


def read_dlc_csv(path: str | os.PathLike) -> KeypointSet:
    """DeepLabCut CSV: header rows ``scorer``, [``individuals``,] ``bodyparts``, ``coords``
    (``x``, ``y``[, ``likelihood``]); one or more leading index columns (frame number or image
    path). Without ``likelihood`` (labelled data) labelled points get score 1."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(path, "keypoint file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read CSV ({e})") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not rows[0] or rows[0][0] != "scorer":
        raise DataError(path, "not a DeepLabCut CSV (first cell must be 'scorer')")
    n_index = 1
    while n_index < len(rows[0]) and rows[0][n_index] == "":
        n_index += 1
    header, r = {}, 0
    while r < len(rows) and rows[r] and rows[r][0] in _DLC_HEADER_KEYS:
        header[rows[r][0]] = rows[r][n_index:]
        r += 1
    if r < len(rows) and rows[r] and all(c == "" for c in rows[r][n_index:]):
        r += 1  # pandas' index-name row
    level_names = [k for k in _DLC_HEADER_KEYS if k in header]
    width = len(header.get("coords", []))
    if any(len(header[k]) != width for k in level_names):
        raise DataError(path, "header rows have different lengths")
    columns = list(zip(*(header[k] for k in level_names)))
    index, vals = [], []
    for n, row in enumerate(rows[r:], r + 1):
        if not row or all(c == "" for c in row):
            continue
        if len(row) != n_index + width:
            raise DataError(path, f"line {n}: {len(row)} fields, expected {n_index + width}")
        index.append("/".join(c for c in row[:n_index] if c))
        try:
            vals.append([float(c) if c != "" else np.nan for c in row[n_index:]])
        except ValueError:
            bad = next(c for c in row[n_index:] if c != "" and not _is_float(c))
            raise DataError(path, f"line {n}: non-numeric value {bad!r}") from None
    values = np.asarray(vals, np.float64).reshape(len(vals), width)
    return _dlc_from_columns(path, columns, level_names, values, index)


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _dlc_columns(kps: KeypointSet, scorer: str, likelihood: bool, multi: bool | None):
    multi = kps.num_persons > 1 if multi is None else multi
    if not multi and kps.num_persons != 1:
        raise ValueError("a single-animal DeepLabCut table needs exactly one person")
    inds = kps.track_names or [f"individual{m + 1}" for m in range(kps.num_persons)]
    parts = kps.joint_names or [f"bodypart{v + 1}" for v in range(kps.num_joints)]
    coords = ["x", "y", "likelihood"] if likelihood else ["x", "y"]
    cols, data = [], []
    for m in range(kps.num_persons):
        for v, bp in enumerate(parts):
            for c in coords:
                cols.append((scorer, inds[m], bp, c) if multi else (scorer, bp, c))
                data.append(kps.keypoints[m, :, v, 0] if c == "x" else
                            kps.keypoints[m, :, v, 1] if c == "y" else kps.scores[m, :, v])
    levels = ["scorer", "individuals", "bodyparts", "coords"] if multi else \
        ["scorer", "bodyparts", "coords"]
    values = np.stack(data, 1).astype(np.float64) if data else \
        np.zeros((kps.num_frames, 0))
    return levels, cols, values


def write_dlc_csv(path: str | os.PathLike, kps: KeypointSet, scorer: str = "motionscope",
                  likelihood: bool = True, multi: bool | None = None) -> None:
    """Write a DeepLabCut CSV (multi-animal header when M > 1 or ``multi``); index = frame
    number (or ``frame_names``), missing values empty as pandas writes NaN."""
    levels, cols, values = _dlc_columns(kps, scorer, likelihood, multi)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for k, name in enumerate(levels):
        w.writerow([name] + [c[k] for c in cols])
    index = kps.frame_names or [str(t) for t in range(kps.num_frames)]
    for t in range(kps.num_frames):
        w.writerow([index[t]] + ["" if not np.isfinite(x) else repr(float(x))
                                 for x in values[t]])
    atomic_write_text(path, buf.getvalue())


class _PlainUnpickler(pickle.Unpickler):
    """Accept only builtin containers/scalars: pandas' column labels need nothing else."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _plain_unpickle(raw) -> Any:
    b = bytes(raw.tobytes() if isinstance(raw, np.ndarray) else raw)
    return _PlainUnpickler(io.BytesIO(b)).load()


def _h5_str(x) -> str:
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


def _read_pandas_index(path: Path, g: h5py.Group, axis: str) -> tuple[list, list[str] | None]:
    """A pandas ``fixed``-format axis: plain (``axisN``) or MultiIndex (``axisN_levelK`` +
    ``axisN_labelK``). Returns (labels as tuples or scalars, level names)."""
    if axis in g:
        return [_h5_str(x) for x in g[axis][()]], None
    k, levels, codes, names = 0, [], [], []
    while f"{axis}_level{k}" in g:
        lev = g[f"{axis}_level{k}"]
        levels.append([_h5_str(x) for x in lev[()]])
        codes.append(g[f"{axis}_label{k}"][()])
        names.append(_h5_str(lev.attrs.get("name", f"level{k}")))
        k += 1
    if not levels:
        raise DataError(path, f"pandas HDF5 group has no '{axis}' index")
    labels = [tuple(levels[i][c] if c >= 0 else "" for i, c in enumerate(cs))
              for cs in zip(*codes)]
    return labels, names


def read_dlc_h5(path: str | os.PathLike, key: str | None = None) -> KeypointSet:
    """DeepLabCut HDF5 written by pandas (``df_with_missing``, ``fixed`` or ``table`` format),
    decoded with h5py alone."""
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise DataError(path, "keypoint file not found") from None
    except OSError as e:
        raise DataError(path, f"not an HDF5 file ({e})") from None
    with f:
        keys = [k for k in f if isinstance(f[k], h5py.Group) and "pandas_type" in f[k].attrs]
        if key is None:
            if not keys:
                raise DataError(path, "no pandas table in this HDF5 file (not DeepLabCut)")
            key = "df_with_missing" if "df_with_missing" in keys else keys[0]
        if key not in f:
            raise DataError(path, f"no table named {key!r} (found {keys})")
        g = f[key]
        ptype = _h5_str(g.attrs.get("pandas_type", b""))
        try:
            if ptype == "frame":
                return _dlc_fixed(path, g)
            if ptype == "frame_table":
                return _dlc_table(path, g)
        except (KeyError, ValueError, pickle.UnpicklingError, EOFError) as e:
            raise DataError(path, f"malformed pandas table {key!r} ({e})") from None
        raise DataError(path, f"unsupported pandas storage {ptype!r} for {key!r}")


def _dlc_fixed(path: Path, g: h5py.Group) -> KeypointSet:
    columns, level_names = _read_pandas_index(path, g, "axis0")
    index, _ = _read_pandas_index(path, g, "axis1")
    values = np.full((len(index), len(columns)), np.nan)
    pos = {c: i for i, c in enumerate(columns)}
    b = 0
    while f"block{b}_values" in g:
        items, _ = _read_pandas_index(path, g, f"block{b}_items")
        block = np.asarray(g[f"block{b}_values"][()], np.float64)
        for j, c in enumerate(items):
            values[:, pos[c]] = block[:, j]
        b += 1
    if not level_names or not isinstance(columns[0], tuple):
        raise DataError(path, "DeepLabCut tables have MultiIndex columns")
    index = ["/".join(i) if isinstance(i, tuple) else str(i) for i in index]
    return _dlc_from_columns(path, columns, level_names, values, index)


def _dlc_table(path: Path, g: h5py.Group) -> KeypointSet:
    table = g["table"]
    data = table[()]
    non_index = _plain_unpickle(g.attrs["non_index_axes"])
    columns = [tuple(_h5_str(x) for x in c) if isinstance(c, tuple) else (_h5_str(c),)
               for c in dict(non_index)[1]]
    names = g.attrs.get("levels")
    level_names = list(_plain_unpickle(g.attrs["info"])  # {"1": {"names": [...]}} ...
                       .get(1, {}).get("names") or []) if "info" in g.attrs else []
    if not level_names or any(n is None for n in level_names):
        level_names = ["scorer", "individuals", "bodyparts", "coords"][-len(columns[0]):] \
            if len(columns[0]) in (3, 4) else []
    del names
    blocks = sorted((k for k in data.dtype.names if k.startswith("values_block_")),
                    key=lambda k: int(k.rsplit("_", 1)[1]))
    kinds = [_plain_unpickle(table.attrs[f"{k}_kind"]) for k in blocks]
    values = np.full((len(data), len(columns)), np.nan)
    pos = {c: i for i, c in enumerate(columns)}
    for k, kind in zip(blocks, kinds):
        cols = [tuple(_h5_str(x) for x in c) if isinstance(c, tuple) else (_h5_str(c),)
                for c in kind]
        block = np.asarray(data[k], np.float64).reshape(len(data), -1)
        for j, c in enumerate(cols):
            values[:, pos[c]] = block[:, j]
    index = [_h5_str(i) for i in data["index"]]
    return _dlc_from_columns(path, columns, level_names, values, index)


def _set_attrs(obj, **attrs) -> None:
    """PyTables-style attributes: strings as fixed-length bytes, as PyTables writes them."""
    for k, v in attrs.items():
        if isinstance(v, str):  # fixed-length UTF-8, which PyTables reads back as str
            b = v.encode()
            obj.attrs.create(k, np.bytes_(b), dtype=h5py.string_dtype("utf-8", max(len(b), 1)))
        else:
            obj.attrs[k] = v


def write_dlc_h5(path: str | os.PathLike, kps: KeypointSet, scorer: str = "motionscope",
                 likelihood: bool = True, multi: bool | None = None,
                 key: str = "df_with_missing") -> None:
    """Write a DeepLabCut HDF5 in pandas' ``fixed`` layout with h5py alone
    (``pandas.read_hdf`` and DeepLabCut read it; index = frame number)."""
    levels, cols, values = _dlc_columns(kps, scorer, likelihood, multi)
    array_attrs = {"CLASS": "ARRAY", "VERSION": "2.4", "FLAVOR": "numpy",
                   "transposed": np.uint8(1)}
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        g = f.create_group(key)
        _set_attrs(g, CLASS="GROUP", VERSION="1.0", pandas_type="frame", encoding="UTF-8",
                   errors="strict", ndim=np.int64(2), nblocks=np.int64(1),
                   axis1_variety="regular")
        for prefix in ("axis0", "block0_items"):
            _set_attrs(g, **{f"{prefix}_variety": "multi",
                             f"{prefix}_nlevels": np.int64(len(levels))})
            for k, name in enumerate(levels):
                uniq = sorted({c[k] for c in cols})
                codes = np.array([uniq.index(c[k]) for c in cols], np.int8 if len(uniq) < 128
                                 else np.int32)
                lev = g.create_dataset(f"{prefix}_level{k}",
                                       data=np.array([u.encode() for u in uniq], dtype="S"))
                _set_attrs(lev, **array_attrs, kind="string", name=name,
                           **{f"{prefix}_name{name}": name})
                _set_attrs(g.create_dataset(f"{prefix}_label{k}", data=codes), **array_attrs)
        _set_attrs(g.create_dataset("axis1", data=np.arange(kps.num_frames, dtype=np.int64)),
                   **array_attrs, kind="integer", name="N.")
        _set_attrs(g.create_dataset("block0_values", data=values.astype(np.float64)),
                   **array_attrs)


# ----------------------------------------------------------------------------- SLEAP
def _sleap_node_order(meta: dict, skeleton: int = 0) -> list[str]:
    names = [n["name"] if isinstance(n, dict) else str(n) for n in meta["nodes"]]
    skel = meta["skeletons"][skeleton]
    order = []
    for node in skel["nodes"]:
        ref = node["id"]
        if isinstance(ref, dict):  # jsonpickle-encoded Node
            state = ref.get("py/state", {})
            order.append(state["py/tuple"][0] if "py/tuple" in state else state.get("name"))
        else:
            order.append(names[int(ref)])
    return order


def read_sleap(path: str | os.PathLike, video: int = 0) -> KeypointSet:
    """A SLEAP labels/predictions file (``.slp``, HDF5). User-labelled instances take
    precedence over the predictions they were corrected from; points not visible are NaN;
    user points score 1, predicted points keep their score. One slot per track (file order),
    untracked instances fill further slots per frame. ``video`` picks one of several videos."""
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise DataError(path, "keypoint file not found") from None
    except OSError as e:
        raise DataError(path, f"not an HDF5/SLEAP file ({e})") from None
    with f:
        for k in ("frames", "instances", "metadata"):
            if k not in f:
                raise DataError(path, f"not a SLEAP labels file (no '{k}')")
        try:
            meta = json.loads(_h5_str(f["metadata"].attrs["json"]))
            fmt = float(f["metadata"].attrs.get("format_id", 1.0))
            nodes = _sleap_node_order(meta)
            frames = f["frames"][()]
            inst = f["instances"][()]
            points = f["points"][()] if "points" in f else None
            pred = f["pred_points"][()] if "pred_points" in f else None
            tracks = [json.loads(_h5_str(t))[1] for t in f["tracks_json"][()]] \
                if "tracks_json" in f and f["tracks_json"].dtype.kind in "SOU" else []
            videos = [json.loads(_h5_str(v)) for v in f["videos_json"][()]] \
                if "videos_json" in f else []
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise DataError(path, f"malformed SLEAP file ({e})") from None
    if len(meta["skeletons"]) > 1 and len(np.unique(inst["skeleton"])) > 1:
        raise DataError(path, "instances use several skeletons; not supported")
    V = len(nodes)
    frames = frames[frames["video"] == video]
    if not len(frames):
        raise DataError(path, f"no labelled frames for video {video}")
    T = int(frames["frame_idx"].max()) + 1
    size = None
    if video < len(videos):
        shape = videos[video].get("backend", {}).get("shape")
        if shape and len(shape) == 4:
            T, size = max(T, int(shape[0])), (int(shape[1]), int(shape[2]))
    frame_of = {int(r["frame_id"]): int(r["frame_idx"]) for r in frames}
    inst = inst[np.isin(inst["frame_id"], list(frame_of))]
    replaced = set(int(i) for i in inst["from_predicted"][inst["instance_type"] == 0] if i >= 0)
    entries = []
    offset = 0.5 if fmt < 1.1 else 0.0  # format 1.0 put pixel corners at integers
    for row in inst:
        if int(row["instance_type"]) == 1 and int(row["instance_id"]) in replaced:
            continue
        user = int(row["instance_type"]) == 0
        src = points if user else pred
        a, b = int(row["point_id_start"]), int(row["point_id_end"])
        if src is None or b - a != V:
            raise DataError(path, f"instance {int(row['instance_id'])} has {b - a} points, "
                                  f"skeleton has {V}")
        p = src[a:b]
        xy = np.stack([p["x"], p["y"]], -1) - offset
        vis = p["visible"].astype(bool) & np.isfinite(xy).all(-1)
        xy[~vis] = np.nan
        s = np.where(vis, 1.0 if user else p["score"], 0.0)
        track = int(row["track"])
        entries.append((frame_of[int(row["frame_id"])], track if track >= 0 else None,
                        float(row["score"]) if not user else np.inf, xy, s))
    kp, sc, track_names = _assemble_mixed(entries, T, V, tracks)
    return KeypointSet(kp, sc, None, size, None, nodes, track_names,
                       meta={"format_id": fmt})


def _assemble_mixed(entries, T: int, V: int, tracks: list[str]):
    """Tracked instances in their track's slot (tracks in file order, only those used), then
    untracked ones in further slots per frame (user before predicted, then by score)."""
    used = sorted({e[1] for e in entries if e[1] is not None})
    slot_of = {k: i for i, k in enumerate(used)}
    untracked: dict[int, list] = {}
    for e in entries:
        if e[1] is None:
            untracked.setdefault(e[0], []).append(e)
    extra = max((len(v) for v in untracked.values()), default=0)
    M = len(used) + extra
    kp = np.full((M, T, V, 2), np.nan, np.float32)
    sc = np.zeros((M, T, V), np.float32)
    for t, key, _, xy, s in entries:
        if key is not None:
            kp[slot_of[key], t], sc[slot_of[key], t] = xy, s
    for t, group in untracked.items():
        for k, (_, _, _, xy, s) in enumerate(sorted(group, key=lambda e: -e[2])):
            kp[len(used) + k, t], sc[len(used) + k, t] = xy, s
    names = [tracks[k] if k < len(tracks) else f"track_{k}" for k in used] + \
        [f"untracked_{k}" for k in range(extra)]
    return kp, sc, names


def read_sleap_analysis(path: str | os.PathLike) -> KeypointSet:
    """A SLEAP analysis HDF5 (``tracks``, ``node_names``, ``track_names``, optional
    ``point_scores``/``track_occupancy``), in MATLAB-transposed or plain layout."""
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise DataError(path, "keypoint file not found") from None
    except OSError as e:
        raise DataError(path, f"not an HDF5 file ({e})") from None
    with f:
        if "tracks" not in f or "node_names" not in f:
            raise DataError(path, "not a SLEAP analysis file (needs 'tracks' and 'node_names')")
        tr = np.asarray(f["tracks"][()], np.float32)
        nodes = [_h5_str(n) for n in f["node_names"][()]]
        tnames = [_h5_str(n) for n in f["track_names"][()]] if "track_names" in f else None
        ps = np.asarray(f["point_scores"][()], np.float32) if "point_scores" in f else None
        occ = f["track_occupancy"][()] if "track_occupancy" in f else None
    V = len(nodes)
    if tr.ndim != 4:
        raise DataError(path, f"'tracks' must be 4-D, got shape {tr.shape}")
    if tr.shape[1] == 2 and tr.shape[2] == V:  # (tracks, xy, nodes, frames): transposed export
        kp = tr.transpose(0, 3, 2, 1)
        ps = ps.transpose(0, 2, 1) if ps is not None else None  # (tracks, nodes, frames)
    elif tr.shape[2] == 2 and tr.shape[1] == V:  # (frames, nodes, xy, tracks)
        kp = tr.transpose(3, 0, 1, 2)
        ps = ps.transpose(2, 0, 1) if ps is not None else None  # (frames, nodes, tracks)
    else:
        raise DataError(path, f"'tracks' shape {tr.shape} does not fit {V} nodes")
    M, T = kp.shape[:2]
    if ps is None or ps.shape != (M, T, V):
        ps = np.where(np.isfinite(kp).all(-1), 1.0, 0.0)
    if occ is not None:
        occ = np.asarray(occ)
        occ = occ.T if occ.shape == (T, M) else occ
        if occ.shape == (M, T):
            kp = np.where(occ[..., None, None] > 0, kp, np.nan)
    if tnames is not None and len(tnames) != M:
        tnames = None
    return KeypointSet(kp, ps, None, None, None, nodes, tnames)


# ----------------------------------------------------------------------------- dispatch
def read_keypoints(path: str | os.PathLike, **kwargs) -> KeypointSet:
    """Read any supported keypoint file, choosing the reader from extension and content."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "keypoint file not found")
    ext = path.suffix.lower()
    if ext == ".json":
        data = _load_json(path)
        if isinstance(data, dict) and "annotations" in data:
            return read_coco_json(path, **kwargs)
        return read_alphapose_json(path, **kwargs)
    if ext == ".csv":
        return read_dlc_csv(path, **kwargs)
    if ext in (".slp", ".h5", ".hdf5"):
        try:
            with h5py.File(path, "r") as f:
                kind = ("sleap" if "instances" in f and "frames" in f else
                        "analysis" if "tracks" in f and "node_names" in f else
                        "dlc" if any("pandas_type" in f[k].attrs for k in f) else None)
        except OSError as e:
            raise DataError(path, f"not an HDF5 file ({e})") from None
        if kind == "sleap":
            return read_sleap(path, **kwargs)
        if kind == "analysis":
            return read_sleap_analysis(path, **kwargs)
        if kind == "dlc":
            return read_dlc_h5(path, **kwargs)
        raise DataError(path, "HDF5 file is neither SLEAP (.slp / analysis) nor DeepLabCut")
    raise DataError(path, f"unknown keypoint format {ext!r} (expected .json, .csv, .h5, .slp)")
