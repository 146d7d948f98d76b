"""Our stimuli look like the real BMP ones: dot counts, dot sizes, opacity and SP dot motion per
frame, compared with the official J-26P / J-6P / SP-8P-1LT GIFs (1920x1080) on a real NTU
skeleton rendered at the same size."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pytest

NTU_SAMPLE = "S002C001P003R001A003"  # 100 frames, one body
CONDS = ("J-26P", "J-6P", "SP-8P-1LT")
FRAMES = 40


@dataclass
class Clip:
    size: tuple[int, int]  # full frame (H, W)
    frames: np.ndarray  # cut to the union box of the dots (statistics are translation-invariant)
    counts: np.ndarray  # dots per frame
    areas: np.ndarray  # pixels of each dot
    peaks: np.ndarray  # brightest value of each dot
    centres: list  # per frame, (n, 2) dot centres


def _clip(frames: np.ndarray, thr: int = 100) -> Clip:
    import cv2
    from scipy import ndimage

    ys, xs = np.nonzero(frames.max(0))
    cut = frames[:, max(ys.min() - 8, 0):ys.max() + 9, max(xs.min() - 8, 0):xs.max() + 9]
    counts, areas, peaks, centres = [], [], [], []
    for f in cut:
        k, lab, st, cen = cv2.connectedComponentsWithStats((f > thr).astype(np.uint8))
        counts.append(k - 1)
        areas += st[1:, 4].tolist()
        if k > 1:
            peaks += ndimage.maximum(f, lab, np.arange(1, k)).astype(int).tolist()
        centres.append(cen[1:])
    return Clip(frames.shape[1:], cut, np.array(counts), np.array(areas), np.array(peaks),
                centres)


@functools.lru_cache(maxsize=1)
def _real(root: str) -> dict[str, Clip]:
    from PIL import Image, ImageSequence

    out = {}
    for n in CONDS:
        with Image.open(f"{root}/{n}.gif") as im:
            frames = [np.asarray(f.convert("L")) for _, f in zip(range(FRAMES),
                                                                 ImageSequence.Iterator(im))]
        out[n] = _clip(np.stack(frames))
    return out


@functools.lru_cache(maxsize=1)
def _ours(root: str) -> dict[str, Clip]:
    from motionscope.io.ntu import read_skeleton
    from motionscope.stimuli import from_ntu_skeleton, render_condition
    from motionscope.stimuli.generate import condition_rng

    pose = from_ntu_skeleton(read_skeleton(f"{root}/{NTU_SAMPLE}.skeleton"))
    pose = pose.select(np.arange(FRAMES))
    return {n: _clip(render_condition(n, pose, frames=None, rng=condition_rng(0, "x", n))[0])
            for n in CONDS}


@pytest.fixture
def real(shared_data):
    return _real(str(shared_data("point_light", "motion_perceiver_gifs")))


@pytest.fixture
def ours(shared_data):
    return _ours(str(shared_data("ntu_rgbd_skeleton_samples")))


def _motion(c: Clip) -> float:
    """Median frame-to-frame displacement of the dots (nearest neighbour), per body height."""
    from scipy.spatial import cKDTree

    steps = [np.median(cKDTree(b).query(a)[0]) for a, b in zip(c.centres[:-1], c.centres[1:])
             if len(a) and len(b)]
    ys = [np.nonzero(f > 100)[0] for f in c.frames]
    height = np.median([y.max() - y.min() for y in ys if len(y)])
    return float(np.median(steps) / height)


def test_frames_have_the_real_size(real, ours):
    for n in CONDS:
        assert real[n].size == ours[n].size == (1080, 1920)


@pytest.mark.parametrize("cond", CONDS)
def test_dot_size_is_the_real_one(real, ours, cond):
    r, o = real[cond].areas, ours[cond].areas
    assert np.bincount(r).argmax() == np.bincount(o).argmax() == 81  # a radius-5 filled disc
    # almost every dot is one whole disc (merged dots are the rest)
    assert np.mean(np.abs(o - 81) <= 3) > 0.8 and np.mean(np.abs(r - 81) <= 3) > 0.8


def test_dot_counts_per_frame(real, ours):
    assert (real["J-6P"].counts == 6).mean() > 0.95 and (ours["J-6P"].counts == 6).mean() > 0.95
    r26, o26 = real["J-26P"].counts, ours["J-26P"].counts
    assert o26.max() <= 26 and r26.max() <= 27
    assert abs(np.median(o26) - np.median(r26)) <= 3  # 26 points, a few merge where they touch
    rsp, osp = real["SP-8P-1LT"].counts, ours["SP-8P-1LT"].counts
    assert np.median(rsp) == np.median(osp) == 8 and osp.max() <= 8


def test_joint_dots_are_translucent_sp_dots_opaque(real, ours):
    assert real["SP-8P-1LT"].peaks.min() >= 240  # opaque (the GIF palette tops out at 252)
    assert ours["SP-8P-1LT"].peaks.min() >= 250
    for clips in (real, ours):  # score-based opacity above the 0.4 threshold
        peaks = clips["J-26P"].peaks
        assert peaks.min() > 0.4 * 255 and (peaks < 240).any()


def test_sp_dots_jump_every_frame_joint_dots_do_not(real, ours):
    for clips in (real, ours):
        m_j, m_sp = _motion(clips["J-6P"]), _motion(clips["SP-8P-1LT"])
        assert 0.03 < m_sp < 0.2 and m_sp > 5 * m_j


def test_encoded_clip_keeps_dots(ours, tmp_path):
    from motionscope.io.video import read_video
    from motionscope.stimuli.encode import write_gray_mp4

    cut = ours["J-6P"].frames[:4]
    cut = cut[:, : cut.shape[1] // 2 * 2, : cut.shape[2] // 2 * 2]
    write_gray_mp4(tmp_path / "j6.mp4", cut, 30.0)
    back = _clip(read_video(tmp_path / "j6.mp4")[..., 0])
    assert (back.counts == 6).all() and abs(np.median(back.areas) - 81) <= 6
