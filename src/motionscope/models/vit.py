"""The DINO Vision Transformer used as MP's frozen feature extractor, and an offline stand-in.

:class:`VisionTransformer` computes what the ``facebookresearch/dino`` ViT (copied into the
Motion Perceiver repository) computes, with the same ``state_dict`` keys (``cls_token``,
``pos_embed``, ``patch_embed.proj``, ``blocks.{i}.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1,
mlp.fc2}``, ``norm``), so ``dino_vitbase16_pretrain.pth`` loads as it is
(:func:`load_dino_checkpoint`). Its interface is the official one — ``model(x)`` is the
final-norm CLS token, :meth:`~VisionTransformer.forward_feats` all tokens after the final norm,
:meth:`~VisionTransformer.get_intermediate_feat` per-block (final-norm features, attention,
qkv) — plus :meth:`~VisionTransformer.patch_tokens`, the batched call MP uses (no CLS, chosen
blocks only, stopping after the last one needed).

No download is possible offline, so when no DINO checkpoint is given MP uses
:class:`PixelPatchTokens`: the smoothed 3×3-patch neighbourhood of each patch, pooled back to
16×16×3 = 768 values (the width of ViT-B) and standardised. Cosine similarity of such tokens is
a normalised cross-correlation, so MP's soft-argmax matching becomes NCC block matching. It has
no parameters and costs nothing to run; ``backbone="vit_random"`` gives the
architecture-faithful alternative (DINO's own seeded random initialisation). ``docs/mp.md``
reports what each offline choice does to the flows.
"""

from __future__ import annotations

import inspect
import math
import os
import warnings
from collections.abc import Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD  # noqa: F401  (one copy, re-exported)
from ..errors import CheckpointError, ConfigError
from ..statedict import load_checked
from .layers.transformer import Block
from .official import read_state_dict


class PatchEmbed(nn.Module):
    """Image to patch tokens with one strided convolution (key ``proj``)."""

    def __init__(self, img_size: int = 224, patch_size: int = 16, in_chans: int = 3,
                 embed_dim: int = 768):
        super().__init__()
        self.img_size = img_size
        self.patch_size = patch_size
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    """DINO's ViT (pre-norm blocks, learned position embedding, CLS token, final LayerNorm)."""

    def __init__(self, img_size: int | Sequence[int] = 224, patch_size: int = 16,
                 in_chans: int = 3, num_classes: int = 0, embed_dim: int = 768, depth: int = 12,
                 num_heads: int = 12, mlp_ratio: float = 4.0, qkv_bias: bool = False,
                 qk_scale: float | None = None, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 norm_layer=nn.LayerNorm, attention: str = "sdpa"):
        super().__init__()
        if not isinstance(img_size, int):  # the official signature takes a list, [224]
            img_size = int(img_size[0])
        self.num_features = self.embed_dim = embed_dim
        self.depth = depth
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, embed_dim))
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # linear decay
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, qk_scale, drop_rate, attn_drop_rate,
                  dpr[i], norm_layer=norm_layer, attention=attention)
            for i in range(depth))
        self.norm = norm_layer(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    @property
    def patch_size(self) -> int:
        return self.patch_embed.patch_size

    def interpolate_pos_encoding(self, x: torch.Tensor, w: int, h: int) -> torch.Tensor:
        """DINO's bicubic resize of the patch position embedding for other input sizes."""
        npatch, n = x.shape[1] - 1, self.pos_embed.shape[1] - 1
        if npatch == n and w == h:
            return self.pos_embed
        cls_pos, patch_pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        dim = x.shape[-1]
        w0, h0 = w // self.patch_size + 0.1, h // self.patch_size + 0.1
        side = int(math.sqrt(n))
        patch_pos = F.interpolate(patch_pos.reshape(1, side, side, dim).permute(0, 3, 1, 2),
                                  scale_factor=(w0 / side, h0 / side), mode="bicubic")
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, -1, dim)
        return torch.cat((cls_pos, patch_pos), dim=1)

    def prepare_tokens(self, x: torch.Tensor) -> torch.Tensor:
        _, _, w, h = x.shape  # DINO's (sic) naming: dim 2 is called w
        tokens = self.patch_embed(x)
        tokens = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), tokens), dim=1)
        return self.pos_drop(tokens + self.interpolate_pos_encoding(tokens, w, h))

    def forward_feats(self, x: torch.Tensor) -> torch.Tensor:
        """All blocks, then the final norm: (B, 1 + N, E). MP drops index 0 (CLS)."""
        x = self.prepare_tokens(x)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The final-norm CLS token (through ``head``, the identity when num_classes = 0)."""
        return self.head(self.forward_feats(x)[:, 0])

    def get_intermediate_feat(self, x: torch.Tensor, n: int = 1):
        """For each of the last ``n`` blocks: (final-norm output, attention, qkv), as 3 lists.

        Attention is (B, heads, 1+N, 1+N); qkv is (3, B, heads, 1+N, E/heads).
        """
        x = self.prepare_tokens(x)
        feats, attns, qkvs = [], [], []
        for i, blk in enumerate(self.blocks):
            qkv = blk.attn.qkv_heads(blk.norm1(x)) if len(self.blocks) - i <= n else None
            x, attn = blk(x, return_attention=True)
            if qkv is not None:
                feats.append(self.norm(x))
                attns.append(attn)
                qkvs.append(qkv)
        return feats, attns, qkvs

    def get_intermediate_layers(self, x: torch.Tensor, n: int = 1) -> list[torch.Tensor]:
        """Final-norm outputs of the last ``n`` blocks (DINO's evaluation helper)."""
        x = self.prepare_tokens(x)
        out = []
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if len(self.blocks) - i <= n:
                out.append(self.norm(x))
        return out

    def patch_tokens(self, x: torch.Tensor, blocks: Sequence[int] | None = None) -> torch.Tensor:
        """Patch tokens without CLS through the final norm.

        ``blocks=None``: the last block, (B, N, E), what MP uses. Otherwise the outputs of the
        given 0-based blocks, (len(blocks), B, N, E), what En-MP uses; blocks after the last
        requested one are not run.
        """
        x = self.prepare_tokens(x)
        if blocks is None:
            for blk in self.blocks:
                x = blk(x)
            return self.norm(x)[:, 1:]
        wanted = [int(b) % self.depth for b in blocks]
        out: dict[int, torch.Tensor] = {}
        for i, blk in enumerate(self.blocks[:max(wanted) + 1]):
            x = blk(x)
            if i in wanted:
                out[i] = self.norm(x)[:, 1:]
        return torch.stack([out[i] for i in wanted])


class PixelPatchTokens(nn.Module):
    """Offline, parameter-free stand-in for DINO: standardised, smoothed patch neighbourhoods.

    The token of a patch is its ``context``×``context``-patch neighbourhood (replicate-padded at
    the border) after a Gaussian blur of ``blur`` px, average-pooled by ``context`` back to
    C·p·p values (768 for 16-px RGB patches, the width of ViT-B), then standardised (LayerNorm
    without affine, eps 1e-6). Cosine similarity of two tokens is the normalised
    cross-correlation of the two smoothed neighbourhoods, so MP's matching becomes NCC block
    matching. The context and blur make it tolerant to sub-patch motion, which raw 16×16
    patches are not (``context=1, blur=0``: plain patch NCC). Every "block" returns the same
    tokens unless ``block_scale`` != 1: block ``b`` then blurs by ``blur * block_scale**b`` px,
    coarser with depth as ViT blocks see wider context, which gives En-MP's three blocks
    three matching scales instead of three copies of one.

    ``position`` (λ, 0 = off) appends a positional code, as ViT's position embeddings do for
    DINO's tokens: a unit vector of Gaussian bumps (``position_sigma`` patches wide) over the
    patch grid, so that cos(token_i, token_j) = (1 − λ)·NCC_ij + λ·exp(−d_ij² / 4σ²) for
    textured patches. Without it, a featureless patch (blank background of a point-light
    display, a flat wall under sensor noise) has no preferred match and the soft-argmax sends
    it to the centre of the frame: a large spurious flow. With it, such patches match
    themselves (zero flow) and a textured patch moves only where appearance outweighs
    distance — block matching with a smoothness prior.
    """

    def __init__(self, img_size: int = 224, patch_size: int = 16, in_chans: int = 3,
                 context: int = 3, blur: float = 4.0, eps: float = 1e-6, position: float = 0.0,
                 position_sigma: float = 1.0, block_scale: float = 1.0):
        super().__init__()
        if context < 1 or context % 2 == 0:
            raise ConfigError(f"pixel backbone context must be an odd number >= 1; got {context}")
        if not 0.0 <= position < 1.0 or position_sigma <= 0:
            raise ConfigError(f"pixel backbone position must be in [0, 1) and position_sigma > 0; "
                              f"got {position}, {position_sigma}")
        if block_scale <= 0:
            raise ConfigError(f"pixel backbone block_scale must be > 0; got {block_scale}")
        self.img_size, self.patch_size, self.eps = img_size, patch_size, eps
        self.context, self.blur, self.block_scale = context, float(blur), float(block_scale)
        self.position, self.position_sigma = float(position), float(position_sigma)
        self.embed_dim = self.num_features = in_chans * patch_size * patch_size
        if self.position > 0:
            side = img_size // patch_size
            g = torch.stack(torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij"),
                            -1).reshape(-1, 2).float()
            code = torch.exp(-torch.cdist(g, g) ** 2 / (2 * self.position_sigma ** 2))
            code[code < 1e-12] = 0.0  # no subnormal floats: they slow CPU GEMMs ~30x
            self.register_buffer("pos_code", F.normalize(code, dim=-1), persistent=False)
            self.embed_dim = self.num_features = self.embed_dim + side * side
        self.depth = 1
        self._kernels: dict[float, torch.Tensor | None] = {}

    @staticmethod
    def _kernel(blur: float) -> torch.Tensor | None:
        if blur <= 0:
            return None
        r = int(math.ceil(3 * blur))
        k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * blur ** 2))
        return k / k.sum()

    def _smooth(self, x: torch.Tensor, blur: float) -> torch.Tensor:
        if blur not in self._kernels:
            self._kernels[blur] = self._kernel(blur)
        k = self._kernels[blur]
        if k is None:
            return x
        c, r = x.shape[1], k.numel() // 2
        k = k.to(device=x.device, dtype=x.dtype)
        x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1),
                     groups=c)
        return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"),
                        k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)

    def patch_tokens(self, x: torch.Tensor, blocks: Sequence[int] | None = None) -> torch.Tensor:
        if blocks is not None and self.block_scale != 1.0:  # one blur per block
            return torch.stack([self._tokens(x, self.blur * self.block_scale ** b)
                                for b in blocks])
        tokens = self._tokens(x, self.blur)
        return tokens if blocks is None else tokens.unsqueeze(0).expand(len(blocks), -1, -1, -1)

    def _tokens(self, x: torch.Tensor, blur: float) -> torch.Tensor:
        p, k = self.patch_size, self.context
        x = self._smooth(x, blur)
        if k > 1:  # k×k-mean image sampled every k px over the k·p neighbourhood of each patch
            pad = (k - 1) * p // 2
            x = F.avg_pool2d(F.pad(x, (pad,) * 4, mode="replicate"), k, stride=1)
        windows = F.unfold(x, p, dilation=k, stride=p).transpose(1, 2)  # (B, N, C·p·p)
        tokens = F.layer_norm(windows, (windows.shape[-1],), eps=self.eps)
        if self.position > 0:
            app = tokens * math.sqrt((1 - self.position) / tokens.shape[-1])
            pos = self.pos_code.to(tokens.dtype) * math.sqrt(self.position)
            tokens = torch.cat([app, pos.expand(tokens.shape[0], -1, -1)], dim=-1)
        return tokens

    def forward_feats(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_tokens(x)
        return torch.cat([tokens.mean(1, keepdim=True), tokens], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.patch_tokens(x).mean(1)

    def extra_repr(self) -> str:
        return (f"patch_size={self.patch_size}, context={self.context}, blur={self.blur}, "
                f"embed_dim={self.embed_dim}")


def vit_tiny(patch_size: int = 16, **kwargs) -> VisionTransformer:
    return VisionTransformer(patch_size=patch_size, embed_dim=192, depth=12, num_heads=3,
                             mlp_ratio=4, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6),
                             **kwargs)


def vit_small(patch_size: int = 16, **kwargs) -> VisionTransformer:
    return VisionTransformer(patch_size=patch_size, embed_dim=384, depth=12, num_heads=6,
                             mlp_ratio=4, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6),
                             **kwargs)


def vit_base(patch_size: int = 16, **kwargs) -> VisionTransformer:
    return VisionTransformer(patch_size=patch_size, embed_dim=768, depth=12, num_heads=12,
                             mlp_ratio=4, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6),
                             **kwargs)


def load_dino_checkpoint(model: VisionTransformer, path: str | os.PathLike) -> None:
    """Load a DINO ViT checkpoint (``dino_vitbase16_pretrain.pth`` layout) strictly.

    Also accepts DINO's training checkpoints (``{"teacher": {"backbone.*", "head.*"}}``, the
    teacher backbone is taken). A file of another layout or size raises
    :class:`~motionscope.errors.CheckpointError` naming the file and what does not fit.
    """
    sd = read_state_dict(path)
    if any(k.startswith("backbone.") for k in sd):
        sd = {k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.")}
    if isinstance(model.head, nn.Identity):
        sd = {k: v for k, v in sd.items() if not k.startswith("head.")}
    need = ("cls_token", "pos_embed", "patch_embed.proj.weight", "norm.weight")
    lacking = [k for k in need if k not in sd]
    if lacking:
        raise CheckpointError(path, f"not a DINO ViT state_dict: no {lacking} "
                                    f"(first keys: {sorted(sd)[:5]})")
    w = sd["patch_embed.proj.weight"]
    own = model.patch_embed.proj.weight
    if w.ndim != 4 or tuple(w.shape) != tuple(own.shape):
        raise CheckpointError(
            path, f"patch embedding {tuple(w.shape)} (embed_dim {w.shape[0]}, patch "
                  f"{w.shape[-1]}) does not fit this ViT {tuple(own.shape)} (embed_dim "
                  f"{own.shape[0]}, patch {own.shape[-1]})")
    depth = 1 + max((int(k.split(".")[1]) for k in sd if k.startswith("blocks.")), default=-1)
    if depth != len(model.blocks):
        raise CheckpointError(path, f"checkpoint has {depth} blocks; this ViT has "
                                    f"{len(model.blocks)}")
    load_checked(model, sd, path=path)


BACKBONES = ("dino_vitb16", "vit_random", "pixel", "none")
#: the keyword arguments of :class:`PixelPatchTokens` that ``backbone_kwargs`` may set
PIXEL_KWARGS = ("context", "blur", "position", "position_sigma", "block_scale")


def build_backbone(name: str = "dino_vitb16", checkpoint: str | os.PathLike | None = None,
                   img_size: int = 224, patch_size: int = 16,
                   **vit_kwargs) -> nn.Module | None:
    """The frozen MP feature extractor, in eval mode with ``requires_grad=False``.

    * ``"dino_vitb16"`` with ``checkpoint``: DINO ViT-B/16 loaded from the local file. Without a
      checkpoint the offline :class:`PixelPatchTokens` is used instead (no download exists).
    * ``"vit_random"``: the ViT architecture (ViT-B/16 unless ``vit_kwargs`` say otherwise)
      with DINO's own random initialisation, or ``checkpoint`` when given.
    * ``"pixel"``: :class:`PixelPatchTokens`.
    * ``"none"``: no backbone; the model then needs precomputed tokens.
    """
    if name not in BACKBONES:
        raise ConfigError(f"unknown MP backbone {name!r} (known: {', '.join(BACKBONES)})")
    known = set(PIXEL_KWARGS) | (set(inspect.signature(VisionTransformer).parameters)
                                 - {"img_size", "patch_size", "num_classes"})
    unknown = sorted(set(vit_kwargs) - known)
    if unknown:  # e.g. `{blur:1.0}` on the command line: YAML reads it as the key "blur:1.0"
        raise ConfigError(f"model.args.backbone_kwargs: unknown key(s) {unknown} for backbone "
                          f"{name!r} (known: {', '.join(sorted(known))}); in YAML flow style write "
                          f"a space after each colon: {{blur: 1.0}}")
    if name == "none":
        return None
    if name == "dino_vitb16" and checkpoint is None:
        warnings.warn("no DINO checkpoint given: MP uses the offline pixel-patch backbone "
                      "(see docs/mp.md); pass backbone_checkpoint=<dino_vitbase16_pretrain.pth>",
                      stacklevel=3)
    if name == "pixel" or (name == "dino_vitb16" and checkpoint is None):
        pix_kw = {k: vit_kwargs[k] for k in PIXEL_KWARGS if k in vit_kwargs}
        model: nn.Module = PixelPatchTokens(img_size, patch_size, **pix_kw)
    else:
        kw = {"embed_dim": 768, "depth": 12, "num_heads": 12, "mlp_ratio": 4, "qkv_bias": True,
              "norm_layer": partial(nn.LayerNorm, eps=1e-6)}
        kw.update(vit_kwargs)
        model = VisionTransformer(img_size=img_size, patch_size=patch_size, num_classes=0, **kw)
        if checkpoint is not None:
            load_dino_checkpoint(model, checkpoint)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()
