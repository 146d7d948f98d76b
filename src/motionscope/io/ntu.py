"""NTU RGB+D ``.skeleton`` files and ``SsssCcccPpppRrrrAaaa`` sample names.

The ``.skeleton`` format is the Kinect v2 text dump released with NTU RGB+D 60/120::

    <num_frames>
    per frame:  <num_bodies>
      per body: <bodyID> <clipedEdges> <handLeftConfidence> <handLeftState>
                <handRightConfidence> <handRightState> <isResticted> <leanX> <leanY> <trackingState>
                <num_joints = 25>
                25 x: x y z depthX depthY colorX colorY orientW orientX orientY orientZ tracking

Every field is kept: a reader that drops some makes a writer that cannot reproduce the file, and
the colour/depth pixel coordinates are what RGB-based systems crop with. Parsing walks the small
frame/body structure in Python and converts all joint numbers in one numpy call, which is what
makes reading ~100-frame files fast (hundreds per second per core).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DataError
from ..fsutil import atomic_open

NUM_JOINTS = 25
#: column order of :attr:`NTUBody.info` (the body line without ``bodyID``)
INFO_FIELDS = (
    "clipedEdges",
    "handLeftConfidence",
    "handLeftState",
    "handRightConfidence",
    "handRightState",
    "isResticted",
    "leanX",
    "leanY",
    "trackingState",
)
#: the 12 numbers of one joint line, in file order
JOINT_FIELDS = (
    "x", "y", "z", "depthX", "depthY", "colorX", "colorY",
    "orientationW", "orientationX", "orientationY", "orientationZ", "trackingState",
)
_KINECT_ID_BASE = 2**56  # Kinect v2 tracking ids are 2**56 + a small counter
_FIELD_SLICES = {
    "joints": slice(0, 3),
    "depth_xy": slice(3, 5),
    "color_xy": slice(5, 7),
    "orientation": slice(7, 11),
    "tracking": slice(11, 12),
}


# ----------------------------------------------------------------------------- names
_NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


class NTUName(NamedTuple):
    """The five ids of an NTU sample name; ``label`` is the 0-based class index."""

    setup: int
    camera: int
    performer: int
    replication: int
    action: int

    @property
    def name(self) -> str:
        return format_ntu_name(*self)

    @property
    def label(self) -> int:
        return self.action - 1


def parse_ntu_name(name: str | os.PathLike) -> NTUName:
    """Parse ``S001C002P003R002A006`` from a name, a path or a name with a suffix (``_rgb.avi``)."""
    base = os.path.basename(os.fspath(name))
    m = _NAME_RE.match(base) or _NAME_RE.search(base)
    if m is None:
        raise DataError(name, "not an NTU sample name (expected SsssCcccPpppRrrrAaaa, e.g. "
                              "S001C002P003R002A006)")
    return NTUName(*(int(g) for g in m.groups()))


def format_ntu_name(setup: int, camera: int, performer: int, replication: int, action: int) -> str:
    """``format_ntu_name(1, 2, 3, 2, 6) == "S001C002P003R002A006"``."""
    ids = (setup, camera, performer, replication, action)
    if any(not 0 <= int(i) <= 999 for i in ids):
        raise ValueError(f"NTU ids must be in 0..999, got {ids}")
    return "S{:03d}C{:03d}P{:03d}R{:03d}A{:03d}".format(*(int(i) for i in ids))


def read_missing_list(path: str | os.PathLike) -> set[str]:
    """The official list of samples whose skeletons are missing or empty (one name a line)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise DataError(path, f"cannot read missing-skeleton list ({e.strerror})") from None
    names = set()
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if _NAME_RE.search(line) is None:
            raise DataError(path, f"line {n}: {line!r} is not an NTU sample name")
        names.add(_NAME_RE.search(line).group(0))
    return names


# ----------------------------------------------------------------------------- data
@dataclass
class NTUBody:
    """One tracked body (one ``bodyID``) over the frames in which it appears.

    ``frame_index`` are the true 0-based frame indices (gaps kept), so callers can rebuild both
    the full timeline and the compacted one some preprocessing scripts use.
    """

    body_id: str
    frame_index: np.ndarray  # (T_b,) int64
    joints: np.ndarray  # (T_b, 25, 3) float32 metres, camera space
    depth_xy: np.ndarray  # (T_b, 25, 2) float32 depth-image pixels
    color_xy: np.ndarray  # (T_b, 25, 2) float32 colour-image pixels
    orientation: np.ndarray  # (T_b, 25, 4) float32 quaternion w, x, y, z
    tracking: np.ndarray  # (T_b, 25) int8: 0 not tracked, 1 inferred, 2 tracked
    info: np.ndarray  # (T_b, 9) float32, columns INFO_FIELDS
    order: np.ndarray | None = None  # (T_b,) position of this body in each frame's body list

    def __len__(self) -> int:
        return len(self.frame_index)


@dataclass
class NTUSkeleton:
    """A whole ``.skeleton`` file: ``num_frames`` frames, bodies in order of first appearance."""

    num_frames: int
    bodies: list[NTUBody]
    body_counts: np.ndarray = field(default=None)  # (num_frames,) bodies listed in each frame
    name: str = ""

    def __post_init__(self):
        counts = np.zeros(self.num_frames, np.int64)
        for b in self.bodies:  # bodies built by hand: listed in body order within a frame
            if b.order is None:
                b.order = counts[b.frame_index].copy()
            np.add.at(counts, b.frame_index, 1)
        if self.body_counts is None:
            self.body_counts = counts

    def to_array(self, max_bodies: int = 2, field: str = "joints", slots: str = "id") -> np.ndarray:
        """Stack into ``(M, T, 25, C)`` float32 with zeros where a body is absent.

        ``field``: ``joints`` (C=3), ``depth_xy``/``color_xy`` (2), ``orientation`` (4),
        ``tracking`` (1). ``slots="id"``: body m is the m-th bodyID by first appearance (a body
        keeps its slot over time); ``slots="frame"``: slot m is the m-th body listed in each frame
        (the ST-GCN convention, which ignores ids).
        """
        if field not in _FIELD_SLICES:
            raise ValueError(f"field must be one of {sorted(_FIELD_SLICES)}, got {field!r}")
        if slots not in ("id", "frame"):
            raise ValueError(f"slots must be 'id' or 'frame', got {slots!r}")
        sl = _FIELD_SLICES[field]
        out = np.zeros((max_bodies, self.num_frames, NUM_JOINTS, sl.stop - sl.start), np.float32)
        for m_or_k, body in enumerate(self.bodies):
            values = _body_field(body, field)
            if slots == "id":
                if m_or_k < max_bodies:
                    out[m_or_k, body.frame_index] = values
            else:
                keep = body.order < max_bodies
                out[body.order[keep], body.frame_index[keep]] = values[keep]
        return out


def _body_field(body: NTUBody, field: str) -> np.ndarray:
    if field == "tracking":
        return body.tracking[..., None].astype(np.float32)
    return getattr(body, field)


# ----------------------------------------------------------------------------- reading
def read_skeleton(path: str | os.PathLike) -> NTUSkeleton:
    """Read an NTU RGB+D ``.skeleton`` file with every field (see module docstring)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(path, f"cannot read skeleton file ({e.strerror})") from None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as e:
        raise DataError(path, f"not a text .skeleton file (non-ASCII byte at offset {e.start})") \
            from None
    lines = text.split("\n")
    nlines = len(lines)

    def header_int(i: int, what: str, where: str) -> int:
        if i >= nlines or not lines[i].strip():
            raise DataError(path, f"file ends early: expected {what} at line {i + 1} ({where})")
        try:
            return int(lines[i])
        except ValueError:
            raise DataError(path, f"line {i + 1}: expected {what} ({where}), "
                                  f"got {lines[i].strip()!r}") from None

    num_frames = header_int(0, "the frame count", "file header")
    if num_frames < 0:
        raise DataError(path, f"line 1: negative frame count {num_frames}")
    i = 1
    body_counts = np.zeros(num_frames, np.int64)
    ids: dict[str, int] = {}  # bodyID -> body index
    per_body_frames: list[list[int]] = []
    per_body_info: list[list[str]] = []
    per_body_lines: list[list[int]] = []  # first joint-line index per appearance
    per_body_order: list[list[int]] = []
    for t in range(num_frames):
        nb = header_int(i, "the body count", f"frame {t + 1} of {num_frames}")
        if nb < 0:
            raise DataError(path, f"line {i + 1}: negative body count {nb} in frame {t + 1}")
        body_counts[t] = nb
        i += 1
        for b in range(nb):
            where = f"frame {t + 1} of {num_frames}, body {b + 1} of {nb}"
            if i >= nlines or not lines[i].strip():
                raise DataError(path, f"file ends early: expected a body line at line {i + 1} "
                                      f"({where}); the file is cut mid-frame")
            info = lines[i].split()
            if len(info) != 10:
                raise DataError(path, f"line {i + 1}: body line has {len(info)} fields, "
                                      f"expected 10 ({where})")
            nj = header_int(i + 1, "the joint count", where)
            if nj != NUM_JOINTS:
                raise DataError(path, f"line {i + 2}: joint count {nj}, expected {NUM_JOINTS} "
                                      f"({where})")
            if i + 2 + NUM_JOINTS > nlines or not lines[i + 1 + NUM_JOINTS].strip():
                have = sum(1 for ln in lines[i + 2:i + 2 + NUM_JOINTS] if ln.strip())
                raise DataError(path, f"file ends early at line {i + 2 + have}: {have} of "
                                      f"{NUM_JOINTS} joint lines ({where}); the file is cut "
                                      "mid-frame")
            k = ids.setdefault(info[0], len(ids))
            if k == len(per_body_frames):
                per_body_frames.append([])
                per_body_info.append([])
                per_body_lines.append([])
                per_body_order.append([])
            per_body_order[k].append(b)
            per_body_frames[k].append(t)
            per_body_info[k].append(lines[i])
            per_body_lines[k].append(i + 2)
            i += 2 + NUM_JOINTS
    if any(ln.strip() for ln in lines[i:]):
        extra = next(n for n in range(i, nlines) if lines[n].strip())
        raise DataError(path, f"line {extra + 1}: unexpected data after the last of "
                              f"{num_frames} frames")

    bodies = []
    for k, body_id in enumerate(ids):
        starts = per_body_lines[k]
        chunk = [lines[s + j] for s in starts for j in range(NUM_JOINTS)]
        vals = _parse_numbers(path, chunk, 12, [s + j for s in starts for j in range(NUM_JOINTS)])
        vals = vals.reshape(len(starts), NUM_JOINTS, 12)
        info = _parse_numbers(path, [ln.split(None, 1)[1] for ln in per_body_info[k]], 9,
                              [s - 2 for s in starts]).reshape(len(starts), 9)
        bodies.append(NTUBody(
            body_id=body_id,
            frame_index=np.asarray(per_body_frames[k], np.int64),
            joints=vals[..., 0:3].astype(np.float32),
            depth_xy=vals[..., 3:5].astype(np.float32),
            color_xy=vals[..., 5:7].astype(np.float32),
            orientation=vals[..., 7:11].astype(np.float32),
            tracking=vals[..., 11].astype(np.int8),
            info=info.astype(np.float32),
            order=np.asarray(per_body_order[k], np.int64),
        ))
    return NTUSkeleton(num_frames=num_frames, bodies=bodies, body_counts=body_counts,
                       name=path.name.split(".")[0])


def _parse_numbers(path: Path, chunk: list[str], width: int, line_index: list[int]) -> np.ndarray:
    """Parse ``width`` numbers per line for all lines at once; locate the bad line on failure."""
    try:  # numpy's C text parser: ~10x faster than float() per token
        vals = np.loadtxt(chunk, dtype=np.float64, ndmin=2, comments=None)
        if vals.shape == (len(chunk), width):
            return vals
    except ValueError:
        pass
    for ln, n in zip(chunk, line_index):
        toks = ln.split()
        if len(toks) != width:
            raise DataError(path, f"line {n + 1}: {len(toks)} numbers, expected {width}")
        for tok in toks:
            try:
                float(tok)
            except ValueError:
                raise DataError(path, f"line {n + 1}: non-numeric field {tok!r}") from None
    raise DataError(path, "malformed numbers")  # pragma: no cover - unreachable by construction


# ----------------------------------------------------------------------------- writing
def shortest_float32_decimals(x: np.ndarray) -> np.ndarray:
    """float64 values of float32 data, each the shortest decimal (up to 7 significant digits)
    that reads back to the same float32: ``%.7g`` of float32(9.94e-07) prints 9.939999e-07,
    of this 9.94e-07, which is what the released files hold."""
    f32 = np.asarray(x, np.float32)
    out = f32.astype(np.float64)
    nz = np.isfinite(out) & (out != 0)
    mag = np.zeros_like(out)
    mag[nz] = np.floor(np.log10(np.abs(out[nz])))
    todo = nz.copy()
    for digits in range(1, 7):
        scale = 10.0 ** (digits - 1 - mag)
        cand = np.round(out * scale) / scale
        ok = todo & (cand.astype(np.float32) == f32)
        out[ok] = cand[ok]
        todo &= ~ok
    return out


def write_skeleton(
    path: str | os.PathLike,
    joints: np.ndarray,
    depth_xy: np.ndarray,
    color_xy: np.ndarray,
    *,
    body_ids: list[str] | None = None,
    orientation: np.ndarray | None = None,
    tracking: np.ndarray | None = None,
    info: np.ndarray | None = None,
) -> None:
    """Write an NTU ``.skeleton`` file (CRLF lines, C#-style 7-significant-digit floats, atomic).

    ``joints (M, T, 25, 3)`` metres; a body is written in frame t only when all its 75 joint
    coordinates are finite (NaN = absent). ``depth_xy``/``color_xy (M, T, 25, 2)`` pixels,
    ``orientation (M, T, 25, 4)`` (default 0), ``tracking (M, T, 25)`` (default 2 = tracked),
    ``info (M, T, 9)`` in :data:`INFO_FIELDS` order (default all 0 with trackingState 2).
    ``body_ids`` default to Kinect-like ids ``2**56 + 1000 + m``. float32 joints (as read from
    a file) are written as the shortest decimal that reads back to the same float32, so a file
    read and written again keeps its text.
    """
    if isinstance(joints, np.ndarray) and joints.dtype == np.float32:
        joints = shortest_float32_decimals(joints)
    joints = np.asarray(joints, np.float64)
    if joints.ndim != 4 or joints.shape[2:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must be (M, T, 25, 3), got {joints.shape}")
    M, T = joints.shape[:2]

    def arr(x, shape, default, name):
        if x is None:
            return np.broadcast_to(np.asarray(default, np.float64), shape)
        x = np.asarray(x, np.float64)
        if x.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {x.shape}")
        return x

    depth_xy = arr(depth_xy, (M, T, NUM_JOINTS, 2), 0.0, "depth_xy")
    color_xy = arr(color_xy, (M, T, NUM_JOINTS, 2), 0.0, "color_xy")
    orientation = arr(orientation, (M, T, NUM_JOINTS, 4), 0.0, "orientation")
    tracking = arr(tracking, (M, T, NUM_JOINTS), 2, "tracking")
    info = arr(info, (M, T, 9), [0, 0, 0, 0, 0, 0, 0.0, 0.0, 2], "info")
    if body_ids is None:
        body_ids = [str(_KINECT_ID_BASE + 1000 + m) for m in range(M)]
    body_ids = [str(b) for b in body_ids]
    if len(body_ids) != M or any(not b.isascii() or len(b.split()) != 1 for b in body_ids):
        raise ValueError(f"body_ids must be {M} ASCII strings without spaces, got {body_ids}")

    present = np.isfinite(joints).all(axis=(2, 3))  # (M, T)
    for name, a in (("depth_xy", depth_xy), ("color_xy", color_xy),
                    ("orientation", orientation), ("tracking", tracking), ("info", info)):
        bad = present & ~np.isfinite(a.reshape(M, T, -1)).all(-1)
        if bad.any():
            m, t = np.argwhere(bad)[0]
            raise ValueError(f"{name} is not finite for present body {m} in frame {t}")

    # one %-format per body-frame; "+ 0.0" turns -0.0 into 0 as C# prints it
    block_fmt = ("%.7g " * 11 + "%d\r\n") * NUM_JOINTS
    info_fmt = "%d " * 6 + "%.7g %.7g %d\r\n" + f"{NUM_JOINTS}\r\n"
    values = np.concatenate([joints, depth_xy, color_xy, orientation, tracking[..., None]],
                            axis=-1) + 0.0  # (M, T, 25, 12)
    values[..., 11] = np.round(values[..., 11])
    info = info + 0.0
    info[..., [0, 1, 2, 3, 4, 5, 8]] = np.round(info[..., [0, 1, 2, 3, 4, 5, 8]])
    out = [f"{T}\r\n"]
    for t in range(T):
        ms = np.flatnonzero(present[:, t])
        out.append(f"{len(ms)}\r\n")
        for m in ms:
            out.append(body_ids[m])  # ids stay verbatim; numbers get C#'s upper-case 'E'
            out.append(" " + (info_fmt % tuple(info[m, t].tolist())
                              + block_fmt % tuple(values[m, t].ravel().tolist())).replace("e", "E"))
    text = "".join(out)
    with atomic_open(path, "w", encoding="ascii", newline="") as f:
        f.write(text)
