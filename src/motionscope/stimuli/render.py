"""Point-light rendering: white dots on black, as the official AlphaPose renderers draw them.

Official rules (specs/mp.md 13.3-13.4, AlphaPose/JOINTS/vis.py and SP/vis.py):

* **J** videos: each chosen Halpe point whose score is above the visibility threshold
  (``score > threshold``; AlphaPose's default for its Halpe-26 FastPose model, which is trained
  with an MSE heat-map loss, is 0.4) is a filled white disc of radius 5 px on the 1920x1080
  frame, alpha-blended with opacity ``clip(score, 0, 1)``; no lines.
* **SP** videos: one opaque dot per limb segment at ``start + u (end - start)`` (rounded), with
  ``u ~ U[0, 1.000001)``; ``u`` (and, for 4 points, the 4 limbs) are redrawn at frames whose
  number is a multiple of the lifetime; both endpoints must pass the threshold.

Sizes: the radius is ``5 / 1080`` of the output frame height (5 px at NTU's 1080 rows, ~1 px at
224 rows). At the native size with a radius of 2.5 px or more, dots are drawn exactly as
OpenCV's ``cv2.circle(..., 5, -1)`` at truncated integer centres (the official renderer); below
that, or when the keypoints are rescaled, dots are anti-aliased discs (pixel coverage
``clip(r + 0.5 - d, 0, 1)`` at sub-pixel centres), which is what drawing at full size and
down-scaling would give, without dots that flicker between 1 and 5 pixels. Overlapping dots
composite as repeated alpha blending does (``1 - prod(1 - alpha)``), which equals the official
uint8 blending up to one grey level where dots overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .conditions import SP_LIMBS
from .halpe import Pose

__all__ = ["OFFICIAL_RADIUS", "OFFICIAL_HEIGHT", "DEFAULT_THRESHOLD", "dot_radius",
           "joint_dots", "sp_dots", "draw_dots", "draw_dots_sparse", "SparseClip", "scale_points",
           "disc_template"]

#: the official dot radius (px) on NTU's 1920x1080 frames
OFFICIAL_RADIUS = 5
OFFICIAL_HEIGHT = 1080
#: AlphaPose's visibility threshold for MSE-loss models such as Halpe-26 FastPose
DEFAULT_THRESHOLD = 0.4


def dot_radius(height: int, radius: float | None = None) -> float:
    """Dot radius in pixels for frames of ``height`` rows (``radius`` overrides it)."""
    if radius is not None:
        return float(radius)
    return OFFICIAL_RADIUS * float(height) / OFFICIAL_HEIGHT


def scale_points(xy: np.ndarray, src_size: tuple[int, int], dst_size: tuple[int, int]):
    """Source pixel coordinates -> output pixel coordinates (pixel centres stay aligned with
    a resize of the source frames)."""
    sy, sx = dst_size[0] / src_size[0], dst_size[1] / src_size[1]
    if sx == 1 and sy == 1:
        return xy
    out = np.empty_like(xy)
    out[..., 0] = (xy[..., 0] + 0.5) * sx - 0.5
    out[..., 1] = (xy[..., 1] + 0.5) * sy - 0.5
    return out


def joint_dots(pose: Pose, points, threshold: float = DEFAULT_THRESHOLD):
    """Dots of a J condition: ``xy (T, M*P, 2)`` and ``alpha (T, M*P)`` (0 = not drawn)."""
    pts = list(points)
    kp = pose.keypoints[:, :, pts]  # (M, T, P, 2)
    sc = pose.scores[:, :, pts]
    alpha = np.where(sc > threshold, np.clip(sc, 0.0, 1.0), 0.0)
    M, T, P = sc.shape
    xy = kp.transpose(1, 0, 2, 3).reshape(T, M * P, 2)
    return xy, alpha.transpose(1, 0, 2).reshape(T, M * P).astype(np.float32)


def sp_dots(pose: Pose, limbs: int, lifetime: int, rng: np.random.Generator,
            threshold: float = DEFAULT_THRESHOLD, integer: bool = False):
    """Dots of an SP condition: ``limbs`` (8 or 4) dots per person, positions redrawn at the
    first frame and at every frame whose source number is a multiple of ``lifetime``.

    ``integer`` reproduces the official pixel arithmetic (truncated endpoints, rounded dot).
    """
    if limbs not in (4, 8):
        raise ValueError(f"SP stimuli have 4 or 8 points, got {limbs}")
    if lifetime < 1:
        raise ValueError(f"lifetime must be >= 1 frame, got {lifetime}")
    M, T = pose.scores.shape[:2]
    kp = np.trunc(pose.keypoints) if integer else pose.keypoints
    ok = pose.scores > threshold
    seg = np.asarray(SP_LIMBS)
    u = np.empty((T, 8))
    which = np.empty((T, limbs), np.int64)
    cur_u = cur_l = None
    for t, fid in enumerate(pose.frame_ids):
        if cur_u is None or (fid % lifetime == 0 and fid != pose.frame_ids[t - 1]):
            cur_u = rng.uniform(0.0, 1.000001, 8)
            cur_l = np.arange(8) if limbs == 8 else rng.choice(8, 4, replace=False)
        u[t], which[t] = cur_u, cur_l
    a_idx, b_idx = seg[which, 0], seg[which, 1]  # (T, limbs)
    tt = np.arange(T)[:, None]
    start = kp[:, tt, a_idx]  # (M, T, limbs, 2)
    end = kp[:, tt, b_idx]
    uu = u[:, :limbs][None, :, :, None]
    pos = start + uu * (end - start)
    if integer:
        pos = np.round(pos)
    valid = ok[:, tt, a_idx] & ok[:, tt, b_idx]
    xy = pos.transpose(1, 0, 2, 3).reshape(T, M * limbs, 2)
    alpha = valid.transpose(1, 0, 2).reshape(T, M * limbs).astype(np.float32)
    return xy, alpha


_TEMPLATES: dict[int, np.ndarray] = {}


def disc_template(radius: int) -> np.ndarray:
    """The pixels ``cv2.circle(img, c, radius, 255, -1)`` fills, as a (2r+1, 2r+1) bool mask."""
    r = int(radius)
    if r not in _TEMPLATES:
        import cv2

        m = np.zeros((2 * r + 1, 2 * r + 1), np.uint8)
        cv2.circle(m, (r, r), r, 255, -1)
        _TEMPLATES[r] = m > 0
    return _TEMPLATES[r]


@dataclass
class SparseClip:
    """Grey frames ``(T, H, W)`` that are black except at a few pixels: sorted flat indices
    into the clip and their uint8 values. Point-light clips are >99% black, so rendering and
    encoding only the lit pixels is what makes stimulus generation fast."""

    shape: tuple[int, int, int]
    index: np.ndarray  # (K,) int64, sorted, into the flattened (T, H, W) clip
    value: np.ndarray  # (K,) uint8

    def __len__(self) -> int:
        return self.shape[0]

    def dense(self) -> np.ndarray:
        out = np.zeros(int(np.prod(self.shape)), np.uint8)
        out[self.index] = self.value
        return out.reshape(self.shape)

    def frame_bounds(self) -> list[int]:
        """Where each frame's pixels start in ``index`` (``T + 1`` positions)."""
        hw = self.shape[1] * self.shape[2]
        return np.searchsorted(self.index, np.arange(self.shape[0] + 1) * hw).tolist()

    def frame(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Lit pixels of frame ``t``: flat indices into (H, W) and values."""
        hw = self.shape[1] * self.shape[2]
        lo, hi = np.searchsorted(self.index, [t * hw, (t + 1) * hw])
        return self.index[lo:hi] - t * hw, self.value[lo:hi]

    def take(self, frames) -> SparseClip:
        """The clip made of ``frames`` (indices, any order, repeats allowed)."""
        hw = self.shape[1] * self.shape[2]
        parts = [self.frame(int(f)) for f in frames]
        index = np.concatenate([i + k * hw for k, (i, _) in enumerate(parts)] or [[]])
        value = np.concatenate([v for _, v in parts] or [[]])
        return SparseClip((len(parts),) + tuple(self.shape[1:]), index.astype(np.int64),
                          value.astype(np.uint8))


def draw_dots_sparse(xy: np.ndarray, alpha: np.ndarray, size: tuple[int, int], radius: float,
                     antialias: bool = True) -> SparseClip:
    """:func:`draw_dots` as a :class:`SparseClip` (only the lit pixels)."""
    T = alpha.shape[0]
    H, W = size
    valid = (alpha > 0) & np.isfinite(xy).all(-1)
    t_idx, n_idx = np.nonzero(valid)
    if len(t_idx) == 0:
        return SparseClip((T, H, W), np.zeros(0, np.int64), np.zeros(0, np.uint8))
    cx = xy[t_idx, n_idx, 0].astype(np.float64)
    cy = xy[t_idx, n_idx, 1].astype(np.float64)
    a = alpha[t_idx, n_idx].astype(np.float64)
    if antialias:
        R = int(np.ceil(radius + 0.5))
        offs = np.arange(-R, R + 1)
        x0, y0 = np.round(cx).astype(np.int64), np.round(cy).astype(np.int64)
        px = x0[:, None, None] + offs[None, None, :]
        py = y0[:, None, None] + offs[None, :, None]
        d = np.hypot(px - cx[:, None, None], py - cy[:, None, None])
        w = a[:, None, None] * np.clip(radius + 0.5 - d, 0.0, 1.0)
    else:
        R = int(round(radius))
        tpl = disc_template(R)
        offs = np.arange(-R, R + 1)
        x0, y0 = np.trunc(cx).astype(np.int64), np.trunc(cy).astype(np.int64)
        px = x0[:, None, None] + offs[None, None, :]
        py = y0[:, None, None] + offs[None, :, None]
        w = a[:, None, None] * tpl[None]
    px, py = np.broadcast_arrays(px, py)
    keep = (w > 0) & (px >= 0) & (px < W) & (py >= 0) & (py < H)
    flat = ((t_idx[:, None, None] * H + py) * W + px)[keep]
    log_t = np.log1p(-np.minimum(w[keep], 1.0 - 1e-7))  # log transmittance of each dot
    uniq, inv = np.unique(flat, return_inverse=True)
    trans = np.exp(np.bincount(inv, weights=log_t, minlength=len(uniq)))
    val = np.clip(np.rint(255.0 * (1.0 - trans)), 0, 255).astype(np.uint8)
    lit = val > 0
    return SparseClip((T, H, W), uniq[lit], val[lit])


def draw_dots(xy: np.ndarray, alpha: np.ndarray, size: tuple[int, int], radius: float,
              antialias: bool = True) -> np.ndarray:
    """Render dots ``xy (T, N, 2)`` with opacities ``alpha (T, N)`` into ``(T, H, W)`` uint8
    grey frames (white on black). Dots with alpha 0 or NaN positions are skipped."""
    return draw_dots_sparse(xy, alpha, size, radius, antialias).dense()
