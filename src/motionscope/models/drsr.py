"""DRSR (CVPR'22, damo-cv/MotionRGBD): the unimodal DSNNet and the RGB-D CrossFusionNet.

``drsr`` (official ``DSNNet``, config name ``I3DWTrans``): a per-frame Inception stem (every
convolution has temporal kernel 1) with one shared 2-parameter FRP module tapped after
Mixed_3b / 4b / 5b, spatial average pooling, LayerNorm + Linear(1024 -> 512) to 64 tokens, then
the RCM gate and the three-branch k-NN DTN (:mod:`.layers.drsr_dtn`) with its heads.

``drsr_fusion`` (official ``CrossFusionNet``, ~CAPF): two DSNNets without heads (RGB, depth),
each initialised from a unimodal checkpoint (``rgb_checkpoint`` / ``depth_checkpoint``: ours,
official ``{'model': sd}`` files, ``module.`` prefixes or not), a spatial interaction MLP on
the L2-normalised token concatenation added to both token sets, a temporal one on the merged
features, an encoder-decoder fusion module (fused logits + reconstruction), and a
modality-discriminator BCE.

Batches (docs/drsr.md): ``{"video" (B, 3, T, S, S), "heat" (B, 1, T, S, S), "label"}`` and, for
fusion, also ``"depth"`` and ``"depth_heat"``. ``T`` is ``num_frames`` (64 officially: the RCM's
linears run over the time axis).

Options that reproduce the released code (defaults are the honest choices, see docs):
``token_sampling`` ("deterministic": random while training, segment middles in eval, as UMDR;
"random": random also in eval, official), ``eval_head`` ("merged" or one branch),
``distill_reduction`` ("sum": official, scales with the batch; "batchmean"),
``fusion_view_quirk`` (True: the official ``.view`` of the (B, T, 2C) concatenation as
(B, 2C, T, 1) without a permute; False: a real transpose). ``forward_official`` reproduces the
official forward exactly, with its ``.squeeze()`` calls (batch size 1 gives (C,) logits) and
Python-``random`` token draws when no indices are given.

Key names are the official ones, so official checkpoints load without renaming
(:func:`convert_official` only strips wrappers and a common prefix).
"""

from __future__ import annotations

import difflib
import inspect
import os
import random
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, ConfigError, DataError
from .layers.drsr_dtn import (
    BRANCHES,
    DTN,
    LOCAL_WIDTHS,
    TOKEN_SAMPLING,
    label_smoothing_ce,
    segment_bounds,
    sharpness_temperature,
)
from .layers.frp import FRPModule, HeatPyramid
from .layers.inception3d import STEM_CHANNELS, build_stem, run_stem
from .layers.knn_attention import ATTENTION_PATHS, set_attention_path

EVAL_HEADS = ("merged",) + BRANCHES
DISTILL_REDUCTIONS = ("sum", "batchmean")
ATTENTION_CHOICES = ("auto",) + ATTENTION_PATHS


def _choice(name: str, value, choices: Sequence) -> None:
    if value not in choices:
        raise ConfigError(f"DRSR: unknown {name} {value!r} (known: {', '.join(map(str, choices))})")


def _clip(batch: Mapping, key: str, channels: int, frames: int | None,
          like: torch.Tensor | None = None) -> torch.Tensor:
    """``batch[key]`` as a (B, C, T, H, W) float clip, or a DataError naming what is wrong."""
    if key not in batch:
        raise DataError(None, f"DRSR needs batch[{key!r}] (keys given: {sorted(batch)}); the heat "
                              "maps come from motionscope.motion.frp.dynamic_heatmaps")
    x = batch[key]
    if not isinstance(x, torch.Tensor) or x.ndim != 5 or x.shape[1] != channels:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise DataError(None, f"DRSR: batch[{key!r}] must be (B, {channels}, T, H, W), got {shape}")
    if frames is not None and x.shape[2] != frames:
        raise DataError(None, f"DRSR: batch[{key!r}] has {x.shape[2]} frames, the model is built for "
                              f"num_frames={frames} (its RCM runs linears over the time axis)")
    if like is not None and (x.shape[0], *x.shape[2:]) != (like.shape[0], *like.shape[2:]):
        raise DataError(None, f"DRSR: batch[{key!r}] {tuple(x.shape)} does not match the clip "
                              f"{tuple(like.shape)} in batch size, frames or frame size")
    return x.float() if not x.is_floating_point() else x


def official_indices(n: int, sn: int) -> list[int]:
    """The official ``DTNNet.f(n, sn)``: one ``random.choice`` (Python's RNG) per segment."""
    return [random.choice(range(lo, hi)) for lo, hi in segment_bounds(n, sn)]


# ---------------------------------------------------------------------------------- DSNNet
class DSNNet(nn.Module):
    """The unimodal DRSR network (module docstring). ``num_classes=None`` builds it without
    heads, as the fusion network's streams are (their DTN returns CLS features)."""

    def __init__(self, num_classes: int | None = 60, num_frames: int = 64, in_channels: int = 3,
                 frp: bool = True, frp_window: int = 10, dim: int = 512,
                 branch_tokens: Sequence[int] = (16, 32, 48), depth: int = 6, heads: int = 8,
                 dim_head: int = 64, mlp_dim: int = 768, dropout: float = 0.1,
                 knn_ratio: float = 0.7, recoupling: bool = True, rcm_hidden: int = 256,
                 se_heads: int = 1, local_widths: Sequence[int] = LOCAL_WIDTHS,
                 sharpness: bool = True, temperatures: Sequence[float] = (0.04, 0.07),
                 temperature_warmup_epochs: int = 30, distill_temperature: float = 0.5,
                 distill_weight: float = 1.0, distill_start_epoch: int = 2,
                 distill_reduction: str = "sum",
                 loss_weights: Sequence[float] = (1.0, 0.5, 0.5, 0.5), label_smoothing: float = 0.1,
                 token_sampling: str = "deterministic", eval_head: str = "merged",
                 attention: str = "auto"):
        super().__init__()
        _choice("token_sampling", token_sampling, TOKEN_SAMPLING)
        _choice("eval_head", eval_head, EVAL_HEADS)
        _choice("distill_reduction", distill_reduction, DISTILL_REDUCTIONS)
        _choice("attention", attention, ATTENTION_CHOICES)
        if len(loss_weights) != 4:
            raise ConfigError("DRSR: loss_weights are 4 (merged, small, media, large), "
                              f"got {list(loss_weights)}")
        if len(temperatures) != 2:
            raise ConfigError(f"DRSR: temperatures are (start, end), got {list(temperatures)}")
        if num_frames < 1 or any(n < 1 for n in branch_tokens):
            raise ConfigError(f"DRSR: num_frames {num_frames} and branch_tokens {list(branch_tokens)} "
                              "must be positive")
        self.num_classes, self.num_frames, self.in_channels = num_classes, num_frames, in_channels
        self.stem_names = build_stem(self, in_channels)
        self.LinearMap = nn.Sequential(nn.LayerNorm(STEM_CHANNELS), nn.Linear(STEM_CHANNELS, dim))
        self.dtn = DTN(num_classes, num_frames, dim, branch_tokens, depth, heads, dim_head, mlp_dim,
                       dropout, 0.0, knn_ratio, recoupling, rcm_hidden, se_heads, local_widths,
                       distill_temperature)
        self.frp_module = FRPModule(frp_window) if frp else None
        self.sharpness, self.temperatures = sharpness, tuple(map(float, temperatures))
        self.temperature_warmup_epochs = temperature_warmup_epochs
        self.distill_weight, self.distill_start_epoch = distill_weight, distill_start_epoch
        self.distill_reduction = distill_reduction
        self.loss_weights, self.label_smoothing = tuple(map(float, loss_weights)), label_smoothing
        self.token_sampling, self.eval_head = token_sampling, eval_head
        self.attention = attention
        self.epoch: int | None = None  # None: a trained model (final temperature, distillation on)
        self._temp_warmup = temperature_warmup_epochs

    # ----------------------------------------------------------------- epoch-dependent parts
    def set_epoch(self, epoch: int, num_epochs: int | None = None) -> None:
        """The trainer calls this before each epoch: sharpness temperature (linear 0.04 -> 0.07
        over the first 30 epochs, then 0.07; over all epochs of a run shorter than 30, which the
        official code cannot run) and the distillation start (epoch >= ``distill_start_epoch``,
        i.e. ``warm_up_epochs - 1`` as train.py)."""
        self.epoch = int(epoch)
        w = self.temperature_warmup_epochs
        self._temp_warmup = w if num_epochs is None or num_epochs >= w else max(int(num_epochs), 1)

    @property
    def temperature(self) -> float | None:
        """What the branch logits are divided by now (None without sharpness)."""
        if not self.sharpness:
            return None
        return sharpness_temperature(self.epoch, *self.temperatures, self._temp_warmup)

    @property
    def distill_lambda(self) -> float:
        on = self.epoch is None or self.epoch >= self.distill_start_epoch
        return self.distill_weight if on else 0.0

    def no_weight_decay(self) -> set[str]:
        return {f"dtn.{n}" for n in self.dtn.no_weight_decay()}

    # ------------------------------------------------------------------------ the network
    def _attention_path(self, device: torch.device) -> str:
        path = self.attention if self.attention != "auto" else ("sdpa" if device.type == "cuda" else "exact")
        set_attention_path(self.dtn, path)
        return path

    def spatial(self, video: torch.Tensor, heat: torch.Tensor | None, record: dict | None = None,
                stop_before: str | None = None) -> torch.Tensor:
        """Stem + pooling + LinearMap: (B, 3, T, H, W) -> tokens (B, T, dim) (or the pooled
        (B, T, 1024) features with ``stop_before="LinearMap"``)."""
        tap = None
        if self.frp_module is not None:
            if heat is None:
                raise DataError(None, "DRSR with FRP needs a heat map (batch['heat'])")
            pyramid = HeatPyramid(heat.to(video.dtype))
            tap = lambda _name, x: self.frp_module(x, pyramid) + x  # noqa: E731
        x = run_stem(self, video, tap, record)
        pooled = x.mean(dim=(-2, -1)).transpose(1, 2)  # AdaptiveAvgPool3d((None, 1, 1)) -> (B, T, C)
        if record is not None:
            record["pooled"] = record["spatial.pooled"] = pooled
        if stop_before == "LinearMap":
            return pooled
        tokens = self.LinearMap(pooled)
        if record is not None:
            record["spatial.tokens"] = tokens
        return tokens

    def temporal(self, tokens: torch.Tensor, indices: Mapping[str, torch.Tensor] | None = None,
                 record: dict | None = None) -> dict:
        """RCM + DTN + heads on (B, T, dim) tokens (see :class:`DTN`)."""
        if tokens.shape[1] != self.num_frames:
            raise DataError(None, f"DRSR: {tokens.shape[1]} tokens, the model is built for "
                                  f"num_frames={self.num_frames}")
        if indices is None:
            indices = self.dtn.sample(self.token_sampling, self.training)
        out = self.dtn(tokens, indices, self.temperature, record)
        if self.distill_reduction == "batchmean" and "distill" in out:
            out["distill"] = out["distill"] / tokens.shape[0]
        return out

    def forward(self, batch: dict) -> dict:
        video = _clip(batch, "video", self.in_channels, self.num_frames)
        heat = _clip(batch, "heat", 1, self.num_frames, like=video) if self.frp_module is not None \
            else batch.get("heat")
        self._attention_path(video.device)
        out = self.temporal(self.spatial(video, heat), batch.get("dtn_indices"))
        res = {"logits": out[self.eval_head],
               **{f"logits_{h}": out[h] for h in EVAL_HEADS}, "losses": {}}
        if self.dtn.rcm is not None:
            res["losses"]["distill"] = self.distill_lambda * out["distill"]
        if "label" in batch:
            y = batch["label"].long()
            for w, h in zip(self.loss_weights, EVAL_HEADS):
                res["losses"]["ce" if h == "merged" else f"ce_{h}"] = \
                    w * label_smoothing_ce(out[h], y, self.label_smoothing)
        return res

    # ------------------------------------------------------------------ the official forward
    def forward_official(self, x: torch.Tensor, garr: torch.Tensor | None = None,
                         dtn_indices: Mapping[str, torch.Tensor] | None = None,
                         record: dict | None = None, stop_before: str | None = None):
        """The official ``DSNNet.forward(x, garr)``: ``((merged, small, media, large),
        distillation_loss, (cnn_vison, att_map, cosin_similar, visweight, (mhas_small,
        mhas_media, mhas_large), (feat, x[0])))``, the merged logits ``.squeeze()``-d as the
        official (shape (C,) for batch size 1), the exact attention path, and the official
        ``random.choice`` token draws unless ``dtn_indices`` are given. ``record`` receives the
        intermediates under the fixture names; ``stop_before="LinearMap"`` ends after the stem.
        The visualisation needs depth >= 3 (the official reads layer index 2); else it is None."""
        rec = record if record is not None else {}
        set_attention_path(self.dtn, "exact")
        tokens = self.spatial(x, garr, rec, stop_before)
        if stop_before == "LinearMap":
            return tokens
        if dtn_indices is None:
            dtn_indices = {br: torch.tensor(official_indices(tokens.shape[1], n))
                           for br, n in self.dtn.branch_tokens.items()}
        out = self.temporal(tokens, dtn_indices, rec)
        logits = (out["merged"].squeeze(), out["small"], out["media"], out["large"])
        rec.update({"logits.merged": logits[0], "logits.small": out["small"],
                    "logits.media": out["media"], "logits.large": out["large"],
                    "distillation_loss": out["distill"]})
        vis = self._official_vis(x, rec, logits) if len(self.dtn.multi_scale_transformers) >= 3 else None
        return logits, out["distill"], vis

    def _official_vis(self, x: torch.Tensor, rec: dict, logits: tuple) -> tuple:
        f = rec.get("Mixed_4b_frp", rec["Mixed_4b"])
        cnn_vison = f.sum(dim=1, keepdim=True).transpose(1, 2)[0]  # 'b c t h w -> b t c h w', [0]
        maps = {br: rec[f"dtn.layer2.attn.{br}"]["attn"] for br in BRANCHES}
        small = maps["small"]
        # the official resize_()s the media / large maps in place to the small map's shape
        resized = [small] + [m.contiguous().reshape(-1)[:small.numel()].view(small.shape)
                             for m in (maps["media"], maps["large"])]
        s = torch.cat(resized, dim=1).flatten(2)  # (B, 3*heads, n*n)
        att_map = F.cosine_similarity(s.unsqueeze(2), s.unsqueeze(1), dim=-1).float()
        _, xs, xm, xl = logits
        cos = F.cosine_similarity
        cosin = cos(xs[0], xm[0], dim=-1) + cos(xs[0], xl[0], dim=-1) + cos(xm[0], xl[0], dim=-1)
        visweight = rec["rcm.gate"][0] if "rcm.gate" in rec else None
        mhas = tuple(maps[br][0] for br in BRANCHES)
        rec.update({"vis.cnn_vison": cnn_vison, "vis.att_map": att_map, "vis.cosin_similar": cosin,
                    "visweight": visweight, **{f"vis.mhas.{br}": m for br, m in zip(BRANCHES, mhas)}})
        feat = rec["Mixed_5c"]
        return cnn_vison, att_map, cosin, visweight, mhas, (feat, x[0])

    def official_losses(self, logits: Sequence[torch.Tensor], distillation_loss: torch.Tensor,
                        target: torch.Tensor, distill_lamdb: float = 1.0) -> dict[str, torch.Tensor]:
        """``tools/train.py::train``'s loss terms on the official outputs (merged, small, media,
        large): ``CE_loss`` with ``loss_lamdb``, ``Distil_loss``, ``Total_loss``."""
        ce = {f"ce_{h}": label_smoothing_ce(lg, target, self.label_smoothing)
              for h, lg in zip(EVAL_HEADS, logits)}
        w = self.loss_weights
        total_ce = (w[0] * ce["ce_merged"] + w[1] * ce["ce_small"] + w[2] * ce["ce_media"]
                    + w[3] * ce["ce_large"])
        distil = distillation_loss * distill_lamdb
        return {**ce, "CE_loss": total_ce, "Distil_loss": distil, "Total_loss": total_ce + distil}


# ------------------------------------------------------------------------------ fusion
class _Encoder(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.enconv = nn.Sequential(
            nn.Conv2d(c_in, c_in, 1, bias=False), nn.BatchNorm2d(c_in), nn.ReLU(),
            nn.Conv2d(c_in, c_in // 2, 1, bias=False), nn.BatchNorm2d(c_in // 2), nn.ReLU(),
            nn.Conv2d(c_in // 2, c_in // 4, 1, bias=False), nn.BatchNorm2d(c_in // 4), nn.ReLU(),
            nn.Conv2d(c_in // 4, c_out, 1, bias=False))

    def forward(self, r: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        return self.enconv(torch.cat((r, d), dim=1).view(r.shape[0], -1, 1, 1))


class _Decoder(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.deconv = nn.Sequential(
            nn.Conv2d(c_in, c_out // 4, 1, bias=False), nn.BatchNorm2d(c_out // 4), nn.ReLU(),
            nn.Conv2d(c_out // 4, c_out // 2, 1, bias=False), nn.BatchNorm2d(c_out // 2), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.deconv(x)


class FusionModule(nn.Module):
    """Encoder 2C -> 2C -> C -> C/2 -> ``channel_out`` (``en_x``; ``efc`` gives the fused logits),
    decoder ``channel_out`` -> C/2 -> C (``de_x``, the reconstruction of each stream's feature)."""

    def __init__(self, channel_in: int = 1024, channel_out: int = 256, num_classes: int = 60):
        super().__init__()
        self.encoder = _Encoder(channel_in, channel_out)
        self.decoder = _Decoder(channel_out, channel_in)
        self.efc = nn.Conv2d(channel_out, num_classes, 1, bias=False)

    def forward(self, r: torch.Tensor, d: torch.Tensor, record: dict | None = None):
        en = self.encoder(r, d)
        de = self.decoder(en)
        logits = self.efc(en).flatten(1)
        if record is not None:
            record.update({"encoder_out": en, "fusion_model.en_x": logits, "fusion_model.de_x": de})
        return logits, de


def _interaction(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(2 * dim, dim, 1, bias=False), nn.BatchNorm2d(dim), nn.ReLU(),
                         nn.Conv2d(dim, dim, 1, bias=False), nn.Dropout(0.4))


class CrossFusionNet(nn.Module):
    """The RGB-D fusion network (module docstring); ``Modalit_rgb`` / ``Modalit_depth`` are
    :class:`DSNNet` streams without heads."""

    def __init__(self, num_classes: int = 60, rgb_checkpoint: str | None = None,
                 depth_checkpoint: str | None = None, spatial_interact: bool = True,
                 temporal_interact: bool = True, fusion_channels: int = 256,
                 fusion_view_quirk: bool = True, label_smoothing: float = 0.1,
                 token_sampling: str = "deterministic", eval_head: str = "fused", **stream):
        super().__init__()
        _choice("eval_head", eval_head, ("fused", "rgb", "depth"))
        _choice("token_sampling", token_sampling, TOKEN_SAMPLING)
        valid = sorted(set(inspect.signature(DSNNet).parameters) - {"self", "num_classes", "token_sampling"})
        for key in stream:
            if key not in valid:
                close = difflib.get_close_matches(key, valid, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"drsr_fusion: unknown argument {key!r}{hint}")
        self.num_classes, self.label_smoothing = num_classes, label_smoothing
        self.spatial_interact, self.temporal_interact = spatial_interact, temporal_interact
        self.fusion_view_quirk, self.eval_head = fusion_view_quirk, eval_head
        self.Modalit_rgb = DSNNet(None, token_sampling=token_sampling, **stream)
        self.Modalit_depth = DSNNet(None, token_sampling=token_sampling, **stream)
        dim = self.Modalit_rgb.dtn.dim
        self.dim = dim
        self.fusion_model = FusionModule(2 * dim, fusion_channels, num_classes)
        self.fc = nn.Conv2d(dim, 1, 1, bias=False)
        self.dropout = nn.Dropout(0.5)
        if spatial_interact:
            self.crossFusion = _interaction(dim)
        if temporal_interact:
            self.crossFusionT = _interaction(dim)
        self.classifier1 = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_classes))
        self.classifier2 = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_classes))
        self.loaded: dict[str, list[str]] = {}
        for stream_name, ckpt in (("Modalit_rgb", rgb_checkpoint), ("Modalit_depth", depth_checkpoint)):
            if ckpt:
                self.loaded[stream_name] = load_stream(getattr(self, stream_name), ckpt)

    @property
    def token_sampling(self) -> str:
        return self.Modalit_rgb.token_sampling

    @token_sampling.setter
    def token_sampling(self, mode: str) -> None:
        _choice("token_sampling", mode, TOKEN_SAMPLING)
        self.Modalit_rgb.token_sampling = self.Modalit_depth.token_sampling = mode

    def set_epoch(self, epoch: int, num_epochs: int | None = None) -> None:
        self.Modalit_rgb.set_epoch(epoch, num_epochs)
        self.Modalit_depth.set_epoch(epoch, num_epochs)

    def no_weight_decay(self) -> set[str]:
        return {f"{s}.{n}" for s in ("Modalit_rgb", "Modalit_depth")
                for n in getattr(self, s).no_weight_decay()}

    def _spatial_fusion(self, m: torch.Tensor, k: torch.Tensor, record: dict | None) -> torch.Tensor:
        b, t, c = m.shape
        cat = F.normalize(torch.cat((m, k), dim=-1), p=2, dim=-1)  # (B, T, 2C)
        if self.fusion_view_quirk:  # the official .view without a permute, both ways
            y = self.crossFusion(cat.reshape(b, 2 * c, t, 1))
            if record is not None:
                record["crossFusion_out"] = y
            return y.reshape(b, t, c)
        y = self.crossFusion(cat.transpose(1, 2).unsqueeze(-1))
        if record is not None:
            record["crossFusion_out"] = y
        return y.squeeze(-1).transpose(1, 2)

    def run(self, rgb, rgb_heat, depth, depth_heat, indices=None, record: dict | None = None) -> dict:
        """The fusion forward; ``indices`` = (rgb, depth) token indices per branch or None."""
        sm = self.Modalit_rgb.spatial(rgb, rgb_heat)
        sk = self.Modalit_depth.spatial(depth, depth_heat)
        if record is not None:
            record.update({"spatial_M": sm, "spatial_K": sk})
        if self.spatial_interact:
            sf = self._spatial_fusion(sm, sk, record)
            sm, sk = sm + sf, sk + sf
        idx_r, idx_d = indices if indices is not None else (None, None)
        om = self.Modalit_rgb.temporal(sm, idx_r)
        ok = self.Modalit_depth.temporal(sk, idx_d)
        tm, tk = om["merged"], ok["merged"]
        if record is not None:
            for name, o in (("dtn_rgb", om), ("dtn_depth", ok)):
                record.update({f"{name}.merged": o["merged"], f"{name}.distillation_loss": o["distill"],
                               **{f"{name}.{br}": o[br] for br in BRANCHES}})
        logit_r, logit_d = self.classifier1(tm), self.classifier2(tk)
        if self.temporal_interact:
            b, c = tm.shape
            tf = self.crossFusionT(F.normalize(torch.cat((tm, tk), dim=-1), p=2, dim=-1).view(b, 2 * c, 1, 1))
            if record is not None:
                record["crossFusionT_out"] = tf
            tf = tf.reshape(b, c)
            tm, tk = tm + tf, tk + tf
        en_x, de_x = self.fusion_model(tm, tk, record)
        b, c = tm.shape
        disc_r = self.fc(self.dropout(tm).view(b, c, 1, 1))
        disc_d = self.fc(self.dropout(tk).view(b, c, 1, 1))
        if record is not None:
            record.update({"discriminator_logit.rgb": disc_r, "discriminator_logit.depth": disc_d})
        return {"en_x": en_x, "logit_r": logit_r, "logit_d": logit_d, "temporal_M": tm, "temporal_K": tk,
                "de_x": de_x.reshape(b, c), "disc_r": disc_r.reshape(b, 1), "disc_d": disc_d.reshape(b, 1),
                "distill": om["distill"] + ok["distill"]}

    def _losses(self, o: dict, target: torch.Tensor | None) -> dict[str, torch.Tensor]:
        dev = o["en_x"].device.type
        off = torch.autocast(dev, enabled=False) if dev in ("cpu", "cuda") else nullcontext()
        with off:  # BCE on probabilities: fp32 only (refused under autocast)
            pr, pd = torch.sigmoid(o["disc_r"].float()), torch.sigmoid(o["disc_d"].float())
            bce = (F.binary_cross_entropy(pr, torch.ones_like(pr))
                   + F.binary_cross_entropy(pd, torch.zeros_like(pd)))
        de, tm, tk = o["de_x"].float(), o["temporal_M"].float(), o["temporal_K"].float()
        losses = {"bce": bce, "mse": F.mse_loss(de, tm) + F.mse_loss(de, tk), "distill": o["distill"]}
        if target is not None:
            s = self.label_smoothing
            losses["ce"] = label_smoothing_ce(o["en_x"], target, s)
            losses["ce_rgb"] = label_smoothing_ce(o["logit_r"], target, s)
            losses["ce_depth"] = label_smoothing_ce(o["logit_d"], target, s)
        return losses

    def forward(self, batch: dict) -> dict:
        rgb_net = self.Modalit_rgb
        frames, ch = rgb_net.num_frames, rgb_net.in_channels
        rgb = _clip(batch, "video", ch, frames)
        depth = _clip(batch, "depth", ch, frames, like=rgb)
        need_heat = rgb_net.frp_module is not None
        heat = _clip(batch, "heat", 1, frames, like=rgb) if need_heat else None
        dheat = _clip(batch, "depth_heat", 1, frames, like=rgb) if need_heat else None
        for s in (self.Modalit_rgb, self.Modalit_depth):
            s._attention_path(rgb.device)
        o = self.run(rgb, heat, depth, dheat)
        target = batch["label"].long() if "label" in batch else None
        heads = {"fused": o["en_x"], "rgb": o["logit_r"], "depth": o["logit_d"]}
        return {"logits": heads[self.eval_head], **{f"logits_{k}": v for k, v in heads.items()},
                "losses": self._losses(o, target)}

    def forward_official(self, inputs, garrs, target, dtn_indices=None, record: dict | None = None):
        """The official ``CrossFusionNet.forward((rgb, depth), (rgb_garr, depth_garr), target)``:
        ``((en_x, logit_r, logit_d), (CE_loss, BCE_loss, MSE_loss, distillation))``, the fused
        logits ``.squeeze()``-d; exact attention; official random draws unless ``dtn_indices``
        = (rgb, depth) dicts are given. ``record`` receives the intermediates (fixture names)."""
        rec = record if record is not None else {}
        for s in (self.Modalit_rgb, self.Modalit_depth):
            set_attention_path(s.dtn, "exact")
        if dtn_indices is None:
            n = self.Modalit_rgb.num_frames
            dtn_indices = tuple({br: torch.tensor(official_indices(n, k))
                                 for br, k in s.dtn.branch_tokens.items()}
                                for s in (self.Modalit_rgb, self.Modalit_depth))
        o = self.run(inputs[0], garrs[0], inputs[1], garrs[1], dtn_indices, rec)
        losses = self._losses(o, target)
        ce = losses["ce"] + losses["ce_rgb"] + losses["ce_depth"]
        en_x = o["en_x"].squeeze()
        rec.update({"en_x": en_x, "logit_r": o["logit_r"], "logit_d": o["logit_d"], "CE_loss": ce,
                    "BCE_loss": losses["bce"], "MSE_loss": losses["mse"], "distillation": losses["distill"],
                    "Total_loss": ce + losses["mse"] + losses["bce"] + losses["distill"]})
        return (en_x, o["logit_r"], o["logit_d"]), (ce, losses["bce"], losses["mse"], losses["distill"])


# ------------------------------------------------------------------ checkpoints and weights
_HEAD_LINEAR = tuple(f"dtn.mlp_head_{br}.1." for br in BRANCHES)


def _resolve_checkpoint(path: str | os.PathLike) -> Path:
    p = Path(path)
    if p.is_dir():  # a motionscope run directory
        for cand in (p / "checkpoints" / "best.pt", p / "checkpoints" / "last.pt"):
            if cand.is_file():
                return cand
        raise CheckpointError(p, "no checkpoints/best.pt or checkpoints/last.pt in this run directory")
    return p


def load_stream(stream: DSNNet, checkpoint: str | os.PathLike | Mapping[str, torch.Tensor]) -> list[str]:
    """Initialise a fusion stream from a unimodal checkpoint as the official
    ``load_pretrained_checkpoint`` does (every key of the same name and shape except the branch
    heads' Linear), from our checkpoint or run directory or an official ``.pth``. Unlike the
    official (``strict=False``, silent), a stream key the file does not provide is an error
    naming the keys. Returns the keys ignored."""
    from .official import read_state_dict, unwrap_state_dict

    if isinstance(checkpoint, Mapping):
        sd, path = unwrap_state_dict(checkpoint), None
    else:
        path = _resolve_checkpoint(checkpoint)
        sd = read_state_dict(path)
    sd = convert_official(sd, stream)
    own = stream.state_dict()
    fit = {k: v for k, v in sd.items() if k in own and tuple(v.shape) == tuple(own[k].shape)
           and not k.startswith(_HEAD_LINEAR)}
    missing = [k for k in own if k not in fit]
    if missing:
        wrong = [f"{k}: file {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}" for k in missing if k in sd]
        raise CheckpointError(path, f"not a DRSR unimodal checkpoint for this fusion stream: "
                                    f"{len(missing)} of its {len(own)} tensors are not in the file "
                                    f"with their shape (e.g. {(wrong or missing)[:4]})")
    stream.load_state_dict(fit, strict=False)
    return sorted(set(sd) - set(fit))


def convert_official(state_dict: Mapping[str, torch.Tensor], model: nn.Module | None = None
                     ) -> dict[str, torch.Tensor]:
    """Official DRSR keys -> ours: the same names. Strips DDP's ``module.`` per key and, when
    ``model`` is given and no key fits it, a prefix shared by every key (``dsnnet.`` / ``fusion.``
    of a file holding several models, ``Modalit_rgb.`` of a fusion checkpoint)."""
    sd = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state_dict.items()}
    if model is None or not sd:
        return sd
    own = model.state_dict()
    if any(k in own for k in sd):
        return sd
    first = {k.split(".", 1)[0] for k in sd}
    if len(first) == 1:
        p = next(iter(first)) + "."
        stripped = {k[len(p):]: v for k, v in sd.items()}
        if any(k in own for k in stripped):
            return stripped
    return sd


def load_pretrained(model: nn.Module, checkpoint, *, system: str | None = None, partial: bool = False):
    """``model.pretrained=PATH`` for DRSR: for ``drsr``, the official rule (every tensor but the
    branch heads' Linear, which stays new: a pretrained DSNNet is fine-tuned on new classes);
    for ``drsr_fusion``, the whole model (the generic rule)."""
    from .pretrained import compare, load_fitting, read_pretrained

    sd, path = read_pretrained(checkpoint, system, model)
    sd = convert_official(sd, model)
    if not isinstance(model, DSNNet):
        return load_fitting(model, sd, path, partial, what="model 'drsr_fusion'")
    heads = [k for k in sd if k.startswith(_HEAD_LINEAR)]
    rep = compare(model, {k: v for k, v in sd.items() if k not in heads}, path)
    rep.missing = [k for k in rep.missing if not k.startswith(_HEAD_LINEAR)]
    if (rep.missing or rep.mismatched or rep.unexpected) and not partial:
        return load_fitting(model, {k: v for k, v in sd.items() if k not in heads}, path, partial,
                            what="model 'drsr'")
    if not rep.loaded:
        raise CheckpointError(path, "no tensor of this checkpoint fits model 'drsr'")
    model.load_state_dict({k: sd[k] for k in rep.loaded}, strict=False)
    rep.notes.append("branch heads (dtn.mlp_head_*.1) newly initialised, as the official "
                     "load_pretrained_checkpoint does")
    return rep


# ------------------------------------------------------------------ official constructors
def _official_kwargs(args: Mapping, num_classes) -> dict:
    """Our DSNNet arguments from the official ``Config`` namespace (as a dict)."""
    a = dict(args)
    epochs = int(a.get("epochs", 100))
    if a.get("sharpness", True) and epochs < 30:
        raise ConfigError(f"official DRSR with sharpness needs epochs >= 30 (its temp_schedule), "
                          f"got {epochs}")
    if int(a.get("N", 6)) < 3:
        raise ConfigError(f"official DRSR reads DTN layer index 2 in every forward: N >= 3, got {a.get('N')}")
    return {
        "num_classes": num_classes, "num_frames": int(a.get("sample_duration", 64)),
        "frp": bool(a.get("frp", True)), "frp_window": int(a.get("w", 10)), "depth": int(a.get("N", 6)),
        "branch_tokens": (int(a.get("low_frames", 16)), int(a.get("media_frames", 32)),
                          int(a.get("high_frames", 48))),
        "knn_ratio": float(a.get("knn_attention", 0.7)), "recoupling": bool(a.get("recoupling", True)),
        "rcm_hidden": 128 if a.get("dataset") == "THU" else 256,  # the dead THU branch, as released
        "se_heads": int(a.get("SEHeads", 1)), "sharpness": bool(a.get("sharpness", True)),
        "temperatures": tuple(map(float, a.get("temp", (0.04, 0.07)))),
        "distill_temperature": float(a.get("temper", 0.5)),
        "distill_weight": float(a.get("distill", 1.0)), "token_sampling": "random",
    }


def _dsnnet_official(args: Mapping, num_classes: int | None = None, pretrained=None,
                     heads: bool = True, **_ignored) -> DSNNet:
    a = dict(args)
    n = num_classes if num_classes is not None else a.get("num_classes", 60)
    model = DSNNet(**_official_kwargs(a, n if heads else None))
    model.set_epoch(int(a.get("epoch", 0)), int(a.get("epochs", 100)))
    if pretrained:
        load_pretrained(model, pretrained, partial=True)
    return model


def _dsnnet_fusion_stream(args: Mapping, num_classes: int | None = None, pretrained=None, **kw) -> DSNNet:
    return _dsnnet_official(args, num_classes, pretrained, heads=False)


def _crossfusion_official(args: Mapping, num_classes: int | None = None, pretrained=None,
                          spatial_interact: bool = True, temporal_interact: bool = True,
                          **_ignored) -> CrossFusionNet:
    """``CrossFusionNet(args, ...)``; the ``rgb_checkpoint`` / ``depth_checkpoint`` of ``args``
    are not read here (fixtures load the whole state_dict after; users pass real files to
    :func:`drsr_fusion`)."""
    a = dict(args)
    kw = _official_kwargs(a, None)
    kw.pop("num_classes")
    kw.pop("token_sampling")
    n = num_classes if num_classes is not None else a.get("num_classes", 60)
    model = CrossFusionNet(n, spatial_interact=spatial_interact, temporal_interact=temporal_interact,
                           token_sampling="random", **kw)
    model.set_epoch(int(a.get("epoch", 0)), int(a.get("epochs", 100)))
    return model


OFFICIAL_CLASSES = {
    "lib/model/DSN.py::DSNNet": _dsnnet_official,
    "lib/model/DSN_Fusion.py::DSNNet": _dsnnet_fusion_stream,
    "lib/model/fusion_Net.py::CrossFusionNet": _crossfusion_official,
}


def build_official(official_class: str, constructor_kwargs: dict | None = None, **overrides) -> nn.Module:
    """Our module for an official DRSR class and its constructor arguments (``args`` = the
    official ``Config`` namespace as a dict, ``num_classes``, ``pretrained`` ...)."""
    fn = OFFICIAL_CLASSES.get(official_class)
    if fn is None:
        raise ConfigError(f"no motionscope module for official class {official_class!r} "
                          f"(known: {', '.join(OFFICIAL_CLASSES)})")
    kw = dict(constructor_kwargs or {})
    if "args" not in kw:
        raise ConfigError(f"official {official_class} takes the Config namespace as 'args'")
    kw.update(overrides)
    return fn(**kw)


# ------------------------------------------------------------------------------ builders
def drsr(**kw) -> DSNNet:
    """DRSR unimodal (DSNNet / I3DWTrans) for RGB or depth clips; official sizes by default."""
    return DSNNet(**kw)


def drsr_fusion(**kw) -> CrossFusionNet:
    """DRSR RGB-D fusion (CrossFusionNet) from two unimodal checkpoints."""
    return CrossFusionNet(**kw)


drsr.builds = DSNNet  # type: ignore[attr-defined]
MODELS = {"drsr": drsr, "drsr_fusion": drsr_fusion}

# CPU-sized configurations (the family protocol): the official stem, 8 frames, a 64-d DTN
_TINY_STREAM = {"num_frames": 8, "dim": 64, "branch_tokens": (2, 4, 6), "depth": 3, "heads": 2,
                "dim_head": 32, "mlp_dim": 96, "rcm_hidden": 16, "local_widths": (20, 14, 28, 3, 8, 8)}
TINY = {"drsr": {"num_classes": 5, **_TINY_STREAM},
        "drsr_fusion": {"num_classes": 5, "fusion_channels": 32, **_TINY_STREAM}}
TINY_SIZE = 32


def tiny_batch(name: str, model: nn.Module, batch_size: int = 2, labelled: bool = True) -> dict:
    """``video`` / ``heat`` (and ``depth`` / ``depth_heat`` for fusion) at 32x32."""
    net = model.Modalit_rgb if isinstance(model, CrossFusionNet) else model
    g = torch.Generator().manual_seed(0)
    shape = (batch_size, net.in_channels, net.num_frames, TINY_SIZE, TINY_SIZE)
    hshape = (batch_size, 1, net.num_frames, TINY_SIZE, TINY_SIZE)
    out = {"video": torch.randn(shape, generator=g), "heat": torch.rand(hshape, generator=g)}
    if isinstance(model, CrossFusionNet):
        out.update({"depth": torch.randn(shape, generator=g), "depth_heat": torch.rand(hshape, generator=g)})
    if labelled:
        out["label"] = torch.arange(batch_size) % model.num_classes
    return out


__all__ = ["DSNNet", "CrossFusionNet", "FusionModule", "MODELS", "TINY", "tiny_batch",
           "convert_official", "build_official", "load_pretrained", "load_stream", "official_indices",
           "EVAL_HEADS"]
