"""Efficient (spatial-reduction) multi-head self-attention of the Mix Transformer.

Reproduces the behaviour of ``Attention`` in SegFormer (Xie et al., NeurIPS 2021,
github.com/NVlabs/SegFormer), the MiT backbone of DAFormer (Hoyer et al., CVPR 2022,
github.com/lhoyer/DAFormer): queries come from every token; keys and values come from the token map
downsampled by an ``sr x sr`` stride-``sr`` convolution followed by LayerNorm (default eps 1e-5, as
the original) when ``sr_ratio > 1``.  ``softmax(q k^T * scale) v`` is evaluated with
``F.scaled_dot_product_attention`` (same maths, memory-efficient kernels on GPU); dropout on the
attention probabilities follows the mode of the ``attn_drop`` Dropout module (as the original's
``nn.Dropout``), so that an EMA teacher that switches its Dropout modules off runs without it.
Parameter names ``q``, ``kv``, ``proj``, ``sr``, ``norm`` match the released ``mit_b*.pth`` files.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn


class EfficientSelfAttention(nn.Module):
    """Multi-head self-attention whose keys/values are spatially reduced by ``sr_ratio``."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True,
                 qk_scale: Optional[float] = None, attn_drop: float = 0.0, proj_drop: float = 0.0,
                 sr_ratio: int = 1) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f'EfficientSelfAttention: dim {dim} must be divisible by '
                             f'num_heads {num_heads}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = qk_scale or self.head_dim ** -0.5
        self.attn_drop = nn.Dropout(attn_drop)       # its p and mode drive the fused kernel's dropout
        self.sr_ratio = sr_ratio
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dim)

    def reduced_tokens(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """Tokens keys/values are computed from: ``x`` itself, or its sr-reduced, normalised map."""
        if self.sr_ratio == 1:
            return x
        b, _, c = x.shape
        grid = x.transpose(1, 2).reshape(b, c, hw[0], hw[1])
        return self.norm(self.sr(grid).flatten(2).transpose(1, 2))

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """Attend from tokens ``x`` (B, N, C) on grid ``hw`` = (H, W); returns (B, N, C)."""
        b, n, c = x.shape
        q = self.q(x).reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        kv = self.kv(self.reduced_tokens(x, hw))
        k, v = kv.reshape(b, -1, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        drop = self.attn_drop.p if self.attn_drop.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, scale=self.scale)
        out = out.transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(out))
