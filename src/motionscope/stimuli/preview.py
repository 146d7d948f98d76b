"""Previews of generated stimuli: per-condition GIF/mp4, an all-conditions mosaic, and the
contact sheets (frames side by side, one row per condition) used in docs/bmp.md."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..fsutil import atomic_path
from ..io.paths import resolve_under
from .conditions import CLIP_FRAMES, replication_indices
from .encode import write_gif, write_rgb_mp4

__all__ = ["write_previews", "contact_sheet", "first_clip"]


def first_clip(root: str | os.PathLike, cond: str, index: int = 0,
               manifest: dict | None = None) -> np.ndarray | None:
    """The ``index``-th clip of condition ``cond`` in a stimuli folder, ``(T, H, W, 3)``."""
    from ..io.splits import read_video_csv
    from ..io.video import read_video

    root = Path(root)
    if manifest is None:
        manifest = json.loads((root / "stimuli.json").read_text(encoding="utf-8"))
    info = manifest["conditions"].get(cond)
    if info is None or not info["clips"]:
        return None
    man = root / "stimuli.json"
    lst = resolve_under(root, info["list"], source=man, line=f"conditions.{cond}.list")
    rows = read_video_csv(lst, root=resolve_under(root, info["root"], source=man,
                                                  line=f"conditions.{cond}.root"))
    return read_video(rows[min(index, len(rows) - 1)].path)


def _label(img: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = img.copy()
    scale = max(0.35, img.shape[0] / 450)
    cv2.putText(out, text, (4, int(14 * scale / 0.35 * 0.9)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 200, 0), 1, cv2.LINE_AA)
    return out


def _fit(clip: np.ndarray, height: int) -> np.ndarray:
    import cv2

    if clip.shape[1] == height:
        return clip
    w = max(2, int(round(clip.shape[2] * height / clip.shape[1])) // 2 * 2)
    return np.stack([cv2.resize(f, (w, height), interpolation=cv2.INTER_AREA) for f in clip])


def write_previews(root: str | os.PathLike, manifest: dict, kind: str = "gif",
                   tile_height: int = 160, columns: int = 6) -> dict:
    """``previews/<COND>.<kind>`` (first sample) and ``previews/all.<kind>`` (mosaic of every
    condition, each replicated to 32 frames with the test-time rule); returns their paths."""
    root = Path(root)
    out_dir = root / "previews"
    paths: dict[str, str] = {}
    tiles = []
    for cond in manifest["conditions"]:
        clip = first_clip(root, cond, manifest=manifest)
        if clip is None:
            continue
        fps = 10.0
        p = out_dir / f"{cond}.{kind}"
        if kind == "gif":
            write_gif(p, clip, fps=fps)
        else:
            write_rgb_mp4(p, clip, fps=fps)
        paths[cond] = str(p.relative_to(root))
        t = _fit(clip[replication_indices(len(clip), CLIP_FRAMES)], tile_height)
        tiles.append(np.stack([_label(f, cond) for f in t]))
    if tiles:
        w = max(t.shape[2] for t in tiles)
        tiles = [np.pad(t, ((0, 0), (0, 0), (0, w - t.shape[2]), (0, 0))) for t in tiles]
        rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
        blank = np.zeros_like(tiles[0])
        grid = np.concatenate([np.concatenate(r + [blank] * (columns - len(r)), axis=2)
                               for r in rows], axis=1)
        p = out_dir / f"all.{kind}"
        if kind == "gif":
            write_gif(p, grid, fps=10.0)
        else:
            write_rgb_mp4(p, grid, fps=10.0)
        paths["all"] = str(p.relative_to(root))
    return paths


def contact_sheet(root: str | os.PathLike, conditions, path: str | os.PathLike,
                  frames: int = 6, tile_height: int = 96, index: int = 0,
                  crop: tuple[float, float, float, float] | None = None) -> Path:
    """A PNG with one row per condition (sample ``index``, ``frames`` frames spread over the
    32-frame clip) and the condition name on the left: the pictures of docs/bmp.md.
    ``crop``: (top, bottom, left, right) fractions of the frame to keep."""
    import cv2

    root = Path(root)
    manifest = json.loads((root / "stimuli.json").read_text(encoding="utf-8"))
    rows = []
    for cond in conditions:
        clip = first_clip(root, cond, index=index, manifest=manifest)
        if clip is None:
            continue
        clip = clip[replication_indices(len(clip), CLIP_FRAMES)]
        if crop is not None:
            H, W = clip.shape[1:3]
            clip = clip[:, int(crop[0] * H):int(crop[1] * H), int(crop[2] * W):int(crop[3] * W)]
        pick = np.linspace(0, CLIP_FRAMES - 1, frames).round().astype(int)
        strip = _fit(clip[pick], tile_height)
        gap = np.full((tile_height, 3, 3), 64, np.uint8)
        body = np.concatenate([x for f in strip for x in (f, gap)][:-1], axis=1)
        label = np.zeros((tile_height, 110, 3), np.uint8)
        cv2.putText(label, cond, (4, tile_height // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(np.concatenate([label, body], axis=1))
    if not rows:
        raise DataError(root, f"no clip of {list(conditions)} in this stimuli folder")
    w = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 3), (0, w - r.shape[1]), (0, 0)), constant_values=64) for r in rows]
    sheet = np.concatenate(rows, axis=0)
    path = Path(path)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise DataError(path, "could not write the PNG")
    return path
