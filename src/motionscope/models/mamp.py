"""MAMP (Masked Motion Predictors, ICCV 2023): pre-training model and downstream classifier.

The function computed is the official one (``maoyunyao/MAMP`` @ 09e6252): every person of a
``(N, C, T, V, M)`` batch is an independent sequence of joint-by-4-frame-segment tokens
(30 x 25 = 750 at the paper's size) with separable learned spatial/temporal embeddings.
Pre-training masks 90 % of the tokens by Gumbel top-k over a softmax of their motion (high motion
is masked more often) and predicts the per-token-normalised frame-to-frame motion of the masked
tokens. The classifier is the same encoder with a linear-probe or a fine-tune head.

Parameter names are the official ones, so official checkpoints load with ``strict=True``
(no ``convert_official`` is needed). The only random draw of the pre-training forward pass is
the uniform noise ``U`` of the Gumbel trick; pass it as ``noise=`` to make masking reproducible.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, ConfigError, DataError
from .layers.transformer import ATTENTION_MODES, Block, set_attention_mode
from .official import load_checked
from .pretrained import LoadReport, compare, load_fitting, read_pretrained

__all__ = [
    "MAMP", "MAMPClassifier", "SkeleEmbed", "LinprobeHead", "FinetuneHead", "MODELS",
    "mamp_pretrain", "mamp_classifier", "mamp_linprobe", "mamp_finetune", "load_pretrained",
    "len_keep", "gumbel_scores", "TINY", "tiny_batch",
    "OFFICIAL_CLASSES", "build_official", "set_attention_mode",
]

MASKINGS = ("motion_aware", "uniform")
TARGETS = ("motion", "coordinates")
PROTOCOLS = ("linprobe", "finetune")


# --------------------------------------------------------------------------- helpers


def len_keep(num_tokens: int, mask_ratio: float) -> int:
    """Kept tokens, computed as the official code does: ``int(L * (1 - mask_ratio))``.

    In double precision ``1 - 0.9`` is 0.0999..., so 750 tokens keep 74 (not 75). ``mask_ratio``
    is converted with ``float()``; pass the Python float, a float32 0.9 would give 75.
    """
    return int(num_tokens * (1 - float(mask_ratio)))


def gumbel_scores(prob: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Official Gumbel perturbation: ``log(p) - log(-log(U + 1e-10) + 1e-10)``; small = keep."""
    return torch.log(prob) - torch.log(-torch.log(noise + 1e-10) + 1e-10)


def _trunc_normal(t: torch.Tensor, std: float) -> torch.Tensor:
    # the official copy of timm's trunc_normal_ uses absolute bounds a=-2, b=2
    return nn.init.trunc_normal_(t, mean=0.0, std=std, a=-2.0, b=2.0)


def _init_official(m: nn.Module) -> None:
    """Official ``_init_weights``: xavier-uniform Linear with zero bias, LayerNorm 1/0.

    The Conv2d patch embedding keeps PyTorch's default init, as in the official code.
    """
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def _check_choice(name: str, value, choices: Iterable) -> None:
    if value not in choices:
        raise ConfigError(f"MAMP: {name}={value!r} is not one of {tuple(choices)}")


# --------------------------------------------------------------------------- modules


class SkeleEmbed(nn.Module):
    """Joint-by-segment tokens: Conv2d with kernel = stride = (t_patch_size, patch_size).

    ``(NM, T, V, C) -> (NM, T/t_patch_size, V/patch_size, D)``; the token grid is flattened
    in (t, v) order, so token index = ``t * VP + v``.
    """

    def __init__(self, dim_in: int = 3, dim_feat: int = 256, num_frames: int = 120,
                 num_joints: int = 25, patch_size: int = 1, t_patch_size: int = 4):
        super().__init__()
        if num_frames % t_patch_size or num_joints % patch_size:
            raise ConfigError(
                f"MAMP: num_frames {num_frames} must be a multiple of t_patch_size {t_patch_size}"
                f" and num_joints {num_joints} of patch_size {patch_size}")
        self.dim_in, self.num_frames, self.num_joints = dim_in, num_frames, num_joints
        self.patch_size, self.t_patch_size = patch_size, t_patch_size
        self.t_grid_size = num_frames // t_patch_size
        self.grid_size = num_joints // patch_size
        self.num_patches = self.t_grid_size * self.grid_size
        k = (t_patch_size, patch_size)
        self.proj = nn.Conv2d(dim_in, dim_feat, kernel_size=k, stride=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class _Encoder(nn.Module):
    """Shared encoder of both official classes: embeddings, blocks, final LayerNorm.

    Not a submodule: the two models inherit it so that the official flat key names
    (``joints_embed.*``, ``pos_embed``, ``blocks.i.*``, ``norm.*``) are kept.
    """

    @property
    def num_layers(self) -> int:
        """Depth for the engine's layer-wise LR decay (``util/lr_decay.py``: blocks + 1)."""
        return len(self.blocks)

    def layer_id(self, name: str) -> int:
        """BEiT/official ``get_layer_id_for_vit``: embeddings 0, block i -> i + 1, the rest last.

        With ``optim.layer_decay`` the engine gives parameter ``name`` the LR scale
        ``layer_decay ** (num_layers + 1 - layer_id)`` and no weight decay to 1-D parameters:
        the official groups of ``main_finetune.py``; without it, timm's weight-decay rule of
        ``main_pretrain.py`` (1-D parameters and biases undecayed). Frozen parameters (linear
        probe) are left out.
        """
        if name in ("temp_embed", "pos_embed") or name.startswith("joints_embed"):
            return 0
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        return len(self.blocks) + 1

    def _build_encoder(self, dim_in: int, dim_feat: int, depth: int, num_heads: int,
                       mlp_ratio: float, num_frames: int, num_joints: int, patch_size: int,
                       t_patch_size: int, qkv_bias: bool, drop_rate: float,
                       attn_drop_rate: float, drop_path_rate: float, attention: str) -> list[float]:
        _check_choice("attention", attention, ATTENTION_MODES)
        if dim_feat % num_heads:
            raise ConfigError(f"MAMP: dim_feat {dim_feat} is not divisible by "
                              f"num_heads {num_heads}")
        self.dim_in, self.dim_feat = dim_in, dim_feat
        self.num_frames, self.num_joints = num_frames, num_joints
        self.patch_size, self.t_patch_size = patch_size, t_patch_size
        self.joints_embed = SkeleEmbed(dim_in, dim_feat, num_frames, num_joints, patch_size,
                                       t_patch_size)
        # dropout/drop-path as the official code: pos_drop exists but is never applied
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = [v.item() for v in torch.linspace(0, drop_path_rate, depth)]
        # qk_scale is ignored by the official Attention (always head_dim ** -0.5): pass None
        self.blocks = nn.ModuleList(
            Block(dim_feat, num_heads, mlp_ratio, qkv_bias, None, drop_rate, attn_drop_rate,
                  dpr[i], attention=attention) for i in range(depth))
        self.norm = nn.LayerNorm(dim_feat)
        tp, vp = self.joints_embed.t_grid_size, self.joints_embed.grid_size
        self.temp_embed = nn.Parameter(torch.zeros(1, tp, 1, dim_feat))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1, vp, dim_feat))
        _trunc_normal(self.temp_embed, 0.02)
        _trunc_normal(self.pos_embed, 0.02)
        return dpr

    def check_skeleton(self, x: torch.Tensor) -> None:
        """One clear error for a batch that does not fit, instead of a Conv2d traceback."""
        want = f"(N, C={self.dim_in}, T={self.num_frames}, V={self.num_joints}, M)"
        if not isinstance(x, torch.Tensor):
            raise DataError(None, f"MAMP: skeleton batch must be a tensor {want}, "
                                  f"got {type(x).__name__}")
        if x.ndim != 5:
            raise DataError(None, f"MAMP: skeleton batch has shape {tuple(x.shape)}; "
                                  f"expected 5 dims {want}")
        _, c, t, v, _ = x.shape
        if not x.is_floating_point():
            raise DataError(None, f"MAMP: skeleton batch has dtype {x.dtype}; expected float")
        if c != self.dim_in:
            raise DataError(None, f"MAMP: skeleton batch has {c} coordinates per joint; "
                                  f"the model expects {self.dim_in} {want}")
        if v != self.num_joints:
            raise DataError(None, f"MAMP: skeleton batch has {v} joints; the model expects "
                                  f"{self.num_joints} {want}")
        if t != self.num_frames:
            kind = "too short" if t < self.num_frames else "too long"
            raise DataError(None, f"MAMP: sequence {kind}: {t} frames, the model expects exactly "
                                  f"{self.num_frames} {want} (crop and resize the valid frames "
                                  "to the window in the feeder)")

    def to_sequences(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V, M) -> (N*M, T, V, C)``: person index fastest, as the official code."""
        n, c, t, v, m = x.shape
        return x.permute(0, 4, 2, 3, 1).reshape(n * m, t, v, c)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(NM, T, V, C) -> (NM, L, D)`` tokens with spatial + temporal embeddings added."""
        x = self.joints_embed(x)
        nm, tp, vp, _ = x.shape
        x = x + self.pos_embed[:, :, :vp, :] + self.temp_embed[:, :tp, :, :]
        return x.reshape(nm, tp * vp, -1)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            tokens = blk(tokens)
        return self.norm(tokens)


class MAMP(_Encoder):
    """MAMP pre-training model (official ``model_mamp/transformer.py::Transformer``).

    Constructor arguments carry the official names and the paper's sizes (NTU-60: decoder
    depth 3; NTU-120/PKU: 5). ``mask_ratio``, ``motion_aware_tau`` and ``motion_stride`` are the
    defaults of :meth:`forward`, i.e. the YAML values of the official configs (the official
    class's own signature defaults, 0.8/0.75, are never used by its scripts).
    ``masking="uniform"`` and ``target="coordinates"`` give the MAE baseline (``model_mae``).
    """

    def __init__(self, dim_in: int = 3, dim_feat: int = 256, decoder_dim_feat: int = 256,
                 depth: int = 8, decoder_depth: int = 3, num_heads: int = 8,
                 mlp_ratio: float = 4, num_frames: int = 120, num_joints: int = 25,
                 patch_size: int = 1, t_patch_size: int = 4, qkv_bias: bool = True,
                 qk_scale: float | None = None, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 norm_skes_loss: bool = True, mask_ratio: float = 0.9,
                 motion_aware_tau: float = 0.8, motion_stride: int = 1,
                 masking: str = "motion_aware", target: str = "motion",
                 attention: str = "sdpa"):
        super().__init__()
        _check_choice("masking", masking, MASKINGS)
        _check_choice("target", target, TARGETS)
        if not 0.0 <= float(mask_ratio) < 1.0:
            raise ConfigError(f"MAMP: mask_ratio {mask_ratio} must be in [0, 1)")
        if not 1 <= int(motion_stride) < num_frames:
            raise ConfigError(f"MAMP: motion_stride {motion_stride} must be in [1, num_frames)")
        dpr = self._build_encoder(dim_in, dim_feat, depth, num_heads, mlp_ratio, num_frames,
                                  num_joints, patch_size, t_patch_size, qkv_bias, drop_rate,
                                  attn_drop_rate, drop_path_rate, attention)
        self.norm_skes_loss = norm_skes_loss
        self.mask_ratio, self.motion_aware_tau = float(mask_ratio), float(motion_aware_tau)
        self.motion_stride, self.masking, self.target = int(motion_stride), masking, target

        tp, vp = self.joints_embed.t_grid_size, self.joints_embed.grid_size
        self.decoder_embed = nn.Linear(dim_feat, decoder_dim_feat)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim_feat))
        _trunc_normal(self.mask_token, 0.02)
        # the official decoder reuses the encoder's dpr[i] (0 in every pre-training config);
        # dpr[-1] continues it for a decoder deeper than the encoder (the official code crashes)
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_dim_feat, num_heads, mlp_ratio, qkv_bias, None, drop_rate,
                  attn_drop_rate, dpr[min(i, depth - 1)] if depth else 0.0, attention=attention)
            for i in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(decoder_dim_feat)
        self.decoder_temp_embed = nn.Parameter(torch.zeros(1, tp, 1, decoder_dim_feat))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, 1, vp, decoder_dim_feat))
        _trunc_normal(self.decoder_temp_embed, 0.02)
        _trunc_normal(self.decoder_pos_embed, 0.02)
        self.decoder_pred = nn.Linear(decoder_dim_feat, t_patch_size * patch_size * dim_in)
        self.apply(_init_official)

    # ---- token geometry -------------------------------------------------------------

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(NM, T, V, C) -> (NM, L, u*p*C)``: token ``t*VP + v``, inner (frame, joint, xyz)."""
        nm, t, v, c = x.shape
        u, p = self.t_patch_size, self.patch_size
        x = x.reshape(nm, t // u, u, v // p, p, c).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(nm, (t // u) * (v // p), u * p * c)

    def extract_motion(self, x: torch.Tensor, motion_stride: int = 1) -> torch.Tensor:
        """Frame-level motion ``x[t+s] - x[t]``, zero for the last ``s`` frames."""
        s = int(motion_stride)
        return torch.cat([x[:, s:] - x[:, :-s], torch.zeros_like(x[:, -s:])], dim=1)

    # ---- masking --------------------------------------------------------------------

    def motion_prior(self, x_orig: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token motion of 4-frame segments -> (normalised motion, softmax probabilities).

        ``x_orig`` is the patchified raw input ``(NM, TP, VP, 12)``. Segment t's motion is
        the mean |x_t - x_{t-1}| over its 12 values (segment 0 copies segment 1), divided by
        ``max * tau + 1e-10``; an all-zero person gets uniform probabilities.
        """
        nm = x_orig.shape[0]
        d = (x_orig[:, 1:] - x_orig[:, :-1]).abs()
        mot = torch.cat([d[:, :1], d], dim=1).mean(dim=3).reshape(nm, -1)
        mot = mot / (mot.max(dim=-1, keepdim=True).values * tau + 1e-10)
        return mot, F.softmax(mot, dim=-1)

    def shuffle_and_mask(self, x: torch.Tensor, scores: torch.Tensor, mask_ratio: float):
        """Keep the ``len_keep`` lowest scores; return kept tokens, mask, ids_restore, ids_keep."""
        nm, length, d = x.shape
        keep = len_keep(length, mask_ratio)
        ids_shuffle = torch.argsort(scores, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :keep]
        x_kept = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))
        mask = torch.ones(nm, length, device=x.device, dtype=x.dtype)
        mask[:, :keep] = 0
        mask = torch.gather(mask, 1, ids_restore)
        return x_kept, mask, ids_restore, ids_keep

    def _noise(self, noise: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        nm, length = like.shape[:2]
        if noise is None:
            return torch.rand(nm, length, device=like.device)
        if tuple(noise.shape) != (nm, length):
            raise DataError(None, f"MAMP: masking noise has shape {tuple(noise.shape)}; expected "
                                  f"(N*M, L) = ({nm}, {length}), uniform in [0, 1)")
        return noise.to(like.device)

    # ---- forward passes -------------------------------------------------------------

    def forward_encoder(self, x: torch.Tensor, mask_ratio: float, motion_aware_tau: float,
                        noise: torch.Tensor | None = None):
        """Embed, mask and encode ``(NM, T, V, C)``; returns (latent, mask, ids_restore, info)."""
        tokens = self.embed(x)
        info: dict[str, torch.Tensor] = {}
        u = self._noise(noise, tokens)
        if motion_aware_tau > 0 and self.masking == "motion_aware":
            tp, vp = self.joints_embed.t_grid_size, self.joints_embed.grid_size
            x_orig = self.patchify(x).reshape(x.shape[0], tp, vp, -1)
            mot, prob = self.motion_prior(x_orig, motion_aware_tau)
            scores = gumbel_scores(prob, u)
            info.update(normalised_motion=mot, motion_prob=prob)
        else:  # uniform masking: the official random_masking sorts U itself
            scores = u
        tokens, mask, ids_restore, ids_keep = self.shuffle_and_mask(tokens, scores, mask_ratio)
        latent = self.encode(tokens)
        info.update(ids_keep=ids_keep, ids_restore=ids_restore, latent=latent)
        return latent, mask, ids_restore, info

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """Kept latents + mask tokens, unshuffled, then decoder embeds, blocks, LN, Linear."""
        nm = latent.shape[0]
        tp, vp = self.joints_embed.t_grid_size, self.joints_embed.grid_size
        x = self.decoder_embed(latent)
        c = x.shape[-1]
        x = torch.cat([x, self.mask_token.to(x.dtype).expand(nm, tp * vp - x.shape[1], c)], dim=1)
        x = torch.gather(x, 1, ids_restore.unsqueeze(-1).expand(-1, -1, c)).view(nm, tp, vp, c)
        x = x + self.decoder_pos_embed[:, :, :vp, :] + self.decoder_temp_embed[:, :tp, :, :]
        x = x.reshape(nm, tp * vp, c)
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))

    def normalised_target(self, target_frames: torch.Tensor) -> torch.Tensor:
        """Patchify, then (optionally) per-token ``(t - mean) / sqrt(var_unbiased + 1e-6)``."""
        target = self.patchify(target_frames)
        if self.norm_skes_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.0e-6) ** 0.5
        return target

    def forward_loss(self, target: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor):
        """Per-token MSE averaged over the masked tokens only (``target`` already normalised)."""
        loss = ((pred.float() - target.float()) ** 2).mean(dim=-1)
        mask = mask.float()
        return (loss * mask).sum() / mask.sum()

    def forward_official(self, x: torch.Tensor, mask_ratio: float = 0.8, motion_stride: int = 1,
                         motion_aware_tau: float = 0.75, noise: torch.Tensor | None = None,
                         return_intermediates: bool = False):
        """The official ``forward(x, mask_ratio, motion_stride, motion_aware_tau)``.

        Returns ``(loss, pred, mask)``, plus a dict of intermediates (``ids_keep``,
        ``ids_restore``, ``latent``, ``normalised_motion``, ``motion_prob``,
        ``x_motion_patchified``, ``target_norm``) when ``return_intermediates``.
        """
        self.check_skeleton(x)
        x = self.to_sequences(x.to(self.pos_embed.dtype))
        if self.target == "motion":
            frames = self.extract_motion(x, motion_stride)
        else:
            frames = x
        latent, mask, ids_restore, info = self.forward_encoder(x, mask_ratio, motion_aware_tau,
                                                               noise)
        pred = self.forward_decoder(latent, ids_restore)
        target = self.normalised_target(frames)
        loss = self.forward_loss(target, pred, mask)
        if not return_intermediates:
            return loss, pred, mask
        key = "x_motion_patchified" if self.target == "motion" else "x_patchified"
        info.update({key: self.patchify(frames), "target_norm": target})
        return loss, pred, mask, info

    def forward(self, batch: dict) -> dict:
        """Engine contract: ``batch["skeleton"]`` (N, C, T, V, M), optional ``mask_noise``."""
        loss, pred, mask = self.forward_official(
            batch["skeleton"], self.mask_ratio, self.motion_stride, self.motion_aware_tau,
            noise=batch.get("mask_noise"))
        return {"losses": {"mse": loss}, "pred": pred, "mask": mask}


class LinprobeHead(nn.Module):
    """Mean over persons, time and joints -> BatchNorm1d(affine=False, eps=1e-6) -> Linear.

    This is the head as ``main_linprobe.py`` trains and saves it (``head.fc.0`` BN,
    ``head.fc.1`` Linear with trunc_normal std 0.01 and zero bias).
    """

    def __init__(self, dim_feat: int = 256, num_classes: int = 60):
        super().__init__()
        self.fc = nn.Sequential(nn.BatchNorm1d(dim_feat, affine=False, eps=1e-6),
                                nn.Linear(dim_feat, num_classes))

    def reset_parameters(self) -> None:
        _trunc_normal(self.fc[1].weight, 0.01)
        nn.init.zeros_(self.fc[1].bias)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.fc(feat.mean(dim=(1, 2, 3)))


class FinetuneHead(nn.Module):
    """Dropout -> mean over T -> flatten (V, D) per person -> mean over M -> MLP with BN.

    ``fc1`` is ``Linear(V*D, hidden_dim)``; the official head hard-codes 25 joints and 2048.
    """

    def __init__(self, dim_feat: int = 256, num_classes: int = 60, num_joints: int = 25,
                 hidden_dim: int = 2048, dropout_ratio: float = 0.3):
        super().__init__()
        self.dropout = nn.Dropout(dropout_ratio)
        self.bn = nn.BatchNorm1d(hidden_dim, momentum=0.1)
        self.relu = nn.ReLU(inplace=True)
        self.fc1 = nn.Linear(dim_feat * num_joints, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, num_classes)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        n, m = feat.shape[:2]
        feat = self.dropout(feat).mean(dim=2).reshape(n, m, -1).mean(dim=1)
        return self.fc2(self.relu(self.bn(self.fc1(feat))))


class MAMPClassifier(_Encoder):
    """Downstream classifier (official ``model/transformer.py::Transformer``).

    ``protocol="linprobe"``: the linear-probe head; the backbone is frozen and kept in eval
    mode whatever ``train()`` is called with (``freeze_backbone`` defaults to that).
    ``protocol="finetune"``: the fine-tune head; the official recipe adds drop-path 0.3
    (``drop_path_rate``) and label smoothing 0.1 (``label_smoothing``, used for ``losses.ce``).
    """

    def __init__(self, dim_in: int = 3, num_classes: int = 60, dim_feat: int = 256,
                 depth: int = 8, num_heads: int = 8, mlp_ratio: float = 4,
                 num_frames: int = 120, num_joints: int = 25, patch_size: int = 1,
                 t_patch_size: int = 4, qkv_bias: bool = True, qk_scale: float | None = None,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, protocol: str = "linprobe",
                 label_smoothing: float = 0.0, freeze_backbone: bool | None = None,
                 hidden_dim: int = 2048, head_dropout: float = 0.3, attention: str = "sdpa"):
        super().__init__()
        _check_choice("protocol", protocol, PROTOCOLS)
        self._build_encoder(dim_in, dim_feat, depth, num_heads, mlp_ratio, num_frames,
                            num_joints, patch_size, t_patch_size, qkv_bias, drop_rate,
                            attn_drop_rate, drop_path_rate, attention)
        self.protocol, self.num_classes = protocol, num_classes
        self.label_smoothing = float(label_smoothing)
        if protocol == "linprobe":
            self.head = LinprobeHead(dim_feat, num_classes)
        else:
            self.head = FinetuneHead(dim_feat, num_classes, self.joints_embed.grid_size,
                                     hidden_dim, head_dropout)
        self.apply(_init_official)
        if protocol == "linprobe":
            self.head.reset_parameters()
        if freeze_backbone is None:
            freeze_backbone = protocol == "linprobe"
        self.freeze_backbone = bool(freeze_backbone)
        if self.freeze_backbone:
            for name, p in self.named_parameters():
                if not name.startswith("head."):
                    p.requires_grad_(False)

    def train(self, mode: bool = True) -> MAMPClassifier:
        """As ``main_linprobe``: a frozen backbone stays in eval mode, the head follows ``mode``."""
        super().train(mode)
        if self.freeze_backbone and mode:
            for name, child in self.named_children():
                if name != "head":
                    child.eval()
        return self

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V, M) -> (N, M, TP, VP, D)``: the encoder output entering the head."""
        self.check_skeleton(x)
        n, m = x.shape[0], x.shape[-1]
        tokens = self.encode(self.embed(self.to_sequences(x.to(self.pos_embed.dtype))))
        tp, vp = self.joints_embed.t_grid_size, self.joints_embed.grid_size
        return tokens.reshape(n, m, tp, vp, -1)

    def forward_official(self, x: torch.Tensor, return_intermediates: bool = False):
        """The official ``forward(x) -> logits`` (plus ``{"features"}`` when asked)."""
        feats = self.forward_features(x)
        logits = self.head(feats)
        return (logits, {"features": feats}) if return_intermediates else logits

    def forward(self, batch: dict) -> dict:
        """Engine contract: ``{"logits", "losses": {"ce"}}`` (``ce`` only when labelled)."""
        logits = self.forward_official(batch["skeleton"])
        out: dict = {"logits": logits, "losses": {}}
        if "label" in batch:
            out["losses"]["ce"] = F.cross_entropy(logits.float(), batch["label"],
                                                  label_smoothing=self.label_smoothing)
        return out


# --------------------------------------------------------------------------- checkpoints


def _interpolate_temp_embed(sd: dict, model: _Encoder) -> str | None:
    """As ``util/pos_embed.interpolate_temp_embed``: bicubic resize of a different time grid."""
    emb = sd.get("temp_embed")
    t_model = model.joints_embed.t_grid_size
    if emb is None or emb.ndim != 4 or emb.shape[1] == t_model:
        return None
    grid = emb.float().permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(t_model, 1), mode="bicubic", align_corners=False)
    sd["temp_embed"] = grid.permute(0, 2, 3, 1).to(emb.dtype)
    return f"temp_embed resized from {emb.shape[1]} to {t_model} time steps (bicubic)"


def load_pretrained(model: nn.Module, checkpoint: str | os.PathLike | Mapping[str, torch.Tensor],
                    *, system: str | None = None, partial: bool = False) -> LoadReport:
    """The family's ``model.pretrained`` rule, as ``main_linprobe.py``/``main_finetune.py``.

    A classifier takes a pre-training (or fine-tuned) checkpoint, ours or official: head
    tensors whose shape differs are left new (another class count), ``temp_embed`` is resized
    when the time grid differs, keys the model lacks (the pre-training decoder) are ignored, and
    every encoder key must be present (``partial`` relaxes only this). A linear probe's fc is
    redrawn after loading, as the official script does. A pre-training model loads by the
    generic rule (the whole state, or ``partial``). The report names every key left out.
    """
    sd, path = read_pretrained(checkpoint, system, model)
    if not isinstance(model, MAMPClassifier):
        return load_fitting(model, sd, path, partial, what=f"MAMP model {type(model).__name__}")
    sd = dict(sd)
    note = _interpolate_temp_embed(sd, model)
    rep = compare(model, sd, path)
    if note:
        rep.notes.append(note)
    bad = [m for m in rep.mismatched if not m.startswith("head.")]
    if bad:
        raise CheckpointError(path, f"shape mismatch for {'; '.join(bad[:6])} (another encoder "
                                    "size: set model.args to the checkpoint's sizes)")
    backbone_missing = [k for k in rep.missing if not k.startswith("head.")]
    if backbone_missing and not partial:
        raise CheckpointError(path, f"not a MAMP checkpoint for this model: {len(backbone_missing)}"
                                    f" encoder keys missing (e.g. {backbone_missing[:5]}); "
                                    "model.pretrained_partial=true loads what fits")
    if not rep.loaded:
        raise CheckpointError(path, "no tensor of this checkpoint fits the MAMP classifier")
    load_checked(model, {k: sd[k] for k in rep.loaded}, path=path, strict=False)
    if model.protocol == "linprobe" and "head.fc.1.weight" not in rep.loaded:
        model.head.reset_parameters()  # main_linprobe re-draws the fc after loading
        rep.notes.append("linear-probe fc redrawn (trunc-normal 0.01), as main_linprobe.py")
    return rep


# --------------------------------------------------------------------------- builders


def mamp_pretrain(**kwargs) -> MAMP:
    """MAMP pre-training model; defaults are the paper's NTU-60 size (8 + 3 blocks, dim 256)."""
    return MAMP(**kwargs)


def mamp_classifier(**kwargs) -> MAMPClassifier:
    """Classifier (``protocol`` linprobe/finetune); initialise it with ``model.pretrained`` /
    :func:`load_pretrained`."""
    return MAMPClassifier(**kwargs)


def mamp_linprobe(**kwargs) -> MAMPClassifier:
    """Linear probe: frozen backbone, BN + Linear head (``main_linprobe.py``)."""
    kwargs.setdefault("protocol", "linprobe")
    return MAMPClassifier(**kwargs)


def mamp_finetune(**kwargs) -> MAMPClassifier:
    """Fine-tune: drop-path 0.3 and label smoothing 0.1 by default (``main_finetune.py``)."""
    kwargs.setdefault("protocol", "finetune")
    kwargs.setdefault("drop_path_rate", 0.3)
    kwargs.setdefault("label_smoothing", 0.1)
    return MAMPClassifier(**kwargs)


mamp_pretrain.builds = MAMP  # type: ignore[attr-defined]  (create_model checks these arguments)
mamp_classifier.builds = MAMPClassifier  # type: ignore[attr-defined]
mamp_linprobe.builds = MAMPClassifier  # type: ignore[attr-defined]
mamp_finetune.builds = MAMPClassifier  # type: ignore[attr-defined]


MODELS = {
    "mamp_pretrain": mamp_pretrain,
    "mamp_classifier": mamp_classifier,
    "mamp_linprobe": mamp_linprobe,
    "mamp_finetune": mamp_finetune,
}

_TINY_ENC = {"dim_feat": 32, "depth": 2, "num_heads": 4, "num_frames": 16, "num_joints": 5,
             "t_patch_size": 4}
# CPU-sized configurations for the tests (the family protocol, models/__init__.py)
TINY = {
    "mamp_pretrain": {**_TINY_ENC, "decoder_dim_feat": 32, "decoder_depth": 1},
    "mamp_classifier": {**_TINY_ENC, "num_classes": 3, "protocol": "finetune", "hidden_dim": 8},
    "mamp_linprobe": {**_TINY_ENC, "num_classes": 3},
    "mamp_finetune": {**_TINY_ENC, "num_classes": 3, "hidden_dim": 8},
}


def tiny_batch(name: str, model: nn.Module, batch_size: int = 2, labelled: bool = True) -> dict:
    """``{"skeleton": (B, 3, T, V, 2)}`` (+ ``label``) for a model built from ``TINY[name]``."""
    x = torch.randn(batch_size, model.dim_in, model.num_frames, model.num_joints, 2)
    out = {"skeleton": x}
    if labelled and name != "mamp_pretrain":
        out["label"] = torch.arange(batch_size) % model.num_classes
    return out


# official class (as named in fixture configs) -> our module
OFFICIAL_CLASSES = {
    "model_mamp/transformer.py::Transformer": MAMP,
    "model/transformer.py::Transformer": MAMPClassifier,
}


def build_official(official_class: str, constructor_kwargs: Mapping, **overrides) -> nn.Module:
    """Build our module for an official class from its official constructor arguments.

    ``model_mae/transformer.py::Transformer`` maps to :class:`MAMP` with uniform masking and a
    coordinate target. Arguments the official classes take but ignore (``qk_scale``) are accepted.
    """
    kwargs = {**constructor_kwargs, **overrides}
    if official_class == "model_mae/transformer.py::Transformer":
        return MAMP(**{"masking": "uniform", "target": "coordinates", **kwargs})
    if official_class not in OFFICIAL_CLASSES:
        raise ConfigError(f"MAMP: unknown official class {official_class!r} "
                          f"(known: {sorted(OFFICIAL_CLASSES)})")
    return OFFICIAL_CLASSES[official_class](**kwargs)

