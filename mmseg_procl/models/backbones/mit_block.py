"""Transformer block of the Mix Transformer (pre-norm attention + Mix-FFN with stochastic depth).

Reproduces the behaviour of ``Block`` in SegFormer (Xie et al., NeurIPS 2021,
github.com/NVlabs/SegFormer) / DAFormer (Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer):
``x = x + DropPath(Attn(LN1(x)))`` then ``x = x + DropPath(MixFFN(LN2(x)))``; the same DropPath
probability is used for both residual branches and an identity is used when it is 0.
"""
from typing import Optional, Tuple

import torch
from timm.layers import DropPath
from torch import nn

from .mit_attention import EfficientSelfAttention
from .mit_mixffn import MixFFN


class MiTBlock(nn.Module):
    """One pre-norm block: efficient self-attention and Mix-FFN, each a residual branch."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 qk_scale: Optional[float] = None, drop: float = 0.0, attn_drop: float = 0.0,
                 drop_path: float = 0.0, sr_ratio: int = 1, norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = EfficientSelfAttention(dim, num_heads, qkv_bias=qkv_bias, qk_scale=qk_scale,
                                           attn_drop=attn_drop, proj_drop=drop, sr_ratio=sr_ratio)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = MixFFN(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """Tokens (B, N, C) on grid ``hw`` -> tokens (B, N, C)."""
        x = x + self.drop_path(self.attn(self.norm1(x), hw))
        return x + self.drop_path(self.mlp(self.norm2(x), hw))
