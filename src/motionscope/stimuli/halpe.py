"""Any 2D pose source -> the Halpe-26 points the BMP stimuli are drawn from (no torch).

The official stimuli are AlphaPose Halpe-26 detections. Other sources name fewer or other
points; this module maps each onto Halpe-26 and builds what is missing, stating every
approximation (docs/bmp.md lists them):

* **Halpe-26** (AlphaPose JSON, the embedded world): identity.
* **COCO-17** (COCO JSON, AlphaPose COCO models, SLEAP/DeepLabCut files with COCO names): the
  17 points are shared; neck = mid-shoulders and its score their mean (AlphaPose's own rule
  when it draws 17-point poses), pelvis (``hip``) = mid-hips, head top extrapolated from the
  face above the neck; toes and heels are not drawn (score 0).
* **NTU RGB+D / Kinect v2** (``.skeleton`` files): shoulders, elbows, wrists, hips, knees,
  ankles map one to one; Halpe ``neck`` = Kinect spine-shoulder, ``hip`` = spine-base (the
  same points, as in the embedded world). Kinect has no face or toes: nose, eyes, ears and head
  top are placed in 3D in a head frame (up = neck->head, forward = the body's facing, side =
  the shoulder line) at anthropometric offsets, toes and heels in a foot frame, and projected
  with a pinhole camera fitted per file to the file's own 3D joint -> colour-pixel pairs, then
  anchored at the head / ankle / foot pixel of the same frame. Files whose fit fails fall
  back to 2D rules. Scores: tracked 1.0, inferred 0.5, not tracked 0; a built point takes the
  lowest score of the joints it is built from.
* **Named joints** (DeepLabCut, SLEAP, any names): matched to Halpe names after normalising
  (``left_wrist``, ``LWrist``, ``wrist_l``... -> ``l_wrist``), then the COCO rules fill neck,
  pelvis and head top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError
from ..layouts import get_layout

__all__ = ["Pose", "HALPE_NAMES", "from_keypoint_set", "from_ntu_skeleton", "from_world_npz",
           "map_names", "canonical_joint_name", "ntu_to_halpe", "coco_to_halpe"]

HALPE_NAMES = get_layout("halpe26").joints
_NTU = {n: i for i, n in enumerate(get_layout("ntu25").joints)}

#: Halpe index <- NTU index for the points both skeletons have
NTU_DIRECT = {5: _NTU["l_shoulder"], 6: _NTU["r_shoulder"], 7: _NTU["l_elbow"],
              8: _NTU["r_elbow"], 9: _NTU["l_wrist"], 10: _NTU["r_wrist"], 11: _NTU["l_hip"],
              12: _NTU["r_hip"], 13: _NTU["l_knee"], 14: _NTU["r_knee"], 15: _NTU["l_ankle"],
              16: _NTU["r_ankle"], 18: _NTU["spine_shoulder"], 19: _NTU["spine_base"]}
#: NTU tracking state (0 not tracked, 1 inferred, 2 tracked) -> keypoint score
NTU_TRACKING_SCORE = np.array([0.0, 0.5, 1.0], np.float32)

# Offsets (metres) of the built points. Head frame: u = neck->head, f = facing, s = to the
# body's left. Kinect's head joint is the centre of the head.
_FACE_3D = {  # halpe index: (forward, up, left)
    0: (0.095, -0.03, 0.0),      # nose
    1: (0.075, 0.015, 0.032),    # left eye
    2: (0.075, 0.015, -0.032),   # right eye
    3: (0.0, 0.0, 0.075),        # left ear
    4: (0.0, 0.0, -0.075),       # right ear
    17: (0.0, 0.115, 0.0),       # head top
}
# Foot frame: v = ankle->foot direction orthogonal to the torso's up, U = torso up,
# s = body left. Kinect's foot joint sits near the ball of the foot.
_FEET_3D = {  # halpe index: (anchor, along v, along U, medial sign * m, lateral)
    20: ("l_foot", 0.06, -0.02, -0.02),   # left big toe (medial = towards the right)
    21: ("r_foot", 0.06, -0.02, 0.02),
    22: ("l_foot", 0.03, -0.02, 0.035),   # left small toe (lateral)
    23: ("r_foot", 0.03, -0.02, -0.035),
    24: ("l_ankle", -0.055, -0.06, 0.0),  # heels
    25: ("r_ankle", -0.055, -0.06, 0.0),
}


@dataclass
class Pose:
    """Halpe-26 keypoints of M persons over T shown frames.

    ``keypoints (M, T, 26, 2)`` float32 source pixels (NaN = missing), ``scores (M, T, 26)``
    (0 = missing), ``image_size`` (H, W) of the source frames, ``fps``, ``frame_ids (T,)`` the
    source frame numbers (the SP lifetime windows count these), ``notes``: approximations used.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    image_size: tuple[int, int]
    fps: float
    frame_ids: np.ndarray
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.keypoints = np.asarray(self.keypoints, np.float32)
        self.scores = np.asarray(self.scores, np.float32)
        M, T, V = self.scores.shape
        if self.keypoints.shape != (M, T, V, 2) or V != 26:
            raise ValueError(f"Pose needs (M, T, 26, 2) keypoints and (M, T, 26) scores, got "
                             f"{self.keypoints.shape} and {self.scores.shape}")
        bad = ~np.isfinite(self.keypoints).all(-1)
        self.keypoints[bad] = np.nan
        self.scores[bad | ~np.isfinite(self.scores)] = 0.0
        self.frame_ids = np.asarray(self.frame_ids, np.int64)
        if self.frame_ids.shape != (T,):
            raise ValueError(f"frame_ids must have {T} entries, got {self.frame_ids.shape}")

    @property
    def num_frames(self) -> int:
        return self.scores.shape[1]

    def detected(self, threshold: float = 0.0) -> np.ndarray:
        """``(T,)`` bool: some person has a keypoint above ``threshold`` in the frame (AlphaPose
        writes no frame where it detects nobody; the official stimuli drop those frames)."""
        return (self.scores > threshold).any(axis=(0, 2))

    def select(self, frames: np.ndarray) -> Pose:
        """The pose restricted to ``frames`` (indices into T), keeping source frame ids."""
        frames = np.asarray(frames, np.int64)
        return Pose(self.keypoints[:, frames], self.scores[:, frames], self.image_size,
                    self.fps, self.frame_ids[frames], list(self.notes))


# ----------------------------------------------------------------------------- names
_SIDE = {"left": "l", "l": "l", "right": "r", "r": "r"}
_ALIASES = {
    "head": ("head", "headtop", "topofhead", "tophead", "crown", "vertex"),
    "neck": ("neck", "thorax", "spineshoulder", "shouldercenter", "neckbase"),
    "hip": ("hip", "pelvis", "midhip", "hipcenter", "hipcentre", "root", "spinebase", "sacrum",
            "centerhip", "hips"),
    "bigtoe": ("bigtoe", "toe", "halux", "hallux", "toebig"),
    "smalltoe": ("smalltoe", "littletoe", "toesmall", "pinkytoe"),
}


def canonical_joint_name(name: str) -> str:
    """Side letter + lowercase body part without separators: ``LeftWrist``, ``left_wrist``,
    ``wrist_l``, ``L.Wrist`` -> ``lwrist``; ``mid_hip`` -> ``midhip``."""
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", str(name).strip())
    tokens = [t for t in re.split(r"[^A-Za-z0-9]+", s.lower()) if t]
    side = ""
    rest = []
    for t in tokens:
        if t in _SIDE and not side:
            side = _SIDE[t]
        else:
            rest.append(t)
    body = "".join(rest)
    if not side and len(body) > 1 and body[0] in "lr" and body[1:] in {
            "eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "heel",
            "bigtoe", "smalltoe", "toe", "foot", "hand"}:
        side, body = body[0], body[1:]
    return side + body


def _halpe_canonical() -> dict[str, int]:
    out: dict[str, int] = {}
    for i, n in enumerate(HALPE_NAMES):
        c = canonical_joint_name(n)
        side, part = (c[0], c[1:]) if c[:1] in "lr" and n[:2] in ("l_", "r_") else ("", c)
        for alias in _ALIASES.get(part, (part,)):
            out.setdefault(side + alias, i)
    return out


_HALPE_CANON = _halpe_canonical()
_NTU_CANON = {canonical_joint_name(n): i for n, i in _NTU.items()}


def map_names(names) -> dict[int, int]:
    """Halpe index -> source joint index for the joint ``names`` that match a Halpe point."""
    out: dict[int, int] = {}
    for j, n in enumerate(names):
        h = _HALPE_CANON.get(canonical_joint_name(n))
        if h is not None and h not in out:
            out[h] = j
    return out


# ----------------------------------------------------------------------------- helpers
def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1e-9, v / n, np.nan)


def _mid(kp, sc, a: int, b: int):
    """Midpoint of two points and the mean of their scores (missing when either is)."""
    xy = 0.5 * (kp[..., a, :] + kp[..., b, :])
    s = np.where((sc[..., a] > 0) & (sc[..., b] > 0), 0.5 * (sc[..., a] + sc[..., b]), 0.0)
    return xy, s


def _empty(M: int, T: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((M, T, 26, 2), np.nan, np.float32), np.zeros((M, T, 26), np.float32)


def _head_top_from_face(kp, sc, notes: list[str]) -> None:
    """Halpe head top from the face and the neck: the face centre (mid-ears, else mid-eyes,
    else the nose) moved away from the neck by 0.8x the neck->face distance."""
    centre, cs = kp[..., 0, :], sc[..., 0]
    for a, b in ((1, 2), (3, 4)):  # later pairs win: ears, then eyes, then nose
        xy, s = _mid(kp, sc, a, b)
        centre = np.where((s > 0)[..., None], xy, centre)
        cs = np.where(s > 0, s, cs)
    ok = (cs > 0) & (sc[..., 18] > 0) & (sc[..., 17] <= 0)
    top = centre + 0.8 * (centre - kp[..., 18, :])
    kp[..., 17, :] = np.where(ok[..., None], top, kp[..., 17, :])
    sc[..., 17] = np.where(ok, np.minimum(cs, sc[..., 18]), sc[..., 17])
    if ok.any():
        notes.append("head top extrapolated from the face and the neck (source has none)")


def _fill_coco_extras(kp, sc, notes: list[str]) -> None:
    """Neck, pelvis and head top for sources with COCO-like points, in place."""
    if not (sc[..., 18] > 0).any():
        xy, s = _mid(kp, sc, 5, 6)
        kp[..., 18, :], sc[..., 18] = xy, s
        if (s > 0).any():
            notes.append("neck = mid-shoulders (AlphaPose's rule for 17-point poses)")
    if not (sc[..., 19] > 0).any():
        xy, s = _mid(kp, sc, 11, 12)
        kp[..., 19, :], sc[..., 19] = xy, s
        if (s > 0).any():
            notes.append("pelvis (Halpe 'hip') = mid-hips")
    if not (sc[..., 17] > 0).any():
        _head_top_from_face(kp, sc, notes)
    if not (sc[..., 20:26] > 0).any():
        notes.append("no toes or heels in the source: not drawn")
    kp[sc <= 0] = np.nan


def coco_to_halpe(kp17: np.ndarray, sc17: np.ndarray, notes: list[str] | None = None):
    """``(M, T, 17, 2)`` COCO keypoints -> ``(M, T, 26, 2)`` Halpe keypoints and scores."""
    notes = [] if notes is None else notes
    M, T = sc17.shape[:2]
    kp, sc = _empty(M, T)
    kp[..., :17, :], sc[..., :17] = kp17, sc17
    _fill_coco_extras(kp, sc, notes)
    return kp, sc


# ----------------------------------------------------------------------------- NTU
def _fit_pinhole(j3: np.ndarray, uv: np.ndarray, ok: np.ndarray):
    """Per-file colour camera: ``u = a X/Z + b / Z + c`` (same form for v with Y), fitted by
    least squares on every tracked joint; returns a projector or None when the fit fails."""
    X, Y, Z = (j3[..., i][ok] for i in range(3))
    u, v = uv[..., 0][ok], uv[..., 1][ok]
    if len(Z) < 8 or (Z <= 0.05).any():
        return None
    coef = []
    for a, target in ((X, u), (Y, v)):
        A = np.stack([a / Z, 1.0 / Z, np.ones_like(Z)], 1)
        sol, *_ = np.linalg.lstsq(A, target, rcond=None)
        if np.linalg.matrix_rank(A) < 3:
            return None
        resid = np.abs(A @ sol - target)
        coef.append((sol, float(np.median(resid))))
    (cu, ru), (cv, rv) = coef
    if abs(cu[0]) < 1e-6 or abs(cv[0]) < 1e-6:
        return None

    def project(p: np.ndarray) -> np.ndarray:
        z = p[..., 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.stack([cu[0] * p[..., 0] / z + cu[1] / z + cu[2],
                             cv[0] * p[..., 1] / z + cv[1] / z + cv[2]], -1)
    project.residual = max(ru, rv)  # type: ignore[attr-defined]
    return project


def _body_axes(j3: np.ndarray, ok: np.ndarray):
    """Torso up, body left and facing direction per frame (T, 3) from 3D Kinect joints. The
    facing sign is taken from the feet (toes point forward), so no handedness is assumed."""
    n = _NTU
    up = _unit(j3[:, n["spine_shoulder"]] - j3[:, n["spine_base"]])
    left = (j3[:, n["l_shoulder"]] - j3[:, n["r_shoulder"]]) + (j3[:, n["l_hip"]]
                                                                 - j3[:, n["r_hip"]])
    left = _unit(left - (left * up).sum(-1, keepdims=True) * up)
    fwd = _unit(np.cross(left, up))
    votes = []
    for a, f in (("l_ankle", "l_foot"), ("r_ankle", "r_foot")):
        good = ok[:, n[a]] & ok[:, n[f]]
        d = (fwd * (j3[:, n[f]] - j3[:, n[a]])).sum(-1)
        votes.append(np.nansum(np.where(good, d, 0.0)))
    if sum(votes) < 0:
        fwd = -fwd
    return up, left, fwd


def _ntu_3d(j3, uv, sc25, project, kp, sc) -> None:
    """Face, head-top and feet points of one body, built in 3D (see module docstring)."""
    n = _NTU
    ok = sc25 > 0
    up, left, fwd = _body_axes(j3, ok)
    head, neck = j3[:, n["head"]], j3[:, n["neck"]]
    u = _unit(head - neck)
    f = _unit(fwd - (fwd * u).sum(-1, keepdims=True) * u)
    s = _unit(left - (left * u).sum(-1, keepdims=True) * u - (left * f).sum(-1, keepdims=True) * f)
    head_px = project(head)
    s_face = np.minimum(sc25[:, n["head"]], sc25[:, n["neck"]])
    for h, (a, b, c) in _FACE_3D.items():
        p = head + a * f + b * u + c * s
        kp[:, h] = uv[:, n["head"]] + project(p) - head_px
        sc[:, h] = s_face
    for h, (anchor, along, vert, side) in _FEET_3D.items():
        foot_side = "l" if anchor.startswith("l") else "r"
        a_i, f_i = n[f"{foot_side}_ankle"], n[f"{foot_side}_foot"]
        d = j3[:, f_i] - j3[:, a_i]
        v = _unit(d - (d * up).sum(-1, keepdims=True) * up)
        v = np.where(np.isfinite(v), v, fwd)
        base = j3[:, n[anchor]]
        p = base + along * v + vert * up + side * left
        kp[:, h] = uv[:, n[anchor]] + project(p) - project(base)
        sc[:, h] = np.minimum(sc25[:, a_i], sc25[:, f_i])


def _ntu_2d(uv, sc25, kp, sc) -> None:
    """Face, head-top and feet points from 2D Kinect joints only (fallback): the same offsets
    expressed in the neck->head length and the shoulder line, which shrinks in side views."""
    n = _NTU
    head, neck = uv[:, n["head"]], uv[:, n["neck"]]
    up2 = head - neck
    side = uv[:, n["l_shoulder"]] - uv[:, n["r_shoulder"]]  # ~0.37 m apart
    s_face = np.minimum(sc25[:, n["head"]], sc25[:, n["neck"]])
    s_face = np.minimum(s_face, np.minimum(sc25[:, n["l_shoulder"]], sc25[:, n["r_shoulder"]]))
    # forward offsets are invisible in 2D; vertical ones scale with neck->head (~0.15 m)
    for h, (_, b, c) in _FACE_3D.items():
        kp[:, h] = head + (b / 0.15) * up2 + (c / 0.37) * side
        sc[:, h] = s_face
    for h, (anchor, along, _, side_m) in _FEET_3D.items():
        fs = "l" if anchor.startswith("l") else "r"
        a, f = uv[:, n[f"{fs}_ankle"]], uv[:, n[f"{fs}_foot"]]
        kp[:, h] = uv[:, n[anchor]] + (along / 0.12) * (f - a) + (side_m / 0.37) * side
        sc[:, h] = np.minimum(sc25[:, n[f"{fs}_ankle"]], sc25[:, n[f"{fs}_foot"]])


def ntu_to_halpe(uv: np.ndarray, sc25: np.ndarray, j3: np.ndarray | None = None,
                 notes: list[str] | None = None, max_residual: float = 40.0):
    """``(M, T, 25, 2)`` Kinect colour pixels (+ optional ``(M, T, 25, 3)`` camera-space
    metres) and scores -> Halpe-26 ``(M, T, 26, 2)`` keypoints and ``(M, T, 26)`` scores."""
    notes = [] if notes is None else notes
    M, T = sc25.shape[:2]
    kp, sc = _empty(M, T)
    for h, k in NTU_DIRECT.items():
        kp[..., h, :], sc[..., h] = uv[..., k, :], sc25[..., k]
    used = set()
    for m in range(M):
        ok = sc25[m] > 0
        project = None
        if j3 is not None and ok.any():
            project = _fit_pinhole(j3[m], uv[m], ok)
            if project is not None and project.residual > max_residual:
                project = None
        with np.errstate(invalid="ignore"):
            if project is not None:
                _ntu_3d(j3[m].astype(np.float64), uv[m].astype(np.float64), sc25[m], project,
                        kp[m], sc[m])
                used.add("3d")
            else:
                _ntu_2d(uv[m].astype(np.float64), sc25[m], kp[m], sc[m])
                used.add("2d")
    kp[~np.isfinite(kp).all(-1)] = np.nan
    sc[~np.isfinite(kp).all(-1)] = 0.0
    kp[sc <= 0] = np.nan
    if "3d" in used:
        notes.append("NTU: face, head top, toes and heels built in 3D and projected with a "
                     "per-file fitted colour camera")
    if "2d" in used:
        notes.append("NTU: face, head top, toes and heels from 2D rules (no usable 3D fit)")
    return kp, sc


def from_ntu_skeleton(skel, image_size: tuple[int, int] = (1080, 1920), fps: float = 30.0,
                      min_person_fraction: float = 0.25) -> Pose:
    """An :class:`~motionscope.io.ntu.NTUSkeleton` as a Halpe-26 :class:`Pose`.

    Kinect sometimes tracks short-lived "noise" bodies that a person detector would not
    report: bodies seen in fewer than ``min_person_fraction`` of the frames that have any body
    are dropped (unless that would drop every body).
    """
    T = int(skel.num_frames)
    bodies = [b for b in skel.bodies if len(b)]
    if T == 0 or not bodies:
        raise DataError(skel.name or None, "the skeleton file has no tracked body in any frame")
    shown = np.zeros(T, bool)
    for b in bodies:
        shown[b.frame_index] = True
    keep = [b for b in bodies if len(b) >= min_person_fraction * shown.sum()] or bodies
    notes = []
    if len(keep) < len(bodies):
        notes.append(f"NTU: {len(bodies) - len(keep)} short-lived body(ies) dropped")
    M = len(keep)
    uv = np.full((M, T, 25, 2), np.nan, np.float32)
    j3 = np.full((M, T, 25, 3), np.nan, np.float32)
    s = np.zeros((M, T, 25), np.float32)
    for m, b in enumerate(keep):
        uv[m, b.frame_index] = b.color_xy
        j3[m, b.frame_index] = b.joints
        s[m, b.frame_index] = NTU_TRACKING_SCORE[np.clip(b.tracking, 0, 2)]
    kp, sc = ntu_to_halpe(uv, s, j3, notes)
    return Pose(kp, sc, tuple(image_size), fps, np.arange(T), notes)


# ----------------------------------------------------------------------------- keypoint sets
def from_keypoint_set(kps, image_size: tuple[int, int] | None = None, fps: float = 30.0,
                      path=None) -> Pose:
    """A :class:`~motionscope.io.keypoints.KeypointSet` (any reader) as a Halpe-26 pose."""
    size = image_size or kps.image_size
    if size is None:
        raise DataError(path, "the keypoint file does not say its image size; give the "
                              "matching video or image_size=(H, W)")
    M, T, V = kps.scores.shape
    if M == 0 or T == 0 or not (kps.scores > 0).any():
        raise DataError(path, "no person is detected in any frame (the keypoint file has no "
                              "detection)")
    notes: list[str] = []
    layout = kps.layout
    names = kps.joint_names
    if layout == "halpe26" or (layout is None and names is None and V == 26):
        kp, sc = kps.keypoints.copy(), kps.scores.copy()
    elif layout == "coco17" or (layout is None and names is None and V == 17):
        kp, sc = coco_to_halpe(kps.keypoints, kps.scores, notes)
    elif layout == "ntu25" or (names is not None and {canonical_joint_name(n) for n in names}
                               >= set(_NTU_CANON)):
        pos = {canonical_joint_name(n): j for j, n in enumerate(names or [])}
        order = [pos[c] for c in _NTU_CANON] if names else list(range(25))
        kp, sc = ntu_to_halpe(kps.keypoints[:, :, order], kps.scores[:, :, order], None, notes)
    elif names is not None:
        mapping = map_names(names)
        if not mapping:
            raise DataError(path, f"none of the joint names ({', '.join(names[:8])}...) "
                                  "matches a Halpe-26 / COCO body point")
        kp, sc = _empty(M, T)
        for h, j in mapping.items():
            kp[..., h, :], sc[..., h] = kps.keypoints[..., j, :], kps.scores[..., j]
        missing = [HALPE_NAMES[i] for i in range(17) if i not in mapping]
        if missing:
            notes.append(f"no source joint for {', '.join(missing)}")
        _fill_coco_extras(kp, sc, notes)
    else:
        raise DataError(path, f"{V} unnamed joints: cannot tell which body points they are "
                              "(Halpe-26 and COCO-17 orders are recognised by count)")
    return Pose(kp, sc, tuple(int(v) for v in size), fps, np.arange(T), notes)


def from_world_npz(path, score: float = 1.0, size: tuple[int, int] | None = None,
                   fps: float | None = None) -> Pose:
    """Exact Halpe-26 joints of an embedded-world clip (``joints/<name>.npz``): every joint
    inside the frame gets ``score`` (occluded joints too: a point-light display shows them).

    ``size`` ``(H, W)`` and ``fps`` default to the file's; the world manifest has them, and
    each array read from the npz costs ~0.3 ms, a tenth of rendering a stimulus clip."""
    try:
        with np.load(path) as d:
            uv = d["halpe26_2d"].astype(np.float32)
            size = tuple(int(v) for v in (d["image_size"] if size is None else size))
            fps = float(d["fps"] if fps is None else fps)
    except (OSError, KeyError, ValueError) as e:
        raise DataError(path, f"not an embedded-world joints file ({e})") from None
    H, W = size
    inside = np.isfinite(uv).all(-1) & (uv[..., 0] >= 0) & (uv[..., 0] <= W - 1) & (
        uv[..., 1] >= 0) & (uv[..., 1] <= H - 1)
    sc = np.where(inside, score, 0.0).astype(np.float32)
    return Pose(uv[None], sc[None], size, fps, np.arange(uv.shape[0]))
