"""Fast numpy/cv2 rendering of the world: RGB, depth, silhouettes, 2D joints with visibility.

The body is a set of tapered capsules (:func:`.body.body_capsules`). Each capsule is
rasterised analytically inside its bounding box: distance to the projected axis, depth of the
front surface, a Lambert-shaded normal, texture coordinates along and around the limb, an
anti-aliased edge, and a z-buffer test against everything drawn before. Rooms (floor, walls,
ceiling with procedural textures) are ray-cast once per setup and camera and cached; static
props (a chair) are drawn into that background once per clip; per frame only the person, its
soft floor shadow and an optional distractor are drawn. Camera jitter is an integer shift of
the principal point, so backgrounds are cropped instead of re-rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .body import BODY_JOINTS, PARTS, BodyShape, body_capsules
from .camera import Camera, SetupParams, clip_rng

__all__ = ["RenderOut", "Appearance", "appearance", "render_clip", "room_background",
           "PERSON_ID", "PROP_ID", "DISTRACTOR_ID", "JITTER_PAD"]

PERSON_ID, PROP_ID, DISTRACTOR_ID = 1, 2, 3
JITTER_PAD = 4  # pixels of background beyond the frame on each side, for camera jitter
_TEX_H, _TEX_W = 32, 16
_TEX_SPAN = 0.48  # metres of limb length one texture tile covers


@dataclass
class RenderOut:
    """One rendered clip. ``joints_2d (T, J, 2)`` pixels and ``visible (T, J)`` are for all body
    joints (:data:`.body.BODY_JOINTS`); ``joints_cam (T, J, 3)`` metres in camera space."""

    rgb: np.ndarray          # (T, H, W, 3) uint8
    depth: np.ndarray        # (T, H, W) uint16 mm, full scene (0 = no reading)
    mask: np.ndarray         # (T, H, W) bool, the person
    joints_cam: np.ndarray   # (T, J, 3)
    joints_2d: np.ndarray    # (T, J, 2)
    visible: np.ndarray      # (T, J) bool
    jitter: np.ndarray       # (T, 2) int principal-point shifts

    @property
    def depth_masked(self) -> np.ndarray:
        out = np.zeros_like(self.depth)
        np.copyto(out, self.depth, where=self.mask)
        return out


# ----------------------------------------------------------------------------- textures
def _noise(r: np.random.Generator, h: int, w: int, scale: int = 4) -> np.ndarray:
    """Smooth value noise in [-1, 1] (bicubic upsampling of a coarse random grid)."""
    g = r.uniform(-1, 1, (max(h // scale, 2), max(w // scale, 2))).astype(np.float32)
    return np.clip(cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC), -1, 1)


def _material_texture(spec: dict | tuple, r: np.random.Generator) -> np.ndarray:
    """A (TEX_H, TEX_W, 3) float32 texture in [0, 1] for a part: colour(s) + pattern."""
    if isinstance(spec, tuple):  # a plain colour (skin, hair)
        spec = {"color": spec, "color2": spec, "pattern": "noise_fine", "period": 0.05}
    c1 = np.array(spec["color"], np.float32) / 255
    c2 = np.array(spec["color2"], np.float32) / 255
    u = (np.arange(_TEX_H, dtype=np.float32)[:, None] + 0.5) * (_TEX_SPAN / _TEX_H)
    v = (np.arange(_TEX_W, dtype=np.float32)[None, :] + 0.5) / _TEX_W * 2 - 1
    per = spec.get("period", 0.05)
    pat = spec["pattern"]
    if pat == "hstripes":
        m = ((u / per) % 1.0 < 0.5) + 0 * v
    elif pat == "vstripes":
        m = ((v * 3.0) % 1.0 < 0.5) + 0 * u
    elif pat == "checks":
        m = (((u / per) % 1.0 < 0.5) ^ ((v * 2.5) % 1.0 < 0.5))
    elif pat == "dots":
        m = (((u / per) % 1.0 - 0.5) ** 2 + (((v * 3.0) % 1.0) - 0.5) ** 2) < 0.06
    else:
        m = np.zeros((_TEX_H, _TEX_W), bool)
    tex = np.where(m[..., None], c2, c1).astype(np.float32)
    amp = 0.06 if pat != "noise" else 0.16
    if pat == "noise_fine":
        amp = 0.04
    tex *= 1 + amp * _noise(r, _TEX_H, _TEX_W, 2)[..., None]
    return np.clip(tex, 0, 1)


@dataclass
class Appearance:
    """Per-part textures (indexed like :data:`.body.PARTS`) and the sleeve choice."""

    textures: np.ndarray  # (len(PARTS), TEX_H, TEX_W, 3) float32
    long_sleeves: bool


def appearance(perf, setup: int) -> Appearance:
    """Textures for a performer in a setup (clothes from :meth:`.camera.Performer.clothing`)."""
    cl = perf.clothing(setup)
    r = clip_rng(perf.seed, 8, setup)
    tex = {
        "skin": _material_texture(tuple(perf.skin), r),
        "hair": _material_texture(tuple(perf.hair), r),
        "shirt": _material_texture(cl["shirt"], r),
        "trousers": _material_texture(cl["trousers"], r),
        "shoes": _material_texture(cl["shoes"], r),
    }
    tex["sleeve"] = tex["shirt"] if cl["long_sleeves"] else tex["skin"]
    return Appearance(np.stack([tex[p] for p in PARTS]), cl["long_sleeves"])


# ----------------------------------------------------------------------------- room
def _room_textures(seed: int):
    r = np.random.default_rng(seed)
    floor_kind = str(r.choice(["tiles", "planks", "carpet"]))
    floor = {"kind": floor_kind, "c1": np.array(_soft_color(r, 0.35, 0.8)),
             "c2": np.array(_soft_color(r, 0.2, 0.6)), "size": float(r.uniform(0.25, 0.6)),
             "noise": _noise(r, 64, 64, 4), "table": r.uniform(0.85, 1.15, (17, 13))}
    walls = []
    for _ in range(4):
        w = {"c1": np.array(_soft_color(r, 0.45, 0.95)), "c2": np.array(_soft_color(r, 0.3, 0.8)),
             "band": float(r.uniform(0.0, 1.2)) if r.random() < 0.5 else 0.0,
             "noise": _noise(r, 64, 64, 8), "rects": []}
        for _ in range(int(r.integers(1, 5))):
            cw, ch = r.uniform(0.4, 1.6), r.uniform(0.4, 1.4)
            w["rects"].append((r.uniform(-3.5, 3.5), r.uniform(0.6, 2.0), cw, ch,
                               np.array(_soft_color(r, 0.1, 1.0))))
        walls.append(w)
    return floor, walls


def _soft_color(r, lo, hi):
    base = r.uniform(lo, hi)
    tint = r.uniform(-0.12, 0.12, 3)
    return np.clip(base + tint, 0, 1)


@lru_cache(maxsize=64)
def room_background(setup: SetupParams, camera_id: int, size: tuple[int, int]):
    """(rgb uint8 (H+2p, W+2p, 3), depth float32 metres) of the empty room seen by a camera,
    padded by :data:`JITTER_PAD`. Cached: a worker renders each room view once."""
    cam = setup.camera(camera_id, size)
    d = cam.rays(JITTER_PAD)                      # (h, w, 3), camera z = 1 per unit
    C = cam.C
    hx, hz, ceil = setup.room
    big = 1e9
    ts, ids = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for k, (axis, val) in enumerate(((1, 0.0), (1, ceil), (0, hx), (0, -hx), (2, hz),
                                         (2, -hz))):
            t = (val - C[axis]) / d[..., axis]
            t = np.where(np.isfinite(t) & (t > 1e-6), t, big)
            ts.append(t)
            ids.append(k)
    T = np.stack(ts)
    which = T.argmin(0)
    t = np.take_along_axis(T, which[None], 0)[0]
    P = C + d * t[..., None]
    floor_t, walls_t = _room_textures(setup.room_seed)
    rgb = np.zeros(P.shape, np.float32)
    # floor
    m = which == 0
    x, z = P[..., 0][m], P[..., 2][m]
    rgb[m] = _floor_color(floor_t, x, z)
    # ceiling
    m = which == 1
    rgb[m] = 0.92
    # walls: 2,3 -> x = +-hx (coordinate along z); 4,5 -> z = +-hz (along x)
    for k in range(2, 6):
        m = which == k
        if not m.any():
            continue
        along = P[..., 2][m] if k < 4 else P[..., 0][m]
        y = P[..., 1][m]
        rgb[m] = _wall_color(walls_t[k - 2], along, y)
    # light falloff and a gentle vignette, so rooms are not flat colours
    dist = np.linalg.norm(P - np.array([0.0, 1.5, 0.0]), axis=-1)
    rgb *= (1.1 - 0.05 * dist)[..., None].clip(0.7, 1.1)
    depth = t.astype(np.float32)  # camera z of the hit (rays have z = 1)
    out = np.clip(rgb * 255, 0, 255).astype(np.uint8)
    out.setflags(write=False)
    depth.setflags(write=False)
    return out, depth


def _floor_color(f, x, z):
    n = f["noise"][(np.floor(z * 9).astype(int)) % 64, (np.floor(x * 9).astype(int)) % 64]
    if f["kind"] == "tiles":
        s = f["size"]
        ix, iz = np.floor(x / s).astype(int), np.floor(z / s).astype(int)
        grout = ((x / s) % 1 < 0.04) | ((z / s) % 1 < 0.04)
        k = f["table"][ix % 17, iz % 13]
        c = f["c1"][None] * k[:, None] * (1 + 0.05 * n[:, None])
        c[grout] = f["c2"] * 0.8
    elif f["kind"] == "planks":
        w = 0.08 + 0.1 * f["size"]
        iz = np.floor(z / w).astype(int)
        k = f["table"][iz % 17, (np.floor(x / 1.2 + iz * 0.37).astype(int)) % 13]
        grain = np.sin(x * 25 + iz * 1.7) * 0.06
        c = f["c1"][None] * (k + grain)[:, None]
        c[((z / w) % 1) < 0.05] *= 0.6
    else:
        c = f["c1"][None] * (1 + 0.18 * n[:, None])
    return c


def _wall_color(w, along, y):
    n = w["noise"][(np.floor(y * 6).astype(int)) % 64, (np.floor(along * 6).astype(int)) % 64]
    c = w["c1"][None] * (1 + 0.07 * n[:, None])
    if w["band"] > 0:
        c = np.where((y < w["band"])[:, None], w["c2"][None] * (1 + 0.05 * n[:, None]), c)
    for (a0, y0, cw, ch, col) in w["rects"]:
        m = (along > a0) & (along < a0 + cw) & (y > y0) & (y < y0 + ch)
        c[m] = col
        edge = m & ((np.abs(along - a0) < 0.03) | (np.abs(along - a0 - cw) < 0.03)
                    | (np.abs(y - y0) < 0.03) | (np.abs(y - y0 - ch) < 0.03))
        c[edge] *= 0.5
    return c


# ----------------------------------------------------------------------------- rasteriser
_SHIFT = 4  # cv2 fixed-point bits: sub-pixel capsule outlines
_RGB = np.dtype("V3")  # one RGB pixel as a single element (fast 1-D gathers and scatters)
_ONE = 1 << _SHIFT


class _Projected:
    """Capsules of T frames projected once per clip: cv2 outlines, per-pixel parameters and
    shaded texture look-up tables, so the per-frame work is a few cv2 calls and one numpy pass.
    """

    def __init__(self, cam: Camera, a_w, b_w, ra, rb, tex_idx, textures, light_cam, ambient,
                 offset):
        ac, bc = cam.to_camera(a_w), cam.to_camera(b_w)          # (T, K, 3)
        off = np.asarray(offset, np.float64)[:, None, :]
        a2, b2 = cam.project(ac) + off, cam.project(bc) + off
        za, zb = np.maximum(ac[..., 2], 1e-3), np.maximum(bc[..., 2], 1e-3)
        ra, rb = np.broadcast_to(ra, za.shape), np.broadcast_to(rb, za.shape)
        pra, prb = cam.fx * ra / za, cam.fx * rb / zb
        d = b2 - a2
        L = np.linalg.norm(d, axis=-1)
        line = L > 1e-3
        invL = np.where(line, 1.0 / np.maximum(L, 1e-3), 0.0)
        n = np.stack([-d[..., 1], d[..., 0]], -1) * invL[..., None]
        ea, eb = (pra + 0.5)[..., None], (prb + 0.5)[..., None]  # half a pixel more: AA edge
        self.poly = np.round(np.stack([a2 + n * ea, b2 + n * eb, b2 - n * eb, a2 - n * ea], -2)
                             * _ONE).astype(np.int32)
        cen = np.round(np.stack([a2, b2], -2) * _ONE).astype(np.int64)
        rad = np.round(np.stack([pra + 0.5, prb + 0.5], -1) * _ONE).astype(np.int64)
        order = np.argsort(-(za + zb), axis=1, kind="stable")
        lo = np.minimum(a2 - ea, b2 - eb).min(1)
        hi = np.maximum(a2 + ea, b2 + eb).max(1)
        lo = np.floor(lo).astype(int) - 1
        self.lo = lo.tolist()
        self.hi = (np.ceil(hi).astype(int) + 2).tolist()
        # outlines relative to the frame's drawing window (its top-left is lo clipped at 0),
        # so the per-frame loop passes them to cv2 as they are
        org = np.maximum(lo, 0) * _ONE                                  # (T, 2)
        poly = self.poly - org[:, None, None, :].astype(np.int32)
        cen = cen - org[:, None, None, :]
        # per frame, far to near: (value, polygon or None, circle ends as python ints)
        cen_l, rad_l, line_l = cen.tolist(), rad.tolist(), line.tolist()
        self.ops = [[(int(k) + 1, poly[t, k] if line_l[t][k] else None,
                      tuple(cen_l[t][k][0]), tuple(cen_l[t][k][1]), rad_l[t][k][0],
                      rad_l[t][k][1]) for k in order[t]] for t in range(len(order))]
        seglen = np.linalg.norm(b_w - a_w, axis=-1)
        # per-capsule constants, one row each (gathered per pixel with one take)
        # the signed lateral position across a limb is ex * sx + ey * sy (spheres: ex)
        sx = np.where(line, d[..., 1] * invL, 1.0)
        sy = np.where(line, -d[..., 0] * invL, 0.0)
        # (T, K, 14): a pixel gathers its capsule's row with one take along axis 0
        self.params = np.stack([
            a2[..., 0], a2[..., 1], d[..., 0], d[..., 1], invL * invL, pra, prb - pra, za,
            zb - za, ra, rb - ra, sx, sy, seglen * (_TEX_H / _TEX_SPAN)], -1).astype(np.float32)
        # shading depends on the lateral position v across the limb: a LUT per capsule
        v = ((np.arange(_TEX_W) + 0.5) / _TEX_W * 2 - 1).astype(np.float32)
        w = np.sqrt(1 - v * v)
        L3 = np.asarray(light_cam, np.float32)
        dxn = (d[..., 0] * invL).astype(np.float32)[..., None]
        dyn = (d[..., 1] * invL).astype(np.float32)[..., None]
        nx = np.where(line[..., None], v * dyn, v)
        ny = np.where(line[..., None], v * dxn, np.float32(0))
        shade = np.float32(ambient) + np.float32(1 - ambient) * np.maximum(
            nx * L3[0] + ny * L3[1] - w * L3[2], 0)
        tex = np.asarray(textures, np.float32)[np.asarray(tex_idx)] * np.float32(255)
        T, K = za.shape
        # texture x shade with the colour channels folded into the row (long inner loops),
        # stored as 3-byte records so a pixel's colour is one element to gather or scatter
        lut = np.empty((T, K, _TEX_H, _TEX_W * 3), np.float32)
        np.multiply(tex.reshape(K, _TEX_H, _TEX_W * 3)[None],
                    np.repeat(shade, 3, axis=-1)[:, :, None, :], out=lut)
        lut += np.float32(0.5)
        np.minimum(lut, 255, out=lut)
        self.lut = lut.astype(np.uint8).view(_RGB).reshape(T, K * _TEX_H * _TEX_W)

    def draw(self, t: int, rgb: np.ndarray, depth: np.ndarray, ids: np.ndarray, oid: int) -> None:
        """Draw frame ``t`` into C-contiguous ``rgb (H, W, 3)``, z-buffer ``depth (H, W)``
        float32 and ``ids (H, W)``: every pixel's capsule is found by cv2 (painter's order),
        then shaded, depth-tested and written with 1-D gathers and scatters."""
        H, W = depth.shape
        if not (rgb.flags.c_contiguous and depth.flags.c_contiguous and ids.flags.c_contiguous):
            raise ValueError("draw needs C-contiguous rgb, depth and ids buffers")
        x0, y0 = max(self.lo[t][0], 0), max(self.lo[t][1], 0)
        x1, y1 = min(self.hi[t][0], W), min(self.hi[t][1], H)
        if x1 <= x0 or y1 <= y0:
            return
        w = x1 - x0
        idm = np.zeros((y1 - y0, w), np.uint8)
        fill, circle, L8 = cv2.fillConvexPoly, cv2.circle, cv2.LINE_8
        for v, poly, ca, cb, rA, rB in self.ops[t]:
            if poly is not None:
                fill(idm, poly, v, L8, _SHIFT)
                circle(idm, cb, rB, v, -1, L8, _SHIFT)
            circle(idm, ca, rA, v, -1, L8, _SHIFT)
        flat = np.flatnonzero(idm)
        if flat.size == 0:
            return
        kk = idm.ravel()[flat].astype(np.intp)
        kk -= 1
        yy, xx = np.divmod(flat, w)
        pix = yy * W                     # index into the whole frame
        pix += xx
        pix += y0 * W + x0
        ax, ay, dx, dy, il2, ra, dr, za, dz, Ra, dR, sx, sy, ts = np.take(self.params[t], kk,
                                                                          axis=0).T
        fx = xx.astype(np.float32)
        fx += np.float32(x0) - ax
        fy = yy.astype(np.float32)
        fy += np.float32(y0) - ay
        tt = fx * dx
        tt += fy * dy
        tt *= il2
        np.maximum(tt, 0, out=tt)
        np.minimum(tt, 1, out=tt)
        ex = fx - tt * dx
        ey = fy - tt * dy
        d = np.sqrt(ex * ex + ey * ey)
        r = ra + tt * dr
        np.maximum(r, 0.5, out=r)
        nl = d / r
        np.minimum(nl, 1.0, out=nl)
        nl *= nl
        z = za + tt * dz - (Ra + tt * dR) * np.sqrt(1 - nl)
        dflat = depth.reshape(-1)
        keep = z < np.take(dflat, pix)
        tj = ex * sx
        tj += ey * sy
        tj /= r
        tj += 1
        tj *= 0.5 * _TEX_W - 0.001
        np.maximum(tj, 0, out=tj)
        np.minimum(tj, _TEX_W - 1, out=tj)
        ti = (tt * ts).astype(np.intp)
        ti &= _TEX_H - 1
        lin = kk * (_TEX_H * _TEX_W)
        lin += ti * _TEX_W
        lin += tj.astype(np.intp)
        col = np.take(self.lut[t], lin)                       # (N,) 3-byte records
        cflat = rgb.reshape(-1).view(_RGB)
        # anti-alias the outline only: interior pixels (inside the eroded id map) are opaque;
        # eroding the ids themselves gives 0 exactly where a 3x3 neighbour is background
        edge = np.flatnonzero(cv2.erode(idm, _K3).ravel()[flat] == 0)
        solid = None
        if edge.size:
            alpha = r[edge] + 0.5 - d[edge]
            np.clip(alpha, 0, 1, out=alpha)
            old = np.take(cflat, pix[edge]).view(np.uint8).reshape(-1, 3).astype(np.float32)
            new = np.take(col, edge).view(np.uint8).reshape(-1, 3)
            col[edge] = (old + alpha[:, None] * (new - old) + 0.5).astype(np.uint8).view(
                _RGB).reshape(-1)
            thin = alpha <= 0.5
            if thin.any():
                solid = np.ones(flat.size, bool)
                solid[edge[thin]] = False
        if not keep.all():  # behind the background or a prop there (feet on the floor, a chair)
            sel = np.flatnonzero(keep)
            pix, z, col = np.take(pix, sel), np.take(z, sel), np.take(col, sel)
            if solid is not None:
                solid = np.take(solid, sel)
        np.put(cflat, pix, col)
        if solid is not None:  # faint outline pixels take the colour, not the depth
            pix, z = pix[solid], z[solid]
        np.put(dflat, pix, z)
        np.put(ids.reshape(-1), pix, oid)


_K3 = np.ones((3, 3), np.uint8)


def chair_capsules(chair: dict, to_world):
    """A chair (seat slats, legs, backrest) as capsules in world coordinates."""
    h, w, d, bh = chair["seat_h"], chair["seat_w"], chair["seat_d"], chair["back_h"]
    rs, rl = 0.022, 0.016
    pts = []
    for fx in (-1, 1):
        for fz in (-1, 1):
            pts.append(((fx * w / 2, 0.0 + rl, fz * d / 2), (fx * w / 2, h - rs, fz * d / 2), rl))
    for k in np.linspace(-1, 1, 5):
        z = k * (d / 2 - rs)
        pts.append(((-w / 2, h - rs, z), (w / 2, h - rs, z), rs))
    for fx in (-1, 1):
        pts.append(((fx * w / 2, h, -d / 2), (fx * w / 2, h + bh, -d / 2 - 0.04), rl))
    for k in (0.55, 0.95):
        pts.append(((-w / 2, h + k * bh, -d / 2 - 0.04 * k), (w / 2, h + k * bh, -d / 2 - 0.04 * k),
                    0.03))
    c, sn = np.cos(chair.get("yaw", 0.0)), np.sin(chair.get("yaw", 0.0))
    Ry = np.array([[c, 0, sn], [0, 1, 0], [-sn, 0, c]])
    centre = np.array([chair["x"], 0.0, chair["z"]])
    a = to_world(np.array([p[0] for p in pts]) @ Ry.T + centre)
    b = to_world(np.array([p[1] for p in pts]) @ Ry.T + centre)
    r = np.array([p[2] for p in pts])
    return a, b, r


def _chair_texture(color: int) -> np.ndarray:
    c = np.array([(color >> 16) & 255, (color >> 8) & 255, color & 255], np.float32)
    c = 0.25 + 0.5 * c / 255  # muted furniture colours
    return np.broadcast_to(c, (_TEX_H, _TEX_W, 3)).astype(np.float32)


def _visibility(canvas_depth, uv, zc, tol):
    """A joint is visible when it is in the frame and no surface is in front of its limb.

    ``canvas_depth (T, H, W)`` z-buffers (metres), ``uv (T, J, 2)``, ``zc (T, J)``, ``tol (J,)``.
    """
    T, H, W = canvas_depth.shape
    u = np.round(uv[..., 0]).astype(int)
    v = np.round(uv[..., 1]).astype(int)
    inside = (u >= 0) & (u < W) & (v >= 0) & (v < H) & (zc > 0.1)
    vis = np.zeros(u.shape, bool)
    t, j = np.nonzero(inside)
    vis[t, j] = canvas_depth[t, v[t, j], u[t, j]] >= zc[t, j] - tol[j]
    return vis


# how deep inside the body surface a joint may sit and still count as visible (x body height;
# trunk joints scale with girth): the pelvis is inside the hips, a knee inside its leg
_JOINT_TOL = np.array([
    0.13 if n in ("pelvis", "spine_mid", "spine_shoulder") else
    0.09 if n.endswith(("_hip", "_shoulder", "_chest")) or n in ("neck", "head") else
    0.045 if n.endswith(("_knee", "_elbow", "_ankle", "_heel")) else 0.03
    for n in BODY_JOINTS])
_TRUNK = np.array([n in ("pelvis", "spine_mid", "spine_shoulder", "neck") or
                   n.endswith(("_hip", "_shoulder", "_chest")) for n in BODY_JOINTS])


def render_clip(joints_world: np.ndarray, shape: BodyShape, look: Appearance, setup: SetupParams,
                camera_id: int, size: tuple[int, int], rng: np.random.Generator, *,
                props: dict | None = None, to_world=None, jitter: float = 1.0,
                distractor: bool = False) -> RenderOut:
    """Render a clip of a performance (world joints ``(T, J, 3)``) from one camera of a setup.

    ``to_world`` maps stage coordinates of props to world; ``rng`` draws the clip's camera
    jitter and distractor path (the performance itself is fixed by then).
    """
    T = joints_world.shape[0]
    H, W = size
    cam = setup.camera(camera_id, size)
    bg_rgb, bg_depth = room_background(setup, camera_id, (H, W))
    light_cam = cam.R @ np.asarray(setup.light)
    # static props drawn once into a private copy of the padded background
    bg_rgb = bg_rgb.copy()
    bg_depth = bg_depth.copy()
    prop_ids = np.zeros(bg_depth.shape, np.uint8)
    if props and "chair" in props and to_world is not None:
        ch = props["chair"]
        a, b, r = chair_capsules(ch, to_world)
        pad = np.full((1, 2), JITTER_PAD, np.float64)
        pc = _Projected(cam, a[None], b[None], r, r, np.zeros(len(r), int),
                        _chair_texture(ch["color"])[None], light_cam, setup.ambient, pad)
        pc.draw(0, bg_rgb, bg_depth, prop_ids, PROP_ID)
    # camera jitter: a smooth, drift-free random walk of the principal point, integer pixels
    if jitter > 0 and T > 1:
        walk = np.cumsum(rng.normal(0, 0.6 * jitter, (T, 2)), 0)
        walk -= np.linspace(0, 1, T)[:, None] * walk[-1]
        off = np.clip(np.round(walk), -JITTER_PAD, JITTER_PAD).astype(int)
    else:
        off = np.zeros((T, 2), int)
    a_w, b_w, ra, rb, part = body_capsules(joints_world, shape, look.long_sleeves)
    person = _Projected(cam, a_w, b_w, ra, rb, part, look.textures, light_cam, setup.ambient, off)
    ball = None
    if distractor:  # a ball rolling or bouncing across the room behind the performer
        path = _distractor_path(rng, T)[:, None]
        rad = np.array([0.12])
        ball = _Projected(cam, path, path, rad, rad, [0], _BALL_TEX[None], light_cam,
                          setup.ambient, off)
    jc = cam.to_camera(joints_world)
    uv_all = cam.project(jc) + off[:, None, :]
    shadows = _shadow_ops(*_shadow_rings(cam, joints_world, off), H, W)
    rgb = np.empty((T, H, W, 3), np.uint8)
    mask = np.empty((T, H, W), bool)
    tol = _JOINT_TOL * shape.height * np.where(_TRUNK, max(shape.girth, 1.0), 1.0) + 0.02
    zbuf = np.empty((T, H, W), np.float32)  # metres, every frame kept for the batched passes
    ids = np.empty((H, W), np.uint8)
    for t, (dx, dy) in enumerate(off.tolist()):
        ys = slice(JITTER_PAD - dy, JITTER_PAD - dy + H)
        xs = slice(JITTER_PAD - dx, JITTER_PAD - dx + W)
        frame, z = rgb[t], zbuf[t]
        frame[:] = bg_rgb[ys, xs]
        z[:] = bg_depth[ys, xs]
        ids[:] = prop_ids[ys, xs]
        if shadows[t] is not None:
            _shadow(frame, *shadows[t])
        if ball is not None:
            ball.draw(t, frame, z, ids, DISTRACTOR_ID)
        person.draw(t, frame, z, ids, PERSON_ID)
        np.equal(ids, PERSON_ID, out=mask[t])
    vis_all = _visibility(zbuf, uv_all, jc[..., 2], tol)
    # millimetres; every pixel sees the room, so there is always a reading (< 65.5 m)
    np.multiply(zbuf, 1000.0, out=zbuf)
    zbuf += 0.5
    np.minimum(zbuf, 65535.0, out=zbuf)
    depth = zbuf.astype(np.uint16)
    return RenderOut(rgb=rgb, depth=depth, mask=mask, joints_cam=jc, joints_2d=uv_all,
                     visible=vis_all, jitter=off)


_BALL_TEX = np.broadcast_to(np.array([0.85, 0.25, 0.2], np.float32), (_TEX_H, _TEX_W, 3)).copy()
_BALL_TEX[::4] *= 0.6


def _distractor_path(rng: np.random.Generator, T: int) -> np.ndarray:
    """World path (T, 3) of a ball crossing behind the stage (bouncing or rolling)."""
    x0 = rng.uniform(-2.2, -1.2) * rng.choice([-1, 1])
    z = rng.uniform(-2.0, -1.2)
    x = np.linspace(x0, -x0, T)
    bounce = rng.random() < 0.6
    if bounce:
        period = rng.uniform(0.3, 0.6)
        ph = np.linspace(0, 1, T) / period + rng.uniform(0, 1)
        y = 0.12 + rng.uniform(0.3, 0.8) * np.abs(np.sin(np.pi * ph))
    else:
        y = np.full(T, 0.12)
    return np.stack([x, y, np.full(T, z)], -1)


def _shadow_rings(cam: Camera, joints: np.ndarray, offset: np.ndarray):
    """Per frame: the floor ellipse under the body in pixels (T, 16, 2) and its strength (T,)."""
    pts = joints[..., [0, 2]]
    low = joints[..., 1].min(1)
    c = np.median(pts, axis=1)
    rad = 0.5 * (pts.max(1) - pts.min(1)) + 0.12
    ang = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ring = np.stack([c[:, None, 0] + rad[:, None, 0] * np.cos(ang), np.zeros((len(c), 16)),
                     c[:, None, 1] + rad[:, None, 1] * np.sin(ang)], -1)
    uv = cam.project(cam.to_camera(ring)) + offset[:, None, :]
    strength = np.clip(0.35 - 0.5 * np.maximum(low, 0.0), 0.0, 1.0)
    return uv, strength


def _shadow_ops(uv: np.ndarray, strength: np.ndarray, H: int, W: int) -> list:
    """Per frame, the shadow's window ``(x0, y0, x1, y1)``, its outline in window fixed-point
    pixels and its strength in 1/256 (None: no shadow), computed for all frames at once."""
    lo = np.maximum(np.floor(uv.min(1)).astype(int) - 3, 0)                  # (T, 2)
    hi = np.minimum(np.ceil(uv.max(1)).astype(int) + 4, [W, H])
    poly = np.round((uv - lo[:, None, :]) * _ONE).astype(np.int32)           # (T, 16, 2)
    ops = []
    for t, ((x0, y0), (x1, y1), s) in enumerate(zip(lo.tolist(), hi.tolist(),
                                                     strength.tolist())):
        ok = s > 0.01 and x1 - x0 >= 2 and y1 - y0 >= 2
        ops.append((x0, y0, x1, y1, poly[t], int(s * 256)) if ok else None)
    return ops


def _shadow(frame: np.ndarray, x0: int, y0: int, x1: int, y1: int, poly: np.ndarray,
            s256: int) -> None:
    """A soft contact shadow on the floor under the body (drawn before the body): the frame is
    darkened by ``1 - s * blurred ellipse`` in 8-bit fixed point."""
    m = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(m, poly, 255, cv2.LINE_8, _SHIFT)
    k = cv2.blur(m, (5, 5)).astype(np.uint16)
    k *= s256
    k >>= 8
    np.subtract(256, k, out=k)
    sub = frame[y0:y1, x0:x1]
    dark = sub.astype(np.uint16)
    dark *= k[..., None]
    dark >>= 8
    sub[:] = dark
