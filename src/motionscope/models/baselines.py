"""Small baselines, one per modality, so the engine is tested end to end before the systems.

``clip_cnn3d``: a tiny 3D CNN over RGB clips ``(B, 3, T, H, W)``.
``skeleton_mlp``: a tiny transformer over skeleton sequences ``(B, C, T, V, M)``.
Both follow the model contract: ``forward(batch) -> {"logits": ..., "losses": {...}}``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def classification_losses(logits: torch.Tensor, batch: dict, label_smoothing: float = 0.0) -> dict:
    """Cross-entropy when the batch carries labels (training and validation), else nothing."""
    if "label" not in batch:
        return {}
    return {"ce": F.cross_entropy(logits, batch["label"], label_smoothing=label_smoothing)}


class ClipCNN3D(nn.Module):
    """A tiny 3D CNN: four conv-BN-ReLU stages, global pooling, linear head."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: int = 16,
                 dropout: float = 0.0, label_smoothing: float = 0.0):
        super().__init__()
        chans = [in_channels, width, width * 2, width * 4, width * 8]
        layers: list[nn.Module] = []
        for i in range(4):
            stride = (1, 2, 2) if i == 0 else (2, 2, 2)
            layers += [nn.Conv3d(chans[i], chans[i + 1], 3, stride, 1, bias=False),
                       nn.BatchNorm3d(chans[i + 1]), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(chans[-1], num_classes)
        self.label_smoothing = label_smoothing

    def forward(self, batch: dict) -> dict:
        x = batch["video"]
        f = self.features(x).mean(dim=(2, 3, 4))
        logits = self.head(self.dropout(f))
        return {"logits": logits, "losses": classification_losses(logits, batch, self.label_smoothing)}


class SkeletonTransformer(nn.Module):
    """A tiny transformer over frames: joints of each frame are flattened into one token."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, num_joints: int = 25,
                 num_persons: int = 2, dim: int = 64, depth: int = 2, heads: int = 4,
                 max_frames: int = 300, dropout: float = 0.0, label_smoothing: float = 0.0):
        super().__init__()
        self.embed = nn.Linear(in_channels * num_joints, dim)
        self.pos = nn.Parameter(torch.zeros(1, max_frames, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        self.num_persons = num_persons
        self.label_smoothing = label_smoothing

    def forward(self, batch: dict) -> dict:
        x = batch["skeleton"]  # (B, C, T, V, M)
        b, c, t, v, m = x.shape
        x = x.permute(0, 4, 2, 3, 1).reshape(b * m, t, v * c)
        h = self.embed(x) + self.pos[:, :t]
        h = self.norm(self.encoder(h)).mean(1).view(b, m, -1).mean(1)
        logits = self.head(h)
        return {"logits": logits, "losses": classification_losses(logits, batch, self.label_smoothing)}


MODELS = {"clip_cnn3d": ClipCNN3D, "skeleton_transformer": SkeletonTransformer}

# CPU-sized configurations for the tests (the family protocol, models/__init__.py)
TINY = {"clip_cnn3d": {"num_classes": 5, "width": 4},
        "skeleton_transformer": {"num_classes": 5, "dim": 16, "depth": 1, "heads": 2}}


def tiny_batch(name: str, model: nn.Module, batch_size: int = 2, labelled: bool = True) -> dict:
    """A batch for ``MODELS[name](**TINY[name])``: a 4 x 16² clip or an 8-frame NTU skeleton."""
    if name == "clip_cnn3d":
        out = {"video": torch.randn(batch_size, 3, 4, 16, 16)}
    else:
        out = {"skeleton": torch.randn(batch_size, 3, 8, 25, 2)}
    if labelled:
        out["label"] = torch.arange(batch_size) % model.head.out_features
    return out
