"""Slot attention as Motion Perceiver's flow-snapshot neurons, and the contrastive-walk loss.

MP's variant of slot attention (Locatello et al. 2020) differs from the original in ways that
change results, so they are kept exactly (spec §5):

* the initial slots are one learned (1, K, D) parameter (xavier on the 3-D tensor), repeated
  over the batch — no Gaussian sampling — so the refined slots are a deterministic function of
  each video's flow;
* the inputs first pass an encoder MLP (LayerNorm → Linear → ReLU → Linear, xavier, zero bias);
* the softmax runs over the slots (jointly over heads × slots when heads > 1), then eps 1e-8 is
  added and the attention is renormalised over the inputs (a weighted mean);
* GRUCell update (xavier weight_ih, orthogonal weight_hh, zero biases) and a residual MLP
  (kaiming-uniform first layer, xavier second), 3 iterations.

Key names follow the official modules (``mlp.{0,1,3}``, ``slot``, ``slot_attention.{norm_inputs,
norm_slots, norm_mlp, project_q/k/v, gru, mlp.{0,2}}``) so official checkpoints load unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

WALK_REDUCTIONS = ("full_matrix", "diagonal")


def _linear(d_in: int, d_out: int, bias: bool = True, init: str = "xavier") -> nn.Linear:
    m = nn.Linear(d_in, d_out, bias)
    if init == "kaiming":
        nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
    else:
        nn.init.xavier_uniform_(m.weight)
    if bias:
        nn.init.zeros_(m.bias)
    return m


def _gru_cell(size: int) -> nn.GRUCell:
    m = nn.GRUCell(size, size)
    nn.init.xavier_uniform_(m.weight_ih)
    nn.init.orthogonal_(m.weight_hh)
    nn.init.zeros_(m.bias_ih)
    nn.init.zeros_(m.bias_hh)
    return m


class SlotAttention(nn.Module):
    """Iterative slot attention: slots compete for inputs, then a GRU and residual MLP update."""

    def __init__(self, num_iterations: int, num_slots: int, slot_size: int,
                 mlp_hidden_size: int, heads: int = 1, epsilon: float = 1e-8):
        super().__init__()
        if slot_size % heads:
            raise ValueError(f"slot_size {slot_size} is not divisible by heads {heads}")
        self.num_iterations, self.num_slots = num_iterations, num_slots
        self.slot_size, self.num_heads, self.epsilon = slot_size, heads, epsilon
        self.norm_inputs = nn.LayerNorm(slot_size)
        self.norm_slots = nn.LayerNorm(slot_size)
        self.norm_mlp = nn.LayerNorm(slot_size)
        self.project_q = _linear(slot_size, slot_size, bias=False)
        self.project_k = _linear(slot_size, slot_size, bias=False)
        self.project_v = _linear(slot_size, slot_size, bias=False)
        self.gru = _gru_cell(slot_size)
        self.mlp = nn.Sequential(_linear(slot_size, mlp_hidden_size, init="kaiming"), nn.ReLU(),
                                 _linear(mlp_hidden_size, slot_size))

    def forward(self, inputs: torch.Tensor, slots: torch.Tensor):
        """inputs (B, S, D), initial slots (B, K, D) -> (slots (B, K, D), attn (B, K, S)).

        ``attn`` is the last iteration's attention after eps and renormalisation over S,
        averaged over heads.
        """
        b, s, _ = inputs.shape
        k_slots, h = slots.shape[1], self.num_heads
        inputs = self.norm_inputs(inputs)
        k = self.project_k(inputs).view(b, s, h, -1).transpose(1, 2)  # (B, h, S, d)
        v = self.project_v(inputs).view(b, s, h, -1).transpose(1, 2)
        k = k * (self.slot_size // h) ** -0.5
        attn = None
        for _ in range(self.num_iterations):
            prev = slots
            q = self.project_q(self.norm_slots(slots)).view(b, k_slots, h, -1).transpose(1, 2)
            logits = torch.matmul(k, q.transpose(-1, -2))  # (B, h, S, K)
            # softmax jointly over heads x slots, as the released code reshapes before it
            attn = logits.transpose(1, 2).reshape(b, s, h * k_slots).softmax(dim=-1)
            attn = attn.view(b, s, h, k_slots).transpose(1, 2) + self.epsilon
            attn = attn / attn.sum(dim=-2, keepdim=True)  # weighted mean over inputs
            updates = torch.matmul(attn.transpose(-1, -2), v)  # (B, h, K, d)
            updates = updates.transpose(1, 2).reshape(b * k_slots, -1)
            slots = self.gru(updates, prev.reshape(b * k_slots, -1)).view(b, k_slots, -1)
            slots = slots + self.mlp(self.norm_mlp(slots))
        return slots, attn.mean(dim=1).transpose(1, 2)


class SlotAttentionEncoder(nn.Module):
    """Encoder MLP + slot attention from a learned, deterministic set of initial slots."""

    def __init__(self, num_iterations: int, num_slots: int, input_channels: int,
                 slot_size: int, mlp_hidden_size: int, num_heads: int = 1):
        super().__init__()
        self.num_slots, self.slot_size = num_slots, slot_size
        self.mlp = nn.Sequential(nn.LayerNorm(input_channels),
                                 _linear(input_channels, mlp_hidden_size), nn.ReLU(),
                                 _linear(mlp_hidden_size, slot_size))
        self.slot = nn.Parameter(torch.ones(1, num_slots, slot_size))
        nn.init.xavier_uniform_(self.slot)
        self.slot_attention = SlotAttention(num_iterations, num_slots, slot_size,
                                            mlp_hidden_size, num_heads)

    def forward(self, x: torch.Tensor):
        """x (B, S, D_in) -> (slots (B, K, D), attention (B, K, S))."""
        init = self.slot.expand(x.shape[0], -1, -1)
        return self.slot_attention(self.mlp(x), init)


def contrastive_walk_loss(features: torch.Tensor, slots: torch.Tensor, temperature: float = 0.05,
                          reduction: str = "full_matrix", eps: float = 1e-4) -> torch.Tensor:
    """Round-trip walk features -> slots -> features must return to the same slot (unweighted).

    With cosine similarities Sc (B, S, K): A_fs = softmax_K(Sc/µ), A_sf = softmax_S(Scᵀ/µ),
    P = A_sf·A_fs (B, K, K). ``"full_matrix"`` (released code): −log(P + 1e-4) ⊙ I averaged over
    all B·K·K entries, i.e. (1/K)·mean of the diagonal terms. ``"diagonal"``: mean over B·K.
    MP multiplies the result by α = 10.
    """
    if reduction not in WALK_REDUCTIONS:
        raise ValueError(f"walk loss reduction {reduction!r} not in {WALK_REDUCTIONS}")
    sim = torch.matmul(F.normalize(features, p=2, dim=-1),
                       F.normalize(slots, p=2, dim=-1).transpose(1, 2))  # (B, S, K)
    a_fs = (sim / temperature).softmax(dim=-1)
    a_sf = (sim.transpose(1, 2) / temperature).softmax(dim=-1)
    transition = torch.matmul(a_sf, a_fs)  # (B, K, K), rows sum to 1
    nll = -torch.log(transition.diagonal(dim1=1, dim2=2) + eps)  # (B, K)
    if reduction == "full_matrix":
        return nll.sum() / (nll.numel() * nll.shape[1])
    return nll.mean()
