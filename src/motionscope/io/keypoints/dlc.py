"""DeepLabCut CSV and HDF5 files (single- and multi-animal), without pandas.

DeepLabCut's pandas HDF5 (``fixed`` and ``table`` formats) is decoded with h5py; the ``table``
format keeps column names in pickled attributes, which are read with an unpickler that only
accepts plain lists/tuples/strings/numbers (anything else is refused).
"""

from __future__ import annotations

import csv
import io
import os
import pickle
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ...errors import DataError
from ...fsutil import atomic_path, atomic_write_text
from ..paths import read_text
from .core import KeypointSet, _h5_str, _open_h5

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
    text = read_text(path, "CSV", missing="keypoint file not found")
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
    with _open_h5(path) as f:
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


