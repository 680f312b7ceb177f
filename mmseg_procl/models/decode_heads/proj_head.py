"""ProjHead: the pixel-embedding projection head of SePiCo and CLIP-ProCL (embeddings only).

The head maps backbone features to per-pixel embeddings for contrastive / alignment objectives;
those objectives live in ``mmseg_procl.models.losses`` / ``mmseg_procl.uda.objectives`` (docs/design.md),
so the head computes no loss.  A stack of ``num_convs`` ConvModules (conv -> BN -> ReLU), then an
L2 normalisation over channels, as in

* SePiCo (Xie et al., "SePiCo: Semantic-Guided Pixel Contrast for Domain Adaptive Semantic
  Segmentation", TPAMI 2023; github.com/BIT-DA/SePiCo ``mmseg/models/decode_heads/proj_head.py``):
  DeepLab v2 ``ProjHead(in_channels=2048, in_index=3, channels=512, num_convs=2, kernel_size=1)``:
  ``convs.0`` 1x1 2048->2048 + BN + ReLU, ``convs.1`` 1x1 2048->512 + BN + ReLU, L2 normalised
  (5,248,000 parameters); DAFormer ``ProjHead(in_channels=[64, 128, 320, 512],
  in_index=[0, 1, 2, 3], input_transform='resize_concat', channels=256, num_convs=2,
  kernel_size=1)``: 1x1 1024->256 and 1x1 256->256, each + BN + ReLU, L2 normalised (328,704).
* CLIP-ProCL (github.com/bupt-ai-cz/CLIP-ProCL ``mmseg/models/decode_heads/proj_head.py``,
  ``configs/clip_procl/gta2cs_resnet.py``): ``ProjHead(in_channels=2048, in_index=3, channels=512,
  num_convs=1, kernel_size=3, keep_conv_seg=True, num_classes=19)``: ``convs.0`` 3x3 (padding 1)
  2048->512 + BN + ReLU, L2 normalised; plus a 1x1 ``conv_seg`` 512->19 that the original inherits
  from its base class and never uses, kept so that released checkpoints load by name (9,447,955).

Both originals normalise inside the head; the embeddings follow a ReLU, so they are non-negative.
The intermediate width is ``in_channels`` (``sum(in_channels) // len(in_index)`` for
``resize_concat``), per level ``in_channels[i]`` for ``multiple_select`` (keys
``convs.{level}.{k}.*``).
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from mmseg_procl.models.utils import ConvModule, resize
from mmseg_procl.registry import MODELS

INPUT_TRANSFORMS = (None, 'resize_concat', 'multiple_select')


def conv_stack(in_channels: int, mid_channels: int, out_channels: int, num_convs: int,
               kernel_size: int, dilation: int, norm_cfg: Optional[dict],
               act_cfg: Optional[dict]) -> nn.Module:
    """``num_convs`` ConvModules in -> mid -> ... -> mid -> out (Identity when 0)."""
    if num_convs == 0:
        if in_channels != out_channels:
            raise ValueError(f'ProjHead: num_convs=0 needs in_channels == channels, got '
                             f'{in_channels} and {out_channels}')
        return nn.Identity()
    widths = [in_channels] + [mid_channels] * (num_convs - 1) + [out_channels]
    padding = (kernel_size // 2) * dilation
    return nn.Sequential(*(
        ConvModule(widths[i], widths[i + 1], kernel_size=kernel_size, padding=padding,
                   dilation=dilation, norm_cfg=norm_cfg, act_cfg=act_cfg)
        for i in range(num_convs)))


def check_inputs(in_channels, in_index, input_transform: Optional[str]) -> None:
    """Raise unless ``in_channels`` / ``in_index`` fit ``input_transform``."""
    if input_transform not in INPUT_TRANSFORMS:
        raise ValueError(f'ProjHead: input_transform={input_transform!r}; expected one of '
                         f'{INPUT_TRANSFORMS}')
    if input_transform is None:
        if not isinstance(in_channels, int) or not isinstance(in_index, int):
            raise TypeError(f'ProjHead: input_transform=None needs int in_channels and in_index, '
                            f'got {in_channels!r} and {in_index!r}')
    elif not (isinstance(in_channels, (list, tuple)) and isinstance(in_index, (list, tuple))
              and len(in_channels) == len(in_index)):
        raise TypeError(f'ProjHead: input_transform={input_transform!r} needs in_channels and '
                        f'in_index lists of equal length, got {in_channels!r} and {in_index!r}')


@MODELS.register_module()
class ProjHead(BaseModule):
    """Projection head: ConvModule stack -> optional L2 normalisation; computes no loss."""

    def __init__(self, in_channels: Union[int, Sequence[int]] = 2048, channels: int = 512,
                 num_convs: int = 2, kernel_size: int = 1, dilation: int = 1,
                 mid_channels: Optional[int] = None, in_index: Union[int, Sequence[int]] = 3,
                 input_transform: Optional[str] = None,
                 norm_cfg: Optional[dict] = dict(type='BN', requires_grad=True),
                 act_cfg: Optional[dict] = dict(type='ReLU'), normalize: bool = True,
                 keep_conv_seg: bool = False, num_classes: Optional[int] = None,
                 align_corners: bool = False, init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg)
        check_inputs(in_channels, in_index, input_transform)
        if num_convs < 0:
            raise ValueError(f'ProjHead: num_convs must be >= 0, got {num_convs}')
        if keep_conv_seg and num_classes is None:
            raise ValueError('ProjHead: keep_conv_seg=True needs num_classes')
        self.in_channels, self.in_index = in_channels, in_index
        self.input_transform = input_transform
        self.channels, self.num_convs, self.normalize = channels, num_convs, normalize
        self.align_corners = align_corners
        self.convs = self._build_convs(mid_channels, kernel_size, dilation, norm_cfg, act_cfg)
        if keep_conv_seg:
            self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
            nn.init.normal_(self.conv_seg.weight, mean=0.0, std=0.01)
            nn.init.zeros_(self.conv_seg.bias)

    def _build_convs(self, mid_channels: Optional[int], kernel_size: int, dilation: int,
                     norm_cfg: Optional[dict], act_cfg: Optional[dict]) -> nn.Module:
        """One stack (single / resize_concat input) or one stack per level (multiple_select)."""
        stack = dict(num_convs=self.num_convs, kernel_size=kernel_size, dilation=dilation,
                     norm_cfg=norm_cfg, act_cfg=act_cfg)
        if self.input_transform == 'multiple_select':
            return nn.ModuleList(conv_stack(c, mid_channels or c, self.channels, **stack)
                                 for c in self.in_channels)
        if self.input_transform == 'resize_concat':
            total = sum(self.in_channels)
            return conv_stack(total, mid_channels or total // len(self.in_index), self.channels,
                              **stack)
        return conv_stack(self.in_channels, mid_channels or self.in_channels, self.channels,
                          **stack)

    def _select_inputs(self, inputs: Sequence[torch.Tensor]) -> Union[torch.Tensor, List]:
        """Selected backbone level(s); ``resize_concat`` resizes to the first and concatenates."""
        if self.input_transform is None:
            return inputs[self.in_index]
        feats = [inputs[i] for i in self.in_index]
        if self.input_transform == 'multiple_select':
            return feats
        size = feats[0].shape[2:]
        return torch.cat([resize(f, size, align_corners=self.align_corners) for f in feats], dim=1)

    def _embed(self, convs: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Conv stack, then L2 normalisation over channels if ``normalize``."""
        x = convs(x)
        return F.normalize(x, p=2, dim=1) if self.normalize else x

    def forward(self, inputs: Sequence[torch.Tensor]) -> Union[torch.Tensor, List[torch.Tensor]]:
        """Backbone maps -> (B, channels, h, w) embeddings (one per level for multiple_select)."""
        x = self._select_inputs(inputs)
        if self.input_transform == 'multiple_select':
            return [self._embed(convs, feat) for convs, feat in zip(self.convs, x)]
        return self._embed(self.convs, x)
