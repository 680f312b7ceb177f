"""DepthwiseSeparableConvModule: depthwise ConvModule then pointwise 1x1 ConvModule.

Submodule names ``depthwise_conv`` / ``pointwise_conv`` as in mmcv 1.x (github.com/open-mmlab/mmcv),
used by DAFormer's ``sepaspp`` fusion (docs/checkpoints.md §2 key layout).
"""
from typing import Optional

import torch
from torch import nn

from .conv_module import ConvModule


class DepthwiseSeparableConvModule(nn.Module):
    """Depthwise k x k conv (+ norm, act) followed by a pointwise 1x1 conv (+ norm, act)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU')) -> None:
        super().__init__()
        self.depthwise_conv = ConvModule(in_channels, in_channels, kernel_size, stride, padding,
                                         dilation, groups=in_channels, norm_cfg=norm_cfg,
                                         act_cfg=act_cfg)
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg,
                                         act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """depthwise -> pointwise."""
        return self.pointwise_conv(self.depthwise_conv(x))
