"""DRSR's temporal half: RCM (recoupling gate), the decoupled multi-scale DTN, its heads.

Shapes for the official sizes: tokens (B, T=64, 512) -> RCM -> three branches that re-sample
16 / 32 / 48 of the 64 tokens, add a CLS token and a positional embedding, and run N = 6
multi-scale layers (one pre-norm k-NN block per branch per layer; layer 1 first applies a
temporal Inception module to the non-CLS tokens). Each branch's CLS goes through LayerNorm +
Linear, divided by the sharpness temperature; the merged logits are the element-wise max over
the three branches. The distillation loss pulls ``rcm.linear(w_t)`` towards the mean branch CLS.

Key names are the official ones (``rcm.q``, ``rcm.project.0``, ``pos_embedding_small``,
``multi_scale_transformers.0.Mixed_small.b0.conv3d`` ...). Every official size that was
hard-coded (64 frames in the RCM, 512 channels, the Inception widths) is an argument here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .inception3d import InceptionModule, MaxPool3dSamePadding
from .knn_attention import KNNTransformer

BRANCHES = ("small", "media", "large")
TOKEN_SAMPLING = ("deterministic", "random")
# the temporal Inception widths of the official DTN layer 1 (sum of b0, b1b, b2b, b3b = 512)
LOCAL_WIDTHS = (160, 112, 224, 24, 64, 64)


# ------------------------------------------------------------------------------ sampling
def segment_bounds(n: int, sn: int) -> list[tuple[int, int]]:
    """The official segment rule of ``DTNNet.f``: segment i of ``sn`` over ``n`` tokens is
    ``range(int(n*i/sn), max(int(n*i/sn) + 1, int(n*(i+1)/sn)))``."""
    out = []
    for i in range(sn):
        lo = int(n * i / sn)
        out.append((lo, max(lo + 1, int(n * (i + 1) / sn))))
    return out


def middle_indices(n: int, sn: int) -> torch.Tensor:
    """One token per segment, its middle (``int(mean(range))``, as the loader picks frames)."""
    return torch.tensor([lo + (hi - 1 - lo) // 2 for lo, hi in segment_bounds(n, sn)])


def random_indices(n: int, sn: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """One uniformly random token per segment (the official draw, with the torch RNG)."""
    b = torch.tensor(segment_bounds(n, sn))
    r = torch.rand(sn, generator=generator)
    return b[:, 0] + (r * (b[:, 1] - b[:, 0])).long().clamp_max(b[:, 1] - b[:, 0] - 1)


# ------------------------------------------------------------------------ temperature
def sharpness_temperature(epoch: int | None, start: float = 0.04, end: float = 0.07,
                          warmup_epochs: int = 30) -> float:
    """``linspace(start, end, warmup_epochs)[epoch]`` for epoch < warmup_epochs, else ``end``
    (the official ``temp_schedule``); ``None`` (no epoch given: a trained model) -> ``end``."""
    if epoch is None or epoch >= warmup_epochs:
        return float(end)
    if warmup_epochs == 1:
        return float(start)
    # numpy's linspace: start + i * step, the last point exactly `end`
    step = (end - start) / (warmup_epochs - 1)
    return float(end) if epoch == warmup_epochs - 1 else float(start + epoch * step)


# ---------------------------------------------------------------------------------- RCM
class RCM(nn.Module):
    """Recoupling module on the (B, C, T) token matrix: ``x * (w_t outer w_c)``.

    ``w_t = sigmoid(LN(W2 gelu(W1 mean_c(x))))`` (no biases; width ``hidden``), ``w_c =
    sigmoid(mean_i(q_i . k_j) / sqrt(dim_head))`` with q, k = Linear(T -> dim_head*heads) over the
    time axis of every channel; with ``heads > 1`` the per-head vectors are merged by
    ``mergefc`` (Dropout 0.4, Linear, LayerNorm). ``linear(w_t)`` is the distillation student.
    """

    def __init__(self, num_frames: int = 64, channels: int = 512, hidden: int = 256,
                 heads: int = 1, dim_head: int = 64):
        super().__init__()
        self.num_frames, self.channels, self.heads = num_frames, channels, heads
        self.q = nn.Linear(num_frames, dim_head * heads, bias=False)
        self.k = nn.Linear(num_frames, dim_head * heads, bias=False)
        self.scale = dim_head ** -0.5
        self.dim_head = dim_head
        self.project = nn.Sequential(nn.Linear(num_frames, hidden, bias=False), nn.GELU(),
                                     nn.Linear(hidden, num_frames, bias=False),
                                     nn.LayerNorm(num_frames))
        self.linear = nn.Linear(num_frames, channels)
        if heads > 1:
            self.mergefc = nn.Sequential(nn.Dropout(0.4), nn.Linear(channels * heads, channels, bias=False),
                                         nn.LayerNorm(channels))

    def forward(self, x: torch.Tensor, record: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, C, T) -> (gated x (B, C, T), distillation student (B, C))."""
        b, c, t = x.shape
        t_logits = self.project(x.mean(dim=1))  # AdaptiveAvgPool1d over channels
        w_t = torch.sigmoid(t_logits)  # (B, T)
        q = self.q(x).reshape(b, c, self.heads, self.dim_head).transpose(1, 2)
        k = self.k(x).reshape(b, c, self.heads, self.dim_head).transpose(1, 2)
        dots = torch.matmul(q, k.transpose(-1, -2)) * self.scale  # (B, h, C, C)
        c_logits = dots.mean(dim=2, keepdim=True)  # over the query axis: (B, h, 1, C)
        merged = self.mergefc(c_logits.reshape(b, -1)) if self.heads > 1 else c_logits.reshape(b, c)
        w_c = torch.sigmoid(merged)  # (B, C)
        gate = w_t.unsqueeze(2) * w_c.unsqueeze(1)  # (B, T, C) = w_t outer w_c
        out = x * gate.transpose(1, 2)
        student = self.linear(w_t)
        if record is not None:
            record.update({"temporal_logits": t_logits, "channel_logits": c_logits, "gate": gate,
                           "out": out, "distill_proj": student})
        return out, student


# ---------------------------------------------------------------------------------- DTN
class MultiScaleLayer(nn.Module):
    """One DTN layer: a k-NN transformer block per branch; with ``local`` (layer 1) a temporal
    Inception module + 3x1x1 zero-padded max-pool on each branch's non-CLS tokens first."""

    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int, dropout: float,
                 knn_ratio: float, local: bool, local_widths: Sequence[int] = LOCAL_WIDTHS):
        super().__init__()
        for br in BRANCHES:
            self.add_module(f"transformer_enc_{br}",
                            KNNTransformer(dim, 1, heads, dim_head, mlp_dim, dropout, knn_ratio))
        self.local = local
        if local:
            for br in BRANCHES:
                m = InceptionModule(dim, local_widths, temporal=True)
                if m.out_channels != dim:
                    raise ValueError(f"temporal Inception widths {list(local_widths)} give "
                                     f"{m.out_channels} channels, the DTN dim is {dim}")
                self.add_module(f"Mixed_{br}", m)
            self.MaxPool = MaxPool3dSamePadding((3, 1, 1), 1)

    def local_model(self, br: str, x: torch.Tensor) -> torch.Tensor:
        cls, tok = x[:, :1], x[:, 1:]
        y = self.MaxPool(self._modules[f"Mixed_{br}"](tok.transpose(1, 2)[..., None, None]))
        return torch.cat((cls, y.flatten(2).transpose(1, 2)), dim=1)

    def forward(self, xs: dict[str, torch.Tensor], record: dict | None = None) -> dict[str, torch.Tensor]:
        out = {}
        for br in BRANCHES:
            x = xs[br]
            if self.local:
                x = self.local_model(br, x)
                if record is not None:
                    record[f"local_out.{br}"] = x
            rec = [] if record is not None else None
            x = self._modules[f"transformer_enc_{br}"](x, record=rec)
            if record is not None:
                record[f"attn.{br}"] = rec[-1]
            out[br] = x
        return out


class DTN(nn.Module):
    """RCM + three re-sampled token branches + N multi-scale layers (+ heads when ``num_classes``).

    ``forward(tokens, indices)`` returns ``{"merged", "small", "media", "large"}`` (logits with
    heads, CLS features without: the fusion network's DTNs), ``"features"`` (the three CLS) and
    ``"distill"`` (the KL of the RCM student to the mean CLS, summed over the batch).
    """

    def __init__(self, num_classes: int | None = 60, num_frames: int = 64, dim: int = 512,
                 branch_tokens: Sequence[int] = (16, 32, 48), depth: int = 6, heads: int = 8,
                 dim_head: int = 64, mlp_dim: int = 768, dropout: float = 0.1,
                 emb_dropout: float = 0.0, knn_ratio: float = 0.7, recoupling: bool = True,
                 rcm_hidden: int = 256, se_heads: int = 1, local_widths: Sequence[int] = LOCAL_WIDTHS,
                 distill_temperature: float = 0.5):
        super().__init__()
        if len(branch_tokens) != 3:
            raise ValueError(f"the DTN has 3 branches, got branch_tokens={list(branch_tokens)}")
        if depth < 1:
            raise ValueError(f"the DTN needs depth >= 1, got {depth}")
        self.num_frames, self.dim = num_frames, dim
        self.branch_tokens = dict(zip(BRANCHES, (int(n) for n in branch_tokens)))
        self.distill_temperature = distill_temperature
        for br, n in self.branch_tokens.items():
            setattr(self, f"pos_embedding_{br}", nn.Parameter(torch.randn(1, n + 1, dim)))
            setattr(self, f"cls_token_{br}", nn.Parameter(torch.randn(1, 1, dim)))
        self.emb_dropout = nn.Dropout(emb_dropout)
        self.multi_scale_transformers = nn.ModuleList([
            MultiScaleLayer(dim, heads, dim_head, mlp_dim, dropout, knn_ratio, local=i == 0,
                            local_widths=local_widths) for i in range(depth)])
        self.rcm = RCM(num_frames, dim, rcm_hidden, se_heads) if recoupling else None
        self.num_classes = num_classes
        if num_classes:
            for br in BRANCHES:
                setattr(self, f"mlp_head_{br}", nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_classes)))

    def no_weight_decay(self) -> set[str]:
        return {f"{p}_{br}" for br in BRANCHES for p in ("pos_embedding", "cls_token")}

    def sample(self, mode: str, training: bool) -> dict[str, torch.Tensor]:
        """Token indices per branch: ``"random"`` always draws (official), ``"deterministic"``
        draws while training and takes segment middles in eval (UMDR)."""
        if mode not in TOKEN_SAMPLING:
            raise ValueError(f"unknown token_sampling {mode!r} (known: {', '.join(TOKEN_SAMPLING)})")
        draw = random_indices if (mode == "random" or training) else middle_indices
        return {br: draw(self.num_frames, n) for br, n in self.branch_tokens.items()}

    def forward(self, tokens: torch.Tensor, indices: dict[str, torch.Tensor],
                temperature: float | None = None, record: dict | None = None) -> dict:
        """``tokens`` (B, T, dim) -> outputs (class docstring); ``temperature`` divides the
        logits (sharpness; None: not divided); ``record`` receives the official intermediates."""
        student = None
        if self.rcm is not None:
            rec = {} if record is not None else None
            x, student = self.rcm(tokens.transpose(1, 2), record=rec)
            tokens = x.transpose(1, 2)
            if record is not None:
                record.update({f"rcm.{k}": v for k, v in rec.items()})
        b = tokens.shape[0]
        xs = {}
        for br in BRANCHES:
            idx = torch.as_tensor(indices[br], device=tokens.device)
            sel = tokens[:, idx]
            cls = getattr(self, f"cls_token_{br}").expand(b, -1, -1)
            x = torch.cat((cls, sel), dim=1) + getattr(self, f"pos_embedding_{br}")[:, :sel.shape[1] + 1]
            xs[br] = self.emb_dropout(x)
            if record is not None:
                record[f"dtn.branch_in.{br}"] = xs[br]
        for i, layer in enumerate(self.multi_scale_transformers):
            rec = {} if record is not None else None
            xs = layer(xs, record=rec)
            if record is not None:
                for k, v in rec.items():
                    record[f"dtn.{k}" if k.startswith("local_out") else f"dtn.layer{i}.{k}"] = v
                for br in BRANCHES:
                    record[f"dtn.cls_after_layer{i}.{br}"] = xs[br][:, 0]
                    if i == 0:
                        record[f"dtn.layer0.{br}"] = xs[br]
        feats = {br: xs[br][:, 0] for br in BRANCHES}
        out: dict = {"features": feats}
        if student is not None:
            t = self.distill_temperature
            teacher = ((feats["small"] + feats["media"] + feats["large"]) / 3.0).detach()
            out["distill"] = F.kl_div(F.log_softmax(student / t, dim=-1), F.softmax(teacher / t, dim=-1),
                                      reduction="sum")
        else:
            out["distill"] = tokens.new_zeros(())
        if self.num_classes:
            for br in BRANCHES:
                y = getattr(self, f"mlp_head_{br}")(feats[br])
                out[br] = y / temperature if temperature is not None else y
        else:
            out.update(feats)
        out["merged"] = torch.stack([out[br] for br in BRANCHES], dim=-1).amax(dim=-1)
        if record is not None:
            record.update({f"dtn.cls.{br}": feats[br] for br in BRANCHES})
        return out


def label_smoothing_ce(logits: torch.Tensor, target: torch.Tensor, smoothing: float = 0.1) -> torch.Tensor:
    """The official ``LabelSmoothingCrossEntropy``: ``s * mean(-sum log p) / C + (1 - s) * NLL``."""
    logp = F.log_softmax(logits, dim=-1)
    return smoothing * (-logp.sum(dim=-1)).mean() / logits.shape[-1] + \
        (1 - smoothing) * F.nll_loss(logp, target)


def cosine_similarity_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every row of ``a`` with every row of ``b`` (torch's eps rule)."""
    return F.cosine_similarity(a.unsqueeze(1), b.unsqueeze(0), dim=-1)


__all__ = ["BRANCHES", "TOKEN_SAMPLING", "LOCAL_WIDTHS", "segment_bounds", "middle_indices",
           "random_indices", "sharpness_temperature", "RCM", "MultiScaleLayer", "DTN",
           "label_smoothing_ce", "cosine_similarity_rows"]
