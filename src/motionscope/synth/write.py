"""Writing the embedded world's files: a rendered clip in every format through the io writers
(NTU ``.skeleton``, mp4, rawframes, depth PNGs, AlphaPose JSON, joints and silhouette ``.npz``),
a behaviour video's frames and keypoints, the split lists, and what the manifest says.
Every writer is deterministic: equal inputs give equal bytes."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

from ..fsutil import atomic_path
from ..layouts import get_layout
from .body import BODY_JOINTS, LAYOUT_MAPS
from .camera import ClipPlan, performer, performer_pools, setup_params
from .plan import WorldConfig

__all__ = ["save_npz"]

_LAYOUTS = ("ntu25", "halpe26", "coco17", "kinect20")
_KINECT_BODY_ID = 72057594037927936  # 2**56, the base of Kinect v2 tracking ids


def save_npz(path: str | os.PathLike, arrays: dict, compress: bool = True) -> None:
    """``np.savez_compressed`` with fixed zip timestamps (so equal arrays give equal bytes),
    written atomically; read it with ``np.load``."""
    with atomic_path(path) as tmp, zipfile.ZipFile(
            tmp, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        for k, v in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(v), allow_pickle=False)
            info = zipfile.ZipInfo(f"{k}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zf.compression
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def _orientations(j3: np.ndarray) -> np.ndarray:
    """Kinect-style joint orientations (T, 25, 4) as quaternions (w, x, y, z) in camera space:
    y along the bone to the joint's main child, x towards the body's left; 0 for leaves."""
    T = j3.shape[0]
    child = {0: 1, 1: 20, 20: 2, 2: 3, 4: 5, 5: 6, 6: 7, 7: 21, 8: 9, 9: 10, 10: 11, 11: 23,
             12: 13, 13: 14, 14: 15, 16: 17, 17: 18, 18: 19}
    q = np.zeros((T, 25, 4))
    idx = np.array(sorted(child))
    y = j3[:, [child[i] for i in idx]] - j3[:, idx]
    y /= np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-9)
    left_up = j3[:, 4] - j3[:, 8]
    left_lo = j3[:, 12] - j3[:, 16]
    ref = np.where(np.isin(idx, [12, 13, 14, 16, 17, 18, 0])[None, :, None],
                   left_lo[:, None], left_up[:, None])
    x = ref - (ref * y).sum(-1, keepdims=True) * y
    x /= np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)
    z = np.cross(x, y)
    R = np.stack([x, y, z], -1)  # columns
    w = np.sqrt(np.maximum(1 + R[..., 0, 0] + R[..., 1, 1] + R[..., 2, 2], 1e-12)) / 2
    qx = (R[..., 2, 1] - R[..., 1, 2]) / (4 * w)
    qy = (R[..., 0, 2] - R[..., 2, 0]) / (4 * w)
    qz = (R[..., 1, 0] - R[..., 0, 1]) / (4 * w)
    q[:, idx] = np.stack([w, qx, qy, qz], -1)
    return q


def _layout_arrays(out, layout: str):
    m = LAYOUT_MAPS[layout]
    return (out.joints_cam[:, m].astype(np.float32), out.joints_2d[:, m].astype(np.float32),
            out.visible[:, m])


def _detector_keypoints(rng, out, layout: str, size):
    """Halpe-26 2D keypoints as a pose detector reports them: small pixel noise (more when
    occluded) and scores (high when visible, low when occluded, missing out of frame)."""
    _, uv, vis = _layout_arrays(out, layout)
    H, W = size
    T, V = vis.shape
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < W) & (uv[..., 1] >= 0) & (uv[..., 1] < H)
    span = np.ptp(uv[..., 1], axis=1).clip(20, None)[:, None, None]  # body height in pixels
    noise = rng.normal(0, 1, uv.shape) * 0.006 * span * np.where(vis, 1.0, 3.0)[..., None]
    kp = (uv + noise).astype(np.float32)
    scores = np.where(vis, rng.uniform(0.82, 0.97, (T, V)), rng.uniform(0.35, 0.65, (T, V)))
    scores = np.where(inside, scores, 0.0).astype(np.float32)
    kp[~inside] = np.nan
    return kp, scores


# ----------------------------------------------------------------------------- one clip
def _write_clip_files(root: Path, cfg: WorldConfig, plan: ClipPlan, paths: dict, out, crng,
                      joints_w: np.ndarray) -> None:
    """Write one rendered clip: its exact joints (``paths["joints"]``, always) and every other
    format in ``paths`` (see :func:`.plan._clip_paths`); ``crng`` draws the keypoint noise."""
    from ..io import depth as io_depth
    from ..io import keypoints as io_kp
    from ..io import ntu as io_ntu
    from ..io import rawframes as io_raw
    from ..io import video as io_video

    T = cfg.frames
    arrays = {"label": np.int64(plan.label), "fps": np.float64(cfg.fps),
              "image_size": np.array(cfg.size, np.int64)}
    for lay in _LAYOUTS:
        j3, j2, vis = _layout_arrays(out, lay)
        arrays[f"{lay}_3d"], arrays[f"{lay}_2d"], arrays[f"{lay}_vis"] = j3, j2, vis
    cam = setup_params(cfg.seed, plan.setup).camera(plan.camera, cfg.size)
    arrays.update(body_world=joints_w.astype(np.float32), body_joints=np.array(BODY_JOINTS),
                  K=cam.K, R=cam.R, C=cam.C, jitter=out.jitter.astype(np.int64))
    save_npz(root / paths["joints"], arrays)
    if "skeleton" in paths:
        j3, j2, vis = _layout_arrays(out, "ntu25")
        spine = j3[:, 20] - j3[:, 0]
        spine /= np.linalg.norm(spine, axis=-1, keepdims=True)
        info = np.zeros((1, T, 9))
        info[0, :, 6], info[0, :, 7], info[0, :, 8] = spine[:, 0], spine[:, 2] * -1, 2
        io_ntu.write_skeleton(
            root / paths["skeleton"], j3[None], j2[None], j2[None],
            body_ids=[str(_KINECT_BODY_ID + 1000 * plan.performer + 10 * plan.replication
                          + plan.camera)],
            orientation=_orientations(j3.astype(np.float64))[None],
            tracking=np.where(vis, 2, 1)[None], info=info)
    if "video" in paths:
        io_video.write_video(root / paths["video"], out.rgb, fps=cfg.fps, crf=cfg.crf)
    if "rawframes" in paths:
        io_raw.write_frames(root / paths["rawframes"], out.rgb, quality=cfg.jpeg_quality)
    if "depth" in paths:
        io_depth.write_depth_folder(root / paths["depth_masked"], out.depth_masked)
        io_depth.write_depth_folder(root / paths["depth"], out.depth, template="Depth-{:08d}.png")
    if "keypoints" in paths:
        kp, sc = _detector_keypoints(crng, out, "halpe26", cfg.size)
        io_kp.write_alphapose_json(root / paths["keypoints"], io_kp.KeypointSet(
            kp[None], sc[None], layout="halpe26", image_size=tuple(cfg.size)))
    if "silhouette" in paths:
        save_npz(root / paths["silhouette"], {"mask": out.mask.astype(np.uint8)})


# ----------------------------------------------------------------------------- behaviour
def _write_behavior_files(root: Path, cfg: WorldConfig, split: str, name: str, out,
                          labels: np.ndarray) -> tuple[str, str]:
    """Write a rendered behaviour video: its frame folder and its true keypoints and per-frame
    labels (``.npz``); returns both paths relative to ``root``."""
    from ..io import rawframes as io_raw

    folder = f"behavior/{split}/{name}"
    io_raw.write_frames(root / folder, out.rgb, quality=cfg.jpeg_quality)
    kp_path = f"behavior/keypoints/{name}.npz"
    j3, j2, vis = _layout_arrays(out, "halpe26")
    save_npz(root / kp_path, {"keypoints": j2, "visible": vis, "joints_3d": j3,
                              "labels": labels.astype(np.int64),
                              "image_size": np.array(cfg.size, np.int64),
                              "layout": np.array("halpe26"),
                              "joint_names": np.array(get_layout("halpe26").joints)})
    return folder, kp_path


# ----------------------------------------------------------------------------- the world
def _write_lists(root: Path, cfg: WorldConfig, clips: list[dict]) -> dict:
    from ..io import rawframes as io_raw
    from ..io import splits as io_splits

    f = set(cfg.formats)
    lists: dict = {}
    for split in ("train", "val", "test"):
        cs = [c for c in clips if c["split"] == split]
        T = cfg.frames
        if "rgb" in f:
            p = f"splits/{split}_videos.csv"
            io_splits.write_video_csv(root / p, [(c["paths"]["video"][len("videos/"):],
                                                  c["label"]) for c in cs])
            lists.setdefault("videos", {"root": "videos"})[split] = p
        for key, fmt, root_dir, suffix in (
                ("rawframes", "rawframes", "rawframes", ""),
                ("depth", "depth", "depth_masked", ""),
                ("skeleton", "skeleton", "skeleton", ".skeleton"),
                ("keypoints", "keypoints", "keypoints", ".json")):
            if fmt not in f:
                continue
            p = f"splits/{split}_{key}.txt"
            io_raw.write_rawframe_list(root / p, [(c["name"] + suffix, T, c["label"])
                                                  for c in cs])
            lists.setdefault(key, {"root": root_dir})[split] = p
    if "depth" in f:
        lists["depth"]["root_full"] = "depth"
    return lists


def _manifest(cfg: WorldConfig, cls, plans, clips, lists, behavior) -> dict:
    setups = sorted({p.setup for p in plans} | ({1} if behavior else set()))
    pools = performer_pools(cfg.performers)
    perfs = []
    for pid in range(1, cfg.performers + 1):
        sh = performer(cfg.seed, pid).shape
        split = next(k for k, v in pools.items() if pid in v)
        perfs.append({"id": pid, "pool": split, "height": round(sh.height, 4),
                      "girth": round(sh.girth, 4)})
    return {
        "format": "motionscope-world", "version": 1, "config": cfg.to_dict(),
        "fps": cfg.fps,
        "classes": [{"label": c.label, "name": c.name, "key": c.key, "ntu_action": c.code,
                     "styles": list(c.styles)} for c in cls],
        "layouts": {k: list(get_layout(k).joints) for k in _LAYOUTS},
        "splits": {"default": "by performer: pools below; test = NTU cross-subject test "
                              "performers", "pools": pools,
                   "ntu_rules": "names follow NTU RGB+D 120: use io.splits.ntu_split(name, "
                                "'ntu120_xsub' | 'ntu120_xset'); cross-view: camera 1 test"},
        "counts": {s: sum(c["split"] == s for c in clips) for s in ("train", "val", "test")},
        "cameras": {f"S{s:03d}C{c:03d}": setup_params(cfg.seed, s).camera(c, cfg.size).to_dict()
                    for s in setups for c in (1, 2, 3)},
        "performers": perfs,
        "lists": lists,
        "clips": clips,
        "behavior": behavior,
    }
