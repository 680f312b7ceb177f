"""Overlapping patch embedding of the Mix Transformer (MiT) encoder.

Reproduces the behaviour of ``OverlapPatchEmbed`` in SegFormer (Xie et al., NeurIPS 2021,
github.com/NVlabs/SegFormer) as used by DAFormer (Hoyer et al., CVPR 2022,
github.com/lhoyer/DAFormer): a strided convolution with ``padding = kernel // 2`` (so neighbouring
patches overlap) followed by a LayerNorm over channels.  The LayerNorm keeps PyTorch's default eps
(1e-5) because the original builds it with plain ``nn.LayerNorm`` (only the block / stage norms use
eps 1e-6).  Parameter names ``proj`` / ``norm`` match the released ``mit_b*.pth`` files.
"""
from typing import Tuple

import torch
from torch import nn


class OverlapPatchEmbed(nn.Module):
    """Strided k x k conv + LayerNorm turning a (B, C, H, W) map into (B, H'W', D) tokens."""

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int, stride: int,
                 norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=stride,
                              padding=patch_size // 2)
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Return the normalised tokens (B, H'W', D) and the token grid size (H', W')."""
        x = self.proj(x)
        hw = (x.shape[2], x.shape[3])
        tokens = x.flatten(2).transpose(1, 2)
        return self.norm(tokens), hw
