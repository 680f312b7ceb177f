"""DLV2Head: the DeepLab v2 classifier, a sum of parallel dilated 3x3 convolutions.

DeepLab v2 (Chen et al., "DeepLab: Semantic Image Segmentation with Deep Convolutional Nets, Atrous
Convolution, and Fully Connected CRFs", TPAMI 2018) predicts class logits directly with one
dilated convolution per rate and sums them (no BN, activation or dropout).  Parameter names and
initialisation follow DAFormer's ``DLV2Head`` (github.com/lhoyer/DAFormer,
``mmseg/models/decode_heads/dlv2_head.py``), used by SePiCo and CLIP-ProCL: the branches are
``aspp_modules.{i}.conv.{weight,bias}`` (mmseg ``ASPPModule`` convention: a 1x1 conv for rate 1,
a 3x3 conv with padding = rate otherwise), the base class's ``conv_seg`` is removed, and the
branches are initialised Normal(0, 0.01) with zero bias.  ``dilations=(6, 12)`` is the "reduced"
head of earlier UDA code (DAFormer's ``deeplabv2red``, CLIP-ProCL); ``(6, 12, 18, 24)`` is the full
DeepLab v2 head (SePiCo's ``dlv2_proj``).
"""
from typing import Optional, Sequence, Union

import torch
from torch import nn

from mmseg_procl.models.decode_heads.decode_head import BaseDecodeHead
from mmseg_procl.models.utils import ConvModule
from mmseg_procl.registry import MODELS


def dilated_branch(in_channels: int, out_channels: int, dilation: int) -> ConvModule:
    """One branch: biased conv without norm/activation (1x1 for rate 1, else 3x3 dilated)."""
    kernel_size = 1 if dilation == 1 else 3
    padding = 0 if dilation == 1 else dilation
    return ConvModule(in_channels, out_channels, kernel_size=kernel_size, padding=padding,
                      dilation=dilation, bias=True, norm_cfg=None, act_cfg=None)


@MODELS.register_module()
class DLV2Head(BaseDecodeHead):
    """DeepLab v2 head: logits = sum over rates of a dilated conv of the selected backbone map."""

    def __init__(self, in_channels: int = 2048, num_classes: int = 19,
                 dilations: Sequence[int] = (6, 12, 18, 24), in_index: int = 3,
                 loss_decode: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 ignore_index: int = 255, align_corners: bool = False,
                 init_cfg: Optional[Union[dict, list]] = dict(
                     type='Normal', std=0.01, override=dict(name='aspp_modules'))) -> None:
        if not isinstance(dilations, (list, tuple)) or not dilations:
            raise ValueError(f'DLV2Head: dilations must be a non-empty list/tuple, '
                             f'got {dilations!r}')
        super().__init__(in_channels=in_channels, channels=1, num_classes=num_classes,
                         dropout_ratio=0.0, norm_cfg=None, in_index=in_index, input_transform=None,
                         loss_decode=loss_decode, ignore_index=ignore_index,
                         align_corners=align_corners, init_cfg=init_cfg)
        del self.conv_seg
        self.dilations = tuple(dilations)
        self.aspp_modules = nn.ModuleList(
            dilated_branch(in_channels, num_classes, d) for d in self.dilations)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Backbone maps -> (B, num_classes, h, w) logits at the selected map's resolution."""
        x = self._transform_inputs(inputs)
        out = self.aspp_modules[0](x)
        for branch in self.aspp_modules[1:]:
            out = out + branch(x)
        return out
