"""Patch-level optical flow and motion-invariant maps from frozen ViT patch tokens.

This is the parameter-free front end of the Motion Perceiver (Han et al., NeurIPS 2024, §2.1,
§2.3). For a reference frame ``t`` and a target frame ``m`` every patch of ``t`` is matched to a
soft position in ``m``::

    Ĝ[t→m] = softmax_j( f(F_t) f(F_m)^T / τ ) · G        f = L2 normalisation, τ = 0.001

where ``G`` is the (N, 2) patch grid (x = column, y = reversed row so that y points up, in
patch units, flattened row-major). Everything the model needs from the tokens is a function of
these soft positions alone:

* the flow at stride ``s`` for reference ``t`` is the consecutive difference of Ĝ[t→g] over the
  phase-aligned group ``g = t mod s, t mod s + s, ...`` (one group per ``t``, not one global
  subsample), x/y interleaved, each component with ``|v| < 0.2`` set to 0 and then 1e-6 added to
  every entry (the released code's rule, ``threshold_mode="component"``);
* the motion-invariant map averages the positive and negative parts of Ĝ[t→t] − Ĝ[t→m] over all
  frames ``m`` (stride 1, no threshold) in the axis order [+x, +y, −x, −y].

The official code recomputes the cosine matrix for every (scale, frame) pair in a Python loop:
T·(Σ fs + T) matrix products per clip. All scales only ever use pairs (t, m) of the stride-1 set,
and Ĝ[t→m] does not depend on the scale, so :func:`soft_match_positions` computes the (B, T, T,
N, 2) positions once, as a few large GEMMs, and :func:`patch_flow` / :func:`motion_invariant`
derive every scale and the invariant map from them by indexing. The per-frame loops of the
official code are kept as :func:`patch_flow_naive` / :func:`motion_invariant_naive` (the
reference the fast path is tested against, and the benchmark's naive path).

Matching always runs in float32 with autocast disabled: τ = 0.001 multiplies cosine errors by
1000, so bf16 tokens (≈3 significant digits) would change which patch wins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..errors import DataError

MATCH_TEMPERATURE = 0.001
FLOW_THRESHOLD = 0.2
FLOW_EPS = 1e-6
THRESHOLD_MODES = ("component", "magnitude")
# elements of one chunk of the (B, T_ref, N, T, N) similarity tensor (~256 MB in float32)
DEFAULT_MAX_ELEMENTS = 1 << 26


def grid_side(num_patches: int) -> int:
    """Side of the square patch grid holding ``num_patches`` tokens (official: 14 for 196)."""
    side = math.isqrt(num_patches)
    if side * side != num_patches:
        raise DataError(None, f"patch tokens must form a square grid; got N = {num_patches}")
    return side


def coords_grid(h: int, w: int, device=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(h·w, 2) patch coordinates: x = column, y = h − 1 − row (y up), flattened row-major."""
    rows = torch.arange(h, device=device).view(h, 1).expand(h, w)
    cols = torch.arange(w, device=device).view(1, w).expand(h, w)
    return torch.stack([cols, (h - 1) - rows], dim=-1).reshape(h * w, 2).to(dtype)


def frame_groups(num_frames: int, group_size: int, device=None) -> torch.Tensor:
    """(T, fs) frame indices of the phase-aligned group of every reference frame.

    Row ``t`` is ``t mod s + s·k`` for ``k = 0..fs−1`` with stride ``s = T // fs``: all frames of
    the same phase as ``t``, in temporal order, ``t`` included.
    """
    if group_size < 2 or num_frames % group_size:
        raise DataError(None, f"a flow scale of {group_size} frames needs 2 <= fs and T % fs == 0 "
                              f"(T = {num_frames}); the official frame groups are undefined otherwise")
    stride = num_frames // group_size
    t = torch.arange(num_frames, device=device).view(-1, 1)
    return t % stride + stride * torch.arange(group_size, device=device).view(1, -1)


def _check_tokens(tokens: torch.Tensor) -> tuple[int, int, int, int]:
    if tokens.ndim != 4:
        raise DataError(None, f"patch tokens must be (B, T, N, E); got shape {tuple(tokens.shape)}")
    return tuple(tokens.shape)  # type: ignore[return-value]


def soft_match_positions(tokens: torch.Tensor, tau: float = MATCH_TEMPERATURE,
                         max_elements: int = DEFAULT_MAX_ELEMENTS) -> torch.Tensor:
    """Soft-argmax position of every patch of frame t in every frame m: (B, T, T, N, 2).

    ``out[b, t, m, i]`` = Σ_j softmax_j(cos(F[b,t,i], F[b,m,j]) / τ) · G[j]. Computed as one
    (c·N × E)·(E × T·N) GEMM per chunk of ``c`` reference frames, ``c`` chosen so a chunk of
    the similarity tensor has at most ``max_elements`` entries (all frames at once when small).
    """
    b, t, n, _ = _check_tokens(tokens)
    side = grid_side(n)
    with torch.autocast(tokens.device.type, enabled=False):
        grid = coords_grid(side, side, tokens.device)
        fn = F.normalize(tokens.float(), p=2, dim=-1)
        keys = fn.reshape(b, t * n, -1).transpose(1, 2)  # (B, E, T·N)
        chunk = max(1, min(t, max_elements // max(1, b * n * t * n)))
        parts = []
        for t0 in range(0, t, chunk):
            c = min(chunk, t - t0)
            sim = torch.bmm(fn[:, t0:t0 + c].reshape(b, c * n, -1), keys)  # (B, c·N, T·N)
            sim = sim.view(b, c, n, t, n)
            sim = sim.div_(tau) if not sim.requires_grad else sim / tau
            pos = torch.matmul(sim.softmax(dim=-1), grid)  # (B, c, N, T, 2)
            parts.append(pos.permute(0, 1, 3, 2, 4))
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0].contiguous()


def threshold_flow(flow: torch.Tensor, threshold: float = FLOW_THRESHOLD,
                   mode: str = "component", eps: float = FLOW_EPS) -> torch.Tensor:
    """Suppress small flows; ``flow``'s last axis is x/y interleaved.

    ``"component"`` (released code, default): every component with ``|v| < threshold`` becomes
    0, then ``eps`` is added to every entry. ``"magnitude"`` (the paper's wording): every (dx, dy)
    step whose 2-D magnitude is below ``threshold`` becomes (eps, eps); others are unchanged.
    """
    if mode == "component":
        return torch.where(flow.abs() < threshold, 0.0, flow) + eps
    if mode == "magnitude":
        pairs = flow.unflatten(-1, (-1, 2))
        small = pairs.norm(dim=-1, keepdim=True) < threshold
        return torch.where(small, torch.full_like(pairs, eps), pairs).flatten(-2)
    raise DataError(None, f"threshold_mode {mode!r} not in {THRESHOLD_MODES}")


def patch_flow(matches: torch.Tensor, num_frames_list: Sequence[int],
               threshold: float = FLOW_THRESHOLD, threshold_mode: str = "component",
               eps: float = FLOW_EPS) -> list[torch.Tensor]:
    """Flows of every scale from soft positions ``matches`` (B, T, T, N, 2).

    Returns one (B, T, N, 2·(fs−1)) tensor per ``fs`` in ``num_frames_list`` (official
    ``[32, 16, 8, 4]``, i.e. strides 1, 2, 4, 8), x/y interleaved per frame step, thresholded.
    """
    b, t, _, n, _ = matches.shape
    ref = torch.arange(t, device=matches.device).view(-1, 1)
    flows = []
    for fs in num_frames_list:
        grp = matches[:, ref, frame_groups(t, fs, matches.device)]  # (B, T, fs, N, 2)
        step = grp[:, :, 1:] - grp[:, :, :-1]
        flow = step.permute(0, 1, 3, 2, 4).reshape(b, t, n, 2 * (fs - 1))
        flows.append(threshold_flow(flow, threshold, threshold_mode, eps))
    return flows


def motion_invariant(matches: torch.Tensor) -> torch.Tensor:
    """(B, T, 4, N) motion-invariant map from soft positions (B, T, T, N, 2).

    For each reference t: motion_m = Ĝ[t→t] − Ĝ[t→m]; the positive and negative parts are
    averaged over all m (m = t included), axes ordered [+x, +y, −x, −y].
    """
    own = matches.diagonal(dim1=1, dim2=2).permute(0, 3, 1, 2)  # (B, T, N, 2)
    motion = own.unsqueeze(2) - matches  # (B, T, T, N, 2)
    pos = motion.clamp(min=0).mean(dim=2)
    neg = motion.neg().clamp(min=0).mean(dim=2)
    return torch.cat([pos, neg], dim=-1).transpose(2, 3)


def patch_motion(tokens: torch.Tensor, num_frames_list: Sequence[int],
                 tau: float = MATCH_TEMPERATURE, threshold: float = FLOW_THRESHOLD,
                 threshold_mode: str = "component",
                 max_elements: int = DEFAULT_MAX_ELEMENTS) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Flows of every scale and the invariant map from tokens (B, T, N, E), matching once."""
    matches = soft_match_positions(tokens, tau, max_elements)
    return patch_flow(matches, num_frames_list, threshold, threshold_mode), motion_invariant(matches)


# --- the official per-frame loops (reference and benchmark baseline) ---------------------------

def _soft_positions(ref: torch.Tensor, targets: torch.Tensor, grid: torch.Tensor, tau: float):
    """Ĝ[ref→target] for normalised ref (B, N, E) and targets (B, k, N, E): (B, k, N, 2)."""
    k = targets.shape[1]
    corr = torch.matmul(ref.unsqueeze(1).repeat(1, k, 1, 1), targets.transpose(-1, -2))
    return torch.matmul((corr / tau).softmax(dim=-1), grid)


def patch_flow_naive(tokens: torch.Tensor, num_frames_list: Sequence[int],
                     tau: float = MATCH_TEMPERATURE, threshold: float = FLOW_THRESHOLD,
                     threshold_mode: str = "component") -> list[torch.Tensor]:
    """The released ``dense_OF``: one cosine matrix per (scale, reference frame), in a loop."""
    b, t, n, _ = _check_tokens(tokens)
    side = grid_side(n)
    grid = coords_grid(side, side, tokens.device)
    fn = F.normalize(tokens.float(), p=2, dim=-1)
    flows = []
    for fs in num_frames_list:
        groups = frame_groups(t, fs).tolist()
        per_frame = []
        for ref in range(t):
            pos = _soft_positions(fn[:, ref], fn[:, groups[ref]], grid, tau)  # (B, fs, N, 2)
            step = pos[:, 1:] - pos[:, :-1]
            per_frame.append(step.permute(0, 2, 1, 3).reshape(b, n, -1))
        flows.append(threshold_flow(torch.stack(per_frame, dim=1), threshold, threshold_mode))
    return flows


def motion_invariant_naive(tokens: torch.Tensor, tau: float = MATCH_TEMPERATURE) -> torch.Tensor:
    """The released ``motion_invar``: one (T × N × N) matching per reference frame, in a loop."""
    b, t, n, _ = _check_tokens(tokens)
    side = grid_side(n)
    grid = coords_grid(side, side, tokens.device)
    fn = F.normalize(tokens.float(), p=2, dim=-1)
    maps = []
    for ref in range(t):
        pos = _soft_positions(fn[:, ref], fn, grid, tau)  # (B, T, N, 2)
        motion = pos[:, ref:ref + 1] - pos
        inv = torch.cat([motion.clamp(min=0).mean(1), motion.neg().clamp(min=0).mean(1)], dim=-1)
        maps.append(inv.transpose(1, 2))
    return torch.stack(maps, dim=1)
