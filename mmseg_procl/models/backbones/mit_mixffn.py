"""Mix-FFN of the Mix Transformer: Linear -> depthwise 3x3 conv -> GELU -> Linear.

Reproduces the behaviour of ``Mlp`` in SegFormer (Xie et al., NeurIPS 2021,
github.com/NVlabs/SegFormer) / DAFormer (Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer),
including dropout after the activation and after the second Linear.  Parameter names ``fc1``,
``dwconv.dwconv``, ``fc2`` match ``mit_b*.pth``.
"""
from typing import Tuple

import torch
from torch import nn

from .mit_dwconv import TokenDepthwiseConv


class MixFFN(nn.Module):
    """Feed-forward network with a depthwise conv between its two Linear layers."""

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.dwconv = TokenDepthwiseConv(hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """Tokens (B, N, C) on grid ``hw`` -> tokens (B, N, C)."""
        x = self.drop(self.act(self.dwconv(self.fc1(x), hw)))
        return self.drop(self.fc2(x))
