"""ConvModule: conv -> norm -> activation with mmcv's submodule names (``conv``, ``bn`` / ``gn`` / ``ln``).

Same parameter names and default initialisation as mmcv 1.x ``ConvModule`` (github.com/open-mmlab/mmcv)
so that mmseg 0.x / DAFormer-family checkpoints load by name: the conv gets Kaiming-normal
(fan_out, ReLU gain) init, the norm weight 1 and bias 0; ``bias='auto'`` drops the conv bias when a
norm layer follows.
"""
from typing import Optional, Union

import torch
from torch import nn

from mmseg_procl.models.utils.layers import build_activation, build_norm


class ConvModule(nn.Module):
    """A 2-D convolution optionally followed by a normalisation layer and an activation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1, bias: Union[bool, str] = 'auto',
                 norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = dict(type='ReLU')) -> None:
        super().__init__()
        if bias == 'auto':
            bias = norm_cfg is None
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation,
                              groups, bias=bias)
        self.norm_name = None
        if norm_cfg is not None:
            self.norm_name, norm = build_norm(norm_cfg, out_channels)
            self.add_module(self.norm_name, norm)
        self.activate = build_activation(act_cfg) if act_cfg is not None else None
        self.init_weights()

    @property
    def norm(self) -> Optional[nn.Module]:
        """The normalisation layer, if any."""
        return getattr(self, self.norm_name) if self.norm_name else None

    def init_weights(self) -> None:
        """Kaiming-normal conv (fan_out, ReLU), constant norm (1, 0), zero conv bias."""
        nn.init.kaiming_normal_(self.conv.weight, a=0, mode='fan_out', nonlinearity='relu')
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)
        if self.norm is not None:
            nn.init.ones_(self.norm.weight)
            nn.init.zeros_(self.norm.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """conv -> norm -> activation."""
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.activate is not None:
            x = self.activate(x)
        return x
