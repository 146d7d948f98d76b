"""Motion Perceiver (MP) and Enhanced MP (En-MP): action recognition from patch-level flow.

Han, Wang, Zhang, "Flow Snapshot Neurons in Action", NeurIPS 2024; official code
``ZhangLab-DeepNeuroCogLab/MotionPerceiver`` @ fd6a3ca. The pipeline (``docs/mp.md``)::

    video (B,3,T,H,W) --frozen DINO ViT--> tokens (B,T,N,E) --soft matching--> Ĝ (B,T,T,N,2)
      ├─ flows at strides 1,2,4,8 --> flow-snapshot neurons (slot attention + walk loss)
      │     --> cosine maps --> Linear(N→dim) --> 2 Blocks over slots --> + sin-cos time
      │     --> 2 Blocks over time --> flow_head
      └─ motion-invariant map (B,T,4,N) --> Linear(N→dim) --> 2 Blocks over axes
            --> 2 Blocks over time --> invar_head
    concat(flow, invariant) --> all_head (the prediction)
    loss = CE_fuse + Σ_s 10·L_walk,s + CE_flow + CE_invar

En-MP runs the whole pipeline with its own modules on DINO blocks 1, 7 and 12 (0-based 0, 6,
11), fuses the six features with 2 Blocks and a Linear head.

Module and parameter names are the official ones, so official checkpoints load through
``motionscope.models.official.load_official(model, path, "mp")`` with identity key mapping.
Two implementations compute the same function: ``impl="fast"`` (default: all frames through the
ViT in batches, one shared matching for every scale and the invariant map, fused attention) and
``impl="naive"`` (the official per-frame loops, explicit attention), which the tests and the
benchmark compare. Precision-critical stages (matching with τ = 0.001, slot attention, walk
loss) always run in float32 even under an outer autocast; the projections, fusion blocks and
heads follow the caller's autocast (the official code trained them under fp16 autocast).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, DataError
from ..motion.patch_flow import (
    DEFAULT_MAX_ELEMENTS,
    FLOW_THRESHOLD,
    MATCH_TEMPERATURE,
    THRESHOLD_MODES,
    motion_invariant,
    motion_invariant_naive,
    patch_flow,
    patch_flow_naive,
    soft_match_positions,
)
from .layers.slot_attention import WALK_REDUCTIONS, SlotAttentionEncoder, contrastive_walk_loss
from .layers.transformer import Block, set_attention_mode
from .official import read_state_dict
from .vit import VisionTransformer, build_backbone

DEFAULT_NUM_FRAMES_LIST = (32, 16, 8, 4)
IMPLS = ("fast", "naive")


def sincos_time_embedding(num_frames: int, dim: int) -> torch.Tensor:
    """(1, T, dim) fixed 1-D sin-cos table: [sin(t·ω_i) | cos(t·ω_i)], ω_i = 10000^(−2i/dim)."""
    if dim % 2:
        raise ConfigError(f"time embedding width must be even; got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    angles = torch.arange(num_frames, dtype=torch.float64)[:, None] * omega[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1).float().unsqueeze(0)


def replication_indices(num_in: int, num_out: int, device=None) -> torch.Tensor:
    """Official rule for clips of another length: ``floor(linspace(0, T_in, T, endpoint=False))``.

    3 frames -> each repeated 11, 11, 10 times; 4 frames -> 8 times each; longer clips are
    subsampled uniformly.
    """
    step = num_in / num_out
    return (torch.arange(num_out, dtype=torch.float64) * step).floor().long().to(device)


def align_frames(x: torch.Tensor, num_frames: int, dims: Sequence[int]) -> torch.Tensor:
    """Index the time axes ``dims`` of ``x`` with :func:`replication_indices` if T differs."""
    t_in = x.shape[dims[0]]
    if t_in == num_frames:
        return x
    if t_in < 1:
        raise DataError(None, "clip has no frames")
    idx = replication_indices(t_in, num_frames, x.device)
    for d in dims:
        x = x.index_select(d, idx)
    return x


def _fusion(depth: int, dim: int, heads: int, attention: str) -> nn.Sequential:
    # timm Block(dim, num_heads=8) defaults: qkv without bias, LayerNorm eps 1e-5, MLP 4x GELU
    return nn.Sequential(*[Block(dim, heads, attention=attention) for _ in range(depth)])


def _per_scale(value, n: int, name: str) -> list[int]:
    vals = [int(value)] * n if isinstance(value, int) else [int(v) for v in value]
    if len(vals) != n:
        raise ConfigError(f"{name} needs one value per flow scale ({n}); got {vals}")
    return vals


class _MotionPerceiverBase(nn.Module):
    """Configuration, backbone and shared stages of MP and En-MP."""

    def __init__(self, num_classes: int = 10, num_frames: int = 32, img_size: int = 224,
                 patch_size: int = 16, dim: int = 768, num_heads: int = 8, fusion_depth: int = 2,
                 num_frames_list: Sequence[int] = DEFAULT_NUM_FRAMES_LIST,
                 num_slots: int | Sequence[int] = 6, slot_size: Sequence[int] | None = None,
                 mlp_hidden_size: Sequence[int] | None = None, slot_iters: int = 3,
                 slot_heads: int = 1, walk_temperature: float = 0.05, walk_weight: float = 10.0,
                 walk_reduction: str = "full_matrix", match_temperature: float = MATCH_TEMPERATURE,
                 flow_threshold: float = FLOW_THRESHOLD, threshold_mode: str = "component",
                 backbone: str = "dino_vitb16", backbone_checkpoint: str | os.PathLike | None = None,
                 backbone_kwargs: Mapping | None = None, attention: str = "sdpa",
                 impl: str = "fast", frame_chunk: int = 64,
                 max_match_elements: int = DEFAULT_MAX_ELEMENTS):
        super().__init__()
        if threshold_mode not in THRESHOLD_MODES:
            raise ConfigError(f"threshold_mode {threshold_mode!r} not in {THRESHOLD_MODES}")
        if walk_reduction not in WALK_REDUCTIONS:
            raise ConfigError(f"walk_reduction {walk_reduction!r} not in {WALK_REDUCTIONS}")
        if img_size % patch_size:
            raise ConfigError(f"img_size {img_size} is not a multiple of patch_size {patch_size}")
        self.num_frames_list = [int(f) for f in num_frames_list]
        for fs in self.num_frames_list:
            if fs < 2 or num_frames % fs:
                raise ConfigError(f"num_frames_list entry {fs}: each scale needs 2 <= fs and "
                                  f"num_frames ({num_frames}) divisible by fs")
        n_scales = len(self.num_frames_list)
        flow_dims = [2 * (fs - 1) for fs in self.num_frames_list]
        self.num_classes, self.num_frames, self.dim = num_classes, num_frames, dim
        self.img_size, self.patch_size = img_size, patch_size
        self.num_patches = (img_size // patch_size) ** 2
        self.num_slots = _per_scale(num_slots, n_scales, "num_slots")
        self.slot_size = _per_scale(slot_size or flow_dims, n_scales, "slot_size")
        self.mlp_hidden_size = _per_scale(mlp_hidden_size or flow_dims, n_scales,
                                          "mlp_hidden_size")
        self.flow_dims = flow_dims
        self.slot_iters, self.slot_heads = slot_iters, slot_heads
        self.walk_temperature, self.walk_weight = walk_temperature, walk_weight
        self.walk_reduction = walk_reduction
        self.match_temperature, self.flow_threshold = match_temperature, flow_threshold
        self.threshold_mode = threshold_mode
        self.num_heads, self.fusion_depth = num_heads, fusion_depth
        self.frame_chunk, self.max_match_elements = frame_chunk, max_match_elements
        self.backbone_name = backbone
        self.vit_encoder = build_backbone(backbone, backbone_checkpoint, img_size, patch_size,
                                          **dict(backbone_kwargs or {}))
        # fixed table; a buffer so it is saved (official key "time_embed") but never trained
        self.register_buffer("time_embed", sincos_time_embedding(num_frames, dim))
        self.attention = attention
        self.impl = "fast"
        self._pending_impl = impl

    def _finish_init(self) -> None:
        self.set_impl(self._pending_impl)
        del self._pending_impl

    # --- configuration -----------------------------------------------------------------------
    def set_impl(self, impl: str) -> None:
        """Switch between ``"fast"`` (batched, fused attention) and ``"naive"`` (official loops)."""
        if impl not in IMPLS:
            raise ConfigError(f"impl {impl!r} not in {IMPLS}")
        self.impl = impl
        set_attention_mode(self, "naive" if impl == "naive" else self.attention)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.vit_encoder is not None:  # frozen: always in eval mode
            self.vit_encoder.eval()
        return self

    def _slot_encoders(self, n_groups: int) -> nn.ModuleList:
        s = len(self.num_frames_list)
        return nn.ModuleList(
            SlotAttentionEncoder(self.slot_iters, self.num_slots[i % s], self.flow_dims[i % s],
                                 self.slot_size[i % s], self.mlp_hidden_size[i % s],
                                 self.slot_heads)
            for i in range(n_groups * s))

    def _fusion(self) -> nn.Sequential:
        return _fusion(self.fusion_depth, self.dim, self.num_heads, self.attention)

    @classmethod
    def official_kwargs(cls, cfg, n_finetune_classes: int | None = None) -> dict:
        """Our constructor kwargs from the official ``cfg`` (nested dict or attribute object).

        Reads ``MYMODEL.{NUM_FRAMES_LIST, TEMPORAL_CORR_TEMP, TEMPORAL_SLOT.*}``, the only
        fields the official classes read. Sizes the official code hard-codes (T = 32, 224 px,
        patch 16, width 768, 8 heads, 2 blocks) are our defaults.
        """
        def get(node, key):
            return node[key] if isinstance(node, Mapping) else getattr(node, key)

        m = get(cfg, "MYMODEL")
        ts = get(m, "TEMPORAL_SLOT")
        nfl = [int(f) for f in get(m, "NUM_FRAMES_LIST")]
        flow_dims = [2 * (f - 1) for f in nfl]
        channels = [int(c) for c in get(ts, "INPUT_CHANNEL")][:len(nfl)]
        if channels != flow_dims:
            raise ConfigError(f"TEMPORAL_SLOT.INPUT_CHANNEL {channels} must equal the flow "
                              f"widths 2·(fs−1) = {flow_dims} of NUM_FRAMES_LIST {nfl}")
        kw = {"num_frames_list": nfl, "walk_temperature": float(get(m, "TEMPORAL_CORR_TEMP")),
              "num_slots": [int(v) for v in get(ts, "NUM_SLOTS")][:len(nfl)],
              "slot_size": [int(v) for v in get(ts, "SLOT_SIZE")][:len(nfl)],
              "mlp_hidden_size": [int(v) for v in get(ts, "MLP_HIDDEN_SIZE")][:len(nfl)],
              "slot_iters": int(get(ts, "NUM_ITER")), "slot_heads": int(get(ts, "NUM_HEAD"))}
        if n_finetune_classes is not None:
            kw["num_classes"] = int(n_finetune_classes)
        return kw

    @classmethod
    def from_official_config(cls, cfg, n_finetune_classes: int = 10, **overrides):
        """Build from the official constructor's ``cfg`` and class count (+ our own kwargs)."""
        return cls(**{**cls.official_kwargs(cfg, n_finetune_classes), **overrides})

    @classmethod
    def from_official_checkpoint(cls, path: str | os.PathLike, num_classes: int | None = None,
                                 **kwargs):
        """Build a model that fits an official checkpoint file and load it strictly.

        The file's ``vit_encoder.*`` (DINO ViT-B/16) is used when present; the class count is
        read from ``all_head`` unless given.
        """
        from .official import load_official

        sd = read_state_dict(path)
        if num_classes is None and "all_head.weight" in sd:
            num_classes = int(sd["all_head.weight"].shape[0])
        if any(k.startswith("vit_encoder.") for k in sd):
            kwargs.setdefault("backbone", "vit_random")
        else:
            kwargs.setdefault("backbone", "none")
        model = cls(num_classes=num_classes or 10, **kwargs)
        load_official(model, sd, "mp")
        return model

    # --- inputs ---------------------------------------------------------------------------------
    def _check_video(self, video: torch.Tensor) -> torch.Tensor:
        if video.ndim != 5 or video.shape[1] != 3:
            raise DataError(None, f"{type(self).__name__} expects video (B, 3, T, H, W); got "
                                  f"{tuple(video.shape)}")
        if tuple(video.shape[-2:]) != (self.img_size, self.img_size):
            raise DataError(None, f"{type(self).__name__} needs {self.img_size}x{self.img_size} "
                                  f"frames (crop first); got {tuple(video.shape[-2:])}")
        return align_frames(video, self.num_frames, (2,))

    def _require_backbone(self) -> nn.Module:
        if self.vit_encoder is None:
            raise ConfigError(f"{type(self).__name__} was built with backbone='none': pass "
                              f"batch['tokens'] or batch['matches'] instead of a video")
        return self.vit_encoder

    @torch.no_grad()
    def _encode_frames(self, video: torch.Tensor, blocks: Sequence[int] | None) -> torch.Tensor:
        """Frozen tokens of every frame: (B, T, N, E), or (B, L, T, N, E) for ``blocks``."""
        enc = self._require_backbone()
        b, c, t, h, w = video.shape
        frames = video.transpose(1, 2).reshape(b * t, c, h, w)
        if self.impl == "naive":  # the official loop: one frame (of every clip) at a time
            per_frame = [self._encode_one_naive(enc, video[:, :, i], blocks) for i in range(t)]
            tokens = torch.stack(per_frame, dim=-3)  # (..., B, T, N, E)
        else:
            chunks = [enc.patch_tokens(frames[i:i + self.frame_chunk], blocks)
                      for i in range(0, b * t, self.frame_chunk)]
            tokens = torch.cat(chunks, dim=-3).unflatten(-3, (b, t))
        if blocks is not None:
            tokens = tokens.transpose(0, 1)  # (B, L, T, N, E)
        return tokens.float()

    @staticmethod
    def _encode_one_naive(enc: nn.Module, frame: torch.Tensor, blocks):
        if hasattr(enc, "get_intermediate_feat"):
            if blocks is None:
                return enc.forward_feats(frame)[:, 1:]
            feats, _, _ = enc.get_intermediate_feat(frame, n=len(enc.blocks))
            return torch.stack(feats)[list(blocks)][:, :, 1:]
        return enc.patch_tokens(frame, blocks)

    @torch.no_grad()
    def match(self, tokens: torch.Tensor) -> torch.Tensor:
        """Soft-matched positions Ĝ (B, T, T, N, 2) of tokens (B, T, N, E): the cacheable,
        parameter-free input of every later stage (12x smaller than the tokens)."""
        return soft_match_positions(tokens, self.match_temperature, self.max_match_elements)

    @torch.no_grad()
    def motion_maps(self, tokens: torch.Tensor | None = None,
                    matches: torch.Tensor | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(flows per scale, invariant map) from tokens (B, T, N, E) or matches (B, T, T, N, 2).

        No gradient: the stage has no parameters and its input is detached (as officially).
        """
        if matches is None and self.impl == "naive":
            kw = {"tau": self.match_temperature}
            flows = patch_flow_naive(tokens, self.num_frames_list, threshold=self.flow_threshold,
                                     threshold_mode=self.threshold_mode, **kw)
            return flows, motion_invariant_naive(tokens, **kw)
        if matches is None:
            with torch.autocast(tokens.device.type, enabled=False):
                matches = self.match(tokens)
        flows = patch_flow(matches.float(), self.num_frames_list, self.flow_threshold,
                           self.threshold_mode)
        return flows, motion_invariant(matches.float())

    def _check_tokens(self, x: torch.Tensor, ndim: int, what: str) -> torch.Tensor:
        if x.ndim != ndim or x.shape[-2] != self.num_patches:
            raise DataError(None, f"{type(self).__name__}: batch[{what!r}] has shape "
                                  f"{tuple(x.shape)}; expected {ndim} dims with "
                                  f"N = {self.num_patches} patches")
        return x

    # --- shared stages ------------------------------------------------------------------------
    def _flow_branch(self, flows, first: int, x_slots, x_time, head, rec, losses, tag):
        """Flow-snapshot neurons of every scale, fusion over slots and time, the flow head."""
        b, t, n = flows[0].shape[:3]
        scale_tokens = []
        for i, flow in enumerate(flows):
            enc = self.temporal_slot[first + i]
            x = flow.reshape(b, t * n, -1)
            with torch.autocast(flow.device.type, enabled=False):
                slots, attn = enc(x)
                walk = self.walk_weight * contrastive_walk_loss(
                    x, slots, self.walk_temperature, self.walk_reduction)
                act = torch.matmul(F.normalize(x, p=2, dim=-1),
                                   F.normalize(slots, p=2, dim=-1).transpose(1, 2))
            act = act.view(b, t, n, -1).permute(0, 3, 1, 2)  # (B, K, T, N)
            feat = self.flow_proj[first + i](act)  # (B, K, T, dim)
            scale_tokens.append(feat.transpose(1, 2).reshape(b * t, act.shape[1], -1))
            losses[f"slot_{tag}{i}"] = walk
            if rec is not None:
                rec["OF"].append(flow)
                rec["slots"].append(slots)
                rec["slot_attn"].append(attn)
                rec["slot_loss"].append(walk)
                rec["flow_activation"].append(act)
        x = x_slots(torch.cat(scale_tokens, dim=1)).mean(dim=1).view(b, t, -1)
        feature = x_time(x + self.time_embed).mean(dim=1)
        return feature, head(feature)

    def _invar_branch(self, inv_map, proj, x_axes, x_time, head):
        b, t = inv_map.shape[:2]
        x = proj(inv_map)  # (B, T, 4, dim)
        x = x_axes(x.view(b * t, x.shape[2], -1)).mean(dim=1).view(b, t, -1)
        feature = x_time(x).mean(dim=1)
        return feature, head(feature)

    @staticmethod
    def _ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), labels)

    # --- the engine contract ------------------------------------------------------------------
    def forward(self, batch: Mapping) -> dict:
        """``batch``: "video" (B, 3, T, H, W) normalised, or "tokens" / "matches" (frozen,
        precomputed); optional "label" (B,). Returns "logits" (all_head), the per-head logits
        and "losses" (walk losses always, cross-entropies when labels are given)."""
        labels = batch.get("label")
        if "matches" in batch:
            out = self.forward_official(matches=batch["matches"], labels=labels)
        elif "tokens" in batch:
            out = self.forward_official(batch["tokens"], labels=labels)
        elif "video" in batch:
            out = self.forward_official(self.extract_tokens(batch["video"]), labels=labels)
        else:
            raise DataError(None, f"{type(self).__name__} needs batch['video'], batch['tokens'] "
                                  f"or batch['matches']; got keys {sorted(batch)}")
        return self._contract(out)


class MotionPerceiver(_MotionPerceiverBase):
    """MP: flow-snapshot and motion-invariant pathways on the last DINO block's tokens.

    Sizes default to the official ones (T = 32, 224², patch 16, width 768, scales
    [32, 16, 8, 4], K = 6 slots, 3 iterations, µ = 0.05, α = 10, τ = 0.001, γ = 0.2); smaller
    values make CPU-sized models with the same math.
    """

    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(num_classes=num_classes, **kwargs)
        s, n, dim = len(self.num_frames_list), self.num_patches, self.dim
        self.temporal_slot = self._slot_encoders(1)
        self.flow_proj = nn.ModuleList(nn.Sequential(nn.Linear(n, dim)) for _ in range(s))
        self.flow_combination_x_slots = self._fusion()
        self.flow_combination_x_time = self._fusion()
        self.invar_proj = nn.Sequential(nn.Linear(n, dim))
        self.invar_combination_x_axes = self._fusion()
        self.invar_combination_x_time = self._fusion()
        self.flow_head = nn.Linear(dim, num_classes)
        self.invar_head = nn.Linear(dim, num_classes)
        self.all_head = nn.Linear(2 * dim, num_classes)
        self._finish_init()

    def extract_tokens(self, video: torch.Tensor) -> torch.Tensor:
        """Frozen final-block patch tokens (B, T, N, E) of a normalised video (B, 3, T, H, W)."""
        return self._encode_frames(self._check_video(video), None)

    def forward_official(self, tokens: torch.Tensor | None = None,
                       labels: torch.Tensor | None = None, matches: torch.Tensor | None = None,
                       record: bool = False) -> dict:
        """The model from tokens (B, T, N, E) or matches (B, T, T, N, 2).

        Returns official-named outputs: "logit", "flow_head_logit", "invar_head_logit",
        "aux_loss" (walk losses + the two head CEs when labels are given), "total_loss"
        (+ CE_fuse) and "losses" (each term); with ``record`` also every intermediate of the
        fidelity fixtures ("OF", "slots", "slot_attn", "slot_loss", "flow_activation",
        "invariant_map", the features, "ce", "time_embed").
        """
        if tokens is None and matches is None:
            raise DataError(None, "MP.forward_official needs tokens (B, T, N, E) or matches")
        if matches is not None:
            matches = align_frames(self._check_tokens(matches, 5, "matches"), self.num_frames,
                                   (1, 2))
        else:
            tokens = align_frames(self._check_tokens(tokens, 4, "tokens"), self.num_frames, (1,))
        flows, inv_map = self.motion_maps(tokens, matches)
        rec: dict | None = {k: [] for k in ("OF", "slots", "slot_attn", "slot_loss",
                                            "flow_activation", "ce")} if record else None
        losses: dict[str, torch.Tensor] = {}
        flow_feat, flow_logit = self._flow_branch(
            flows, 0, self.flow_combination_x_slots, self.flow_combination_x_time,
            self.flow_head, rec, losses, "")
        inv_feat, inv_logit = self._invar_branch(
            inv_map, self.invar_proj, self.invar_combination_x_axes,
            self.invar_combination_x_time, self.invar_head)
        all_feat = torch.cat([flow_feat, inv_feat], dim=-1)
        logit = self.all_head(all_feat)
        if labels is not None:
            losses["ce_flow"] = self._ce(flow_logit, labels)
            losses["ce_invar"] = self._ce(inv_logit, labels)
        aux = sum(losses.values())
        out = {"logit": logit, "flow_head_logit": flow_logit, "invar_head_logit": inv_logit,
               "aux_loss": aux, "losses": dict(losses)}
        if labels is not None:
            out["losses"]["ce_fuse"] = self._ce(logit, labels)
            out["total_loss"] = aux + out["losses"]["ce_fuse"]
        if rec is not None:
            rec["ce"] = [losses[k] for k in ("ce_flow", "ce_invar") if k in losses]
            out.update(rec, invariant_map=inv_map, flow_head_feature=flow_feat,
                       invar_head_feature=inv_feat, all_head_feature=all_feat,
                       all_head_logit=logit, time_embed=self.time_embed)
        return out

    def official_forward(self, tokens: torch.Tensor, labels: torch.Tensor):
        """The official ``forward(frames, labels) -> (aux_loss, logit)``, from patch tokens."""
        out = self.forward_official(tokens, labels)
        return out["aux_loss"], out["logit"]

    @staticmethod
    def _contract(out: dict) -> dict:
        return {"logits": out["logit"], "flow_logits": out["flow_head_logit"],
                "invar_logits": out["invar_head_logit"], "losses": out["losses"]}


class EnhancedMotionPerceiver(_MotionPerceiverBase):
    """En-MP: a complete MP pipeline on each of several DINO blocks, fused by 2 Blocks.

    ``feature_blocks`` are 0-based ViT block indices (official: 0, 6, 11, i.e. blocks 1, 7,
    12), each passed through the final LayerNorm. Tokens are (B, L, T, N, E), matches
    (B, L, T, T, N, 2), L = len(feature_blocks).
    """

    def __init__(self, num_classes: int = 10, feature_blocks: Sequence[int] = (0, 6, 11),
                 **kwargs):
        super().__init__(num_classes=num_classes, **kwargs)
        self.feature_blocks = [int(b) for b in feature_blocks]
        depth = getattr(self.vit_encoder, "depth", None)
        if depth and self.backbone_name != "pixel" and max(self.feature_blocks) >= depth:
            raise ConfigError(f"feature_blocks {self.feature_blocks} exceed the backbone's "
                              f"{depth} blocks")
        nb, s = len(self.feature_blocks), len(self.num_frames_list)
        n, dim = self.num_patches, self.dim

        def per_block(make):
            return nn.ModuleList(make() for _ in range(nb))

        self.temporal_slot = self._slot_encoders(nb)
        self.flow_proj = nn.ModuleList(nn.Sequential(nn.Linear(n, dim)) for _ in range(nb * s))
        self.flow_combination_x_slots = per_block(self._fusion)
        self.flow_combination_x_time = per_block(self._fusion)
        self.invar_proj = per_block(lambda: nn.Sequential(nn.Linear(n, dim)))
        self.invar_combination_x_axes = per_block(self._fusion)
        self.invar_combination_x_time = per_block(self._fusion)
        self.flow_head = per_block(lambda: nn.Sequential(nn.Linear(dim, num_classes)))
        self.motion_head = per_block(lambda: nn.Sequential(nn.Linear(dim, num_classes)))
        self.blks_feature_combination = self._fusion()
        self.all_head = nn.Linear(dim, num_classes)
        self._finish_init()

    def extract_tokens(self, video: torch.Tensor) -> torch.Tensor:
        """Frozen tokens of the feature blocks (B, L, T, N, E) of a video (B, 3, T, H, W)."""
        return self._encode_frames(self._check_video(video), self.feature_blocks)

    def forward_official(self, tokens: torch.Tensor | None = None,
                       labels: torch.Tensor | None = None, matches: torch.Tensor | None = None,
                       record: bool = False) -> dict:
        """En-MP from tokens (B, L, T, N, E) or matches (B, L, T, T, N, 2); see
        :meth:`MotionPerceiver.forward_official`. Per-block lists are block-major."""
        nb, s = len(self.feature_blocks), len(self.num_frames_list)
        if tokens is None and matches is None:
            raise DataError(None, "En-MP.forward_official needs tokens (B, L, T, N, E) or matches")
        src = matches if matches is not None else tokens
        what = "matches" if matches is not None else "tokens"
        src = self._check_tokens(src, 6 if what == "matches" else 5, what)
        if src.shape[1] != nb:
            raise DataError(None, f"En-MP: batch[{what!r}] has {src.shape[1]} feature blocks; "
                                  f"expected {nb} ({self.feature_blocks})")
        src = align_frames(src, self.num_frames, (2, 3) if what == "matches" else (2,))
        rec: dict | None = {k: [] for k in (
            "OF", "slots", "slot_attn", "slot_loss", "flow_activation", "ce", "invariant_map",
            "flow_head_feature", "flow_head_logit", "motion_head_feature",
            "motion_head_logit")} if record else None
        losses: dict[str, torch.Tensor] = {}
        feats, flow_logits, inv_logits = [], [], []
        for j, blk in enumerate(self.feature_blocks):
            flows, inv_map = (self.motion_maps(matches=src[:, j]) if what == "matches"
                              else self.motion_maps(src[:, j]))
            flow_feat, flow_logit = self._flow_branch(
                flows, j * s, self.flow_combination_x_slots[j], self.flow_combination_x_time[j],
                self.flow_head[j], rec, losses, f"b{blk}_")
            if labels is not None:
                losses[f"ce_flow_b{blk}"] = self._ce(flow_logit, labels)
            inv_feat, inv_logit = self._invar_branch(
                inv_map, self.invar_proj[j], self.invar_combination_x_axes[j],
                self.invar_combination_x_time[j], self.motion_head[j])
            if labels is not None:
                losses[f"ce_invar_b{blk}"] = self._ce(inv_logit, labels)
            feats += [flow_feat, inv_feat]
            flow_logits.append(flow_logit)
            inv_logits.append(inv_logit)
            if rec is not None:
                rec["invariant_map"].append(inv_map)
                rec["flow_head_feature"].append(flow_feat)
                rec["flow_head_logit"].append(flow_logit)
                rec["motion_head_feature"].append(inv_feat)
                rec["motion_head_logit"].append(inv_logit)
        all_feat = self.blks_feature_combination(torch.stack(feats, dim=1)).mean(dim=1)
        logit = self.all_head(all_feat)
        aux = sum(losses.values())
        out = {"logit": logit, "flow_head_logit": torch.stack(flow_logits, dim=1),
               "invar_head_logit": torch.stack(inv_logits, dim=1), "aux_loss": aux,
               "losses": dict(losses)}
        if labels is not None:
            out["losses"]["ce_fuse"] = self._ce(logit, labels)
            out["total_loss"] = aux + out["losses"]["ce_fuse"]
        if rec is not None:
            rec["ce"] = [v for k, v in losses.items() if k.startswith("ce_")]
            out.update(rec, all_head_feature=all_feat, all_head_logit=logit,
                       time_embed=self.time_embed)
        return out

    def official_forward(self, block_tokens: torch.Tensor, labels: torch.Tensor):
        """The official ``forward -> (aux_loss, logit)`` from tokens in the official block-first
        layout (L, B, T, N, E)."""
        out = self.forward_official(block_tokens.transpose(0, 1), labels)
        return out["aux_loss"], out["logit"]

    @staticmethod
    def _contract(out: dict) -> dict:
        return {"logits": out["logit"], "flow_logits": out["flow_head_logit"],
                "invar_logits": out["invar_head_logit"], "losses": out["losses"]}


def convert_official(state_dict: Mapping[str, torch.Tensor], model: nn.Module | None = None):
    """Official MP/En-MP keys are ours; only a model built without a backbone (token input)
    drops the checkpoint's ``vit_encoder.*``."""
    sd = dict(state_dict)
    if model is not None and getattr(model, "vit_encoder", 0) is None:
        sd = {k: v for k, v in sd.items() if not k.startswith("vit_encoder.")}
    return sd


# the callables a recorded constructor argument may name: a fixture's JSON never chooses what
# gets imported (a config file is data, not code)
_OFFICIAL_PARTIALS = {"torch.nn.LayerNorm": nn.LayerNorm, "torch.nn.GELU": nn.GELU,
                      "torch.nn.BatchNorm1d": nn.BatchNorm1d, "torch.nn.BatchNorm2d": nn.BatchNorm2d}


def _decode_official_kwargs(kwargs: Mapping) -> dict:
    """Constructor kwargs recorded as JSON: ``{"partial": "torch.nn.LayerNorm", "kwargs": {...}}``
    becomes ``functools.partial(torch.nn.LayerNorm, ...)``; only the layers above can be named."""
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, Mapping) and "partial" in v:
            target = _OFFICIAL_PARTIALS.get(v["partial"])
            if target is None:
                raise ConfigError(f"constructor argument {k!r} names {v['partial']!r}; only "
                                  f"{sorted(_OFFICIAL_PARTIALS)} can be used in an official config")
            out[k] = partial(target, **v.get("kwargs", {}))
        else:
            out[k] = v
    return out


def build_official(official_class: str, constructor_kwargs: Mapping, stub_backbone: bool = False,
                   attention: str = "sdpa", impl: str = "fast") -> nn.Module:
    """Our module for an official class name and its recorded constructor arguments.

    ``Models/MP.py::MP`` and ``Models/En_MP.py::En_MP`` (cfg + n_finetune_classes; the DINO
    backbone is the ViT-B/16 architecture, or none with ``stub_backbone`` when the official
    run fed patch tokens directly), DINO's ``VisionTransformer`` and timm's ``Block`` (the
    fusion block: every default, qkv without bias, LayerNorm eps 1e-5).
    """
    name = official_class.rpartition("::")[2]
    kw = _decode_official_kwargs(constructor_kwargs)
    if name in ("MP", "En_MP"):
        cls = MotionPerceiver if name == "MP" else EnhancedMotionPerceiver
        return cls.from_official_config(kw["cfg"], kw.get("n_finetune_classes", 10),
                                        backbone="none" if stub_backbone else "vit_random",
                                        attention=attention, impl=impl)
    if name == "VisionTransformer":
        return VisionTransformer(**kw, attention=attention)
    if name == "Block":
        return Block(**kw, attention=attention)
    raise ConfigError(f"no motionscope module for the official MP class {official_class!r}")


def mp(**kwargs) -> MotionPerceiver:
    """MP with the official sizes (override any constructor argument)."""
    return MotionPerceiver(**kwargs)


def enmp(**kwargs) -> EnhancedMotionPerceiver:
    """En-MP with the official sizes (override any constructor argument)."""
    return EnhancedMotionPerceiver(**kwargs)


def mp_tiny(**kwargs) -> MotionPerceiver:
    """CPU-sized MP: 8 frames of 64², 16-px patches (4×4 grid), width 64, scales [8, 4, 2]."""
    kw = {"num_frames": 8, "img_size": 64, "patch_size": 16, "dim": 64, "num_heads": 4,
          "num_frames_list": (8, 4, 2), "backbone": "pixel"}
    return MotionPerceiver(**{**kw, **kwargs})


def enmp_tiny(**kwargs) -> EnhancedMotionPerceiver:
    """CPU-sized En-MP on a 3-block random ViT (blocks 0, 1, 2), otherwise as :func:`mp_tiny`."""
    kw = {"num_frames": 8, "img_size": 64, "patch_size": 16, "dim": 64, "num_heads": 4,
          "num_frames_list": (8, 4, 2), "backbone": "vit_random", "feature_blocks": (0, 1, 2),
          "backbone_kwargs": {"embed_dim": 96, "depth": 3, "num_heads": 3}}
    return EnhancedMotionPerceiver(**{**kw, **kwargs})


MODELS = {"mp": mp, "enmp": enmp, "mp_tiny": mp_tiny, "enmp_tiny": enmp_tiny}
mp.builds = mp_tiny.builds = MotionPerceiver  # type: ignore[attr-defined]  (argument checks)
enmp.builds = enmp_tiny.builds = EnhancedMotionPerceiver  # type: ignore[attr-defined]

_TINY_SIZE = {"num_classes": 5, "num_frames": 8, "img_size": 64, "patch_size": 16, "dim": 32,
              "num_heads": 4, "num_frames_list": (8, 4, 2), "backbone": "vit_random",
              "backbone_kwargs": {"embed_dim": 48, "depth": 3, "num_heads": 3}}
# CPU-sized configurations for the tests (the family protocol, models/__init__.py)
TINY = {"mp": _TINY_SIZE, "enmp": {**_TINY_SIZE, "feature_blocks": (0, 2)},
        "mp_tiny": {"num_classes": 5}, "enmp_tiny": {"num_classes": 5}}


def tiny_batch(name: str, model: nn.Module, batch_size: int = 2, labelled: bool = True) -> dict:
    """``{"video": (B, 3, T, H, W)}`` (+ ``label``): a texture panning right under a square
    moving up, so every flow scale carries motion above the threshold."""
    t, size = model.num_frames, model.img_size
    g = torch.Generator().manual_seed(0)
    tex = torch.randn(batch_size, 3, size, size * 2, generator=g)
    frames = []
    for i in range(t):
        f = tex[..., 5 * i:5 * i + size].clone()
        y = max(size - 20 - 6 * i, 0)
        f[:, :, y:y + 16, 24:40] = 3.0
        frames.append(f)
    out = {"video": torch.stack(frames, dim=2)}
    if labelled:
        out["label"] = torch.arange(batch_size) % model.num_classes
    return out

__all__ = ["MotionPerceiver", "EnhancedMotionPerceiver", "MODELS", "align_frames",
           "replication_indices", "sincos_time_embedding", "convert_official", "build_official", "mp", "enmp",
           "mp_tiny", "enmp_tiny", "TINY", "tiny_batch"]
