"""Depthwise 3x3 convolution applied to a token sequence (the "Mix" of SegFormer's Mix-FFN).

Reproduces the behaviour of ``DWConv`` in SegFormer (Xie et al., NeurIPS 2021,
github.com/NVlabs/SegFormer) / DAFormer (Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer):
tokens are laid back onto their (H, W) grid, convolved depthwise (3x3, stride 1, padding 1, with
bias) and flattened again.  The conv is named ``dwconv`` so the checkpoint key is
``mlp.dwconv.dwconv.weight``.
"""
from typing import Tuple

import torch
from torch import nn


class TokenDepthwiseConv(nn.Module):
    """3x3 depthwise convolution over tokens (B, N, C) arranged on an (H, W) grid."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=3, stride=1, padding=1, bias=True, groups=dim)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """Convolve tokens ``x`` (B, N, C) on grid ``hw``; returns (B, N, C)."""
        b, _, c = x.shape
        grid = x.transpose(1, 2).reshape(b, c, hw[0], hw[1])
        return self.dwconv(grid).flatten(2).transpose(1, 2)
