"""ASPP-style context fusion of DAFormer's decoder ("sepaspp" when ``sep=True``).

Reproduces the behaviour and parameter names of ``ASPPWrapper`` in DAFormer (Hoyer et al., CVPR
2022, github.com/lhoyer/DAFormer), built on mmseg's (Depthwise-Separable) ASPP module: parallel
branches with the given dilations (dilation 1 -> 1x1 ConvModule; otherwise a 3x3 dilated ConvModule,
or a DepthwiseSeparableConvModule when ``sep``), an optional image-pooling branch (first in the
concatenation), then a 3x3 ``bottleneck`` ConvModule over the concatenation.  Keys:
``aspp_modules.{i}.{conv,bn}`` or ``aspp_modules.{i}.{depthwise_conv,pointwise_conv}.{conv,bn}``,
``bottleneck.{conv,bn}``, ``image_pool.1.{conv,bn}``.
"""
from typing import Optional, Sequence

import torch
from torch import nn

from mmseg_procl.models.utils import ConvModule, DepthwiseSeparableConvModule, resize


def aspp_branch(in_channels: int, channels: int, dilation: int, sep: bool,
                norm_cfg: Optional[dict], act_cfg: Optional[dict]) -> nn.Module:
    """One ASPP branch: 1x1 conv for dilation 1, else a (separable) 3x3 dilated conv."""
    if dilation == 1:
        return ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
    conv = DepthwiseSeparableConvModule if sep else ConvModule
    return conv(in_channels, channels, 3, padding=dilation, dilation=dilation, norm_cfg=norm_cfg,
                act_cfg=act_cfg)


class ASPPWrapper(nn.Module):
    """Parallel dilated branches (+ optional image pooling) fused by a 3x3 bottleneck conv."""

    def __init__(self, in_channels: int, channels: int, dilations: Sequence[int] = (1, 6, 12, 18),
                 sep: bool = True, pool: bool = False, norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU'), align_corners: bool = False) -> None:
        super().__init__()
        if not isinstance(dilations, (list, tuple)) or not dilations:
            raise ValueError('ASPPWrapper: dilations must be a non-empty list/tuple, '
                             f'got {dilations!r}')
        self.dilations, self.align_corners = tuple(dilations), align_corners
        self.image_pool = None
        if pool:
            self.image_pool = nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg))
        self.aspp_modules = nn.ModuleList(
            [aspp_branch(in_channels, channels, d, sep, norm_cfg, act_cfg) for d in dilations])
        self.bottleneck = ConvModule((len(dilations) + int(pool)) * channels, channels, 3,
                                     padding=1, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) -> (B, channels, H, W)."""
        outs = []
        if self.image_pool is not None:
            outs.append(resize(self.image_pool(x), x.shape[2:], align_corners=self.align_corners))
        outs.extend(branch(x) for branch in self.aspp_modules)
        return self.bottleneck(torch.cat(outs, dim=1))
