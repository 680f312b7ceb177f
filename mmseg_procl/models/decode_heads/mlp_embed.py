"""Per-pixel Linear embedding of a feature map (the "MLP" layer of SegFormer / DAFormer decoders).

Reproduces the behaviour of ``MLP`` in SegFormer's head (Xie et al., NeurIPS 2021,
github.com/NVlabs/SegFormer) as used by DAFormer (Hoyer et al., CVPR 2022,
github.com/lhoyer/DAFormer): one ``nn.Linear`` named ``proj`` applied to every pixel.  Unlike the
original (which returns tokens that the head reshapes), this module returns the embedded map (B, D,
H, W) directly; parameters are the same.
"""
import torch
from torch import nn


class MLPEmbed(nn.Module):
    """Linear projection of every pixel's channel vector: (B, C, H, W) -> (B, D, H, W)."""

    def __init__(self, in_channels: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_channels, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project each pixel of ``x`` (B, C, H, W)."""
        b, _, h, w = x.shape
        tokens = self.proj(x.flatten(2).transpose(1, 2))
        return tokens.transpose(1, 2).reshape(b, self.proj.out_features, h, w)
