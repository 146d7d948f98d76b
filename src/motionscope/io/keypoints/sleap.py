"""SLEAP labels/predictions (``.slp``) and analysis HDF5 (``.h5``) files, read with h5py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ...errors import DataError
from .core import KeypointSet, _h5_str, _open_h5


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
    with _open_h5(path, "an HDF5/SLEAP") as f:
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
    with _open_h5(path) as f:
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


