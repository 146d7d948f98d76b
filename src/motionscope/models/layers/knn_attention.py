"""Pre-norm transformer with k-NN attention (DRSR's DTN blocks, from CrossViT-pytorch).

Per query, only the top ``k = int(n * ratio)`` keys by score are kept (n counts every token,
CLS included; ties go to ``torch.topk``) and the others are set to -inf before the softmax.

Two paths compute the same function:

- ``"exact"``: softmax over masked ``QK^T * scale`` times V, written out as the official
  ``Attention.forward`` does (also the only path that can return the attention map);
- ``"sdpa"``: the same top-k mask (the indices of the same ``torch.topk`` on the same scores)
  handed to ``F.scaled_dot_product_attention`` as a boolean mask, or no mask at all when k >= n.
  On a GPU with bf16 autocast this is the fused kernel; the scores for the top-k choice are
  still computed (they are small: n <= 49 for DRSR).

Key names are the official ones: ``layers.<i>.0.norm``, ``layers.<i>.0.fn.to_qkv``,
``layers.<i>.0.fn.to_out.0``, ``layers.<i>.1.norm``, ``layers.<i>.1.fn.fc1`` / ``fc2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ATTENTION_PATHS = ("exact", "sdpa")


def knn_keep(n: int, ratio: float) -> int:
    """How many keys each query keeps: ``int(n * ratio)`` (0 ratio: all, k-NN off)."""
    return n if not ratio else int(n * ratio)


def knn_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask of the top-``k`` keys per query of ``scores`` (..., n, n), by ``torch.topk``."""
    idx = torch.topk(scores, k=k, dim=-1, largest=True)[1]
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, idx, True)


class PreNorm(nn.Module):
    """``fn(LayerNorm(x))`` (the residual is added by the caller, as in the official code)."""

    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor, **kw) -> torch.Tensor:
        return self.fn(self.norm(x), **kw)


class FeedForward(nn.Module):
    """``dropout(fc2(dropout(gelu(fc1(x)))))`` with exact (erf) GELU."""

    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.fc2(self.dropout(F.gelu(self.fc1(x)))))


class KNNAttention(nn.Module):
    """Multi-head self-attention keeping the top ``int(n * knn_ratio)`` keys per query."""

    def __init__(self, dim: int, heads: int = 8, dim_head: int = 64, dropout: float = 0.0,
                 knn_ratio: float = 0.7):
        super().__init__()
        if not 0.0 <= knn_ratio <= 1.0:
            raise ValueError(f"knn_attention ratio must be in [0, 1], got {knn_ratio}")
        inner = dim_head * heads
        self.heads, self.dim_head = heads, dim_head
        self.scale = dim_head ** -0.5
        self.knn_ratio = knn_ratio
        self.path = "exact"  # "exact" | "sdpa"; set by the owning model
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        project_out = not (heads == 1 and dim_head == dim)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout)) if project_out \
            else nn.Identity()
        self.attn_dropout_p = 0.0  # the official code has no attention dropout

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, n, _ = x.shape
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        return tuple(t.reshape(b, n, self.heads, self.dim_head).transpose(1, 2) for t in (q, k, v))

    def forward(self, x: torch.Tensor, record: dict | None = None) -> torch.Tensor:
        """``x`` (B, n, dim); ``record`` (a dict) receives the attention map as ``"attn"`` (exact
        path only) and the k-NN mask as ``"mask"``."""
        b, n, _ = x.shape
        q, k, v = self._split(x)
        keep = knn_keep(n, self.knn_ratio)
        path = "exact" if record is not None else self.path
        if path == "exact":
            dots = torch.matmul(q, k.transpose(-1, -2)) * self.scale
            if keep < n:
                mask = knn_mask(dots, keep)
                dots = torch.where(mask, dots, torch.full_like(dots, float("-inf")))
                if record is not None:
                    record["mask"] = mask
            attn = dots.softmax(dim=-1)
            if record is not None:
                record["attn"] = attn
            out = torch.matmul(attn, v)
        elif path == "sdpa":
            mask = None
            if keep < n:
                with torch.no_grad():  # the choice of keys carries no gradient (topk indices)
                    mask = knn_mask(torch.matmul(q, k.transpose(-1, -2)) * self.scale, keep)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)
        else:
            raise ValueError(f"unknown attention path {path!r} (known: {', '.join(ATTENTION_PATHS)})")
        return self.to_out(out.transpose(1, 2).reshape(b, n, self.heads * self.dim_head))

    def extra_repr(self) -> str:
        return f"heads={self.heads}, dim_head={self.dim_head}, knn_ratio={self.knn_ratio}"


class KNNTransformer(nn.Module):
    """``depth`` pre-norm blocks: ``x = attn(LN(x)) + x; x = ff(LN(x)) + x``."""

    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int,
                 dropout: float = 0.0, knn_ratio: float = 0.7):
        super().__init__()
        self.layers = nn.ModuleList([
            nn.ModuleList([PreNorm(dim, KNNAttention(dim, heads, dim_head, dropout, knn_ratio)),
                           PreNorm(dim, FeedForward(dim, mlp_dim, dropout))])
            for _ in range(depth)])

    def forward(self, x: torch.Tensor, record: list | None = None) -> torch.Tensor:
        """``record`` (a list) receives one dict per block (attention map and k-NN mask)."""
        for attn, ff in self.layers:
            rec = {} if record is not None else None
            x = attn(x, record=rec) + x
            x = ff(x) + x
            if record is not None:
                record.append(rec)
        return x


def set_attention_path(module: nn.Module, path: str) -> None:
    """Switch every :class:`KNNAttention` below ``module`` to ``path`` ("exact" or "sdpa")."""
    if path not in ATTENTION_PATHS:
        raise ValueError(f"unknown attention path {path!r} (known: {', '.join(ATTENTION_PATHS)})")
    for m in module.modules():
        if isinstance(m, KNNAttention):
            m.path = path


__all__ = ["ATTENTION_PATHS", "knn_keep", "knn_mask", "PreNorm", "FeedForward", "KNNAttention",
           "KNNTransformer", "set_attention_path"]
