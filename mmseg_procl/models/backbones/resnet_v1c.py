"""ResNetV1c: deep-stem dilated ResNet with MMSegmentation's parameter names, built on timm.

Backbone of DeepLab v2 (Chen et al., "DeepLab: Semantic Image Segmentation with Deep Convolutional
Nets, Atrous Convolution, and Fully Connected CRFs", TPAMI 2018) as configured in MMSegmentation's
``ResNetV1c`` (github.com/open-mmlab/mmsegmentation, v0.x ``mmseg/models/backbones/resnet.py``) and
used by DAFormer (github.com/lhoyer/DAFormer), SePiCo (github.com/BIT-DA/SePiCo) and CLIP-ProCL
(github.com/bupt-ai-cz/CLIP-ProCL): the "C" deep stem (three 3x3 convs 3->32->32->64, BN + ReLU
each) and max-pool, bottleneck stages with the stride in the 3x3 conv ("pytorch" style), and for
output stride 8 strides (1, 2, 1, 1), dilations (1, 1, 2, 4) with contract dilation (the first block
of a dilated stage uses half the dilation).  timm's ``resnet{50,101}c`` with ``output_stride``
builds exactly this network; its modules are re-assembled here so that the state dict carries
mmseg's names: ``stem.{0,1,3,4,6,7}.*``, ``layerK.i.{conv1,bn1,conv2,bn2,conv3,bn3}.*``,
``layerK.0.downsample.{0,1}.*`` (no classifier).
"""
from typing import Optional, Sequence, Tuple, Union

import timm
import torch
from mmengine.model import BaseModule
from torch import nn

from mmseg_procl.models.backbones.resnet_checkpoint import (load_resnet_v1c_checkpoint,
                                                            resolve_checkpoint_path)
from mmseg_procl.registry import MODELS

TIMM_ARCHS = {50: 'resnet50c', 101: 'resnet101c'}
# (strides, dilations) of mmseg's 4 stages (contract dilation) -> timm output_stride
STAGE_LAYOUTS = {((1, 2, 2, 2), (1, 1, 1, 1)): 32,
                 ((1, 2, 2, 1), (1, 1, 1, 2)): 16,
                 ((1, 2, 1, 1), (1, 1, 2, 4)): 8}
NORM_LAYERS = {'BN': nn.BatchNorm2d, 'SyncBN': nn.SyncBatchNorm}


def output_stride_of(strides: Sequence[int], dilations: Sequence[int]) -> int:
    """timm ``output_stride`` equal to mmseg's stage ``strides`` / ``dilations``."""
    layout = (tuple(strides), tuple(dilations))
    if layout not in STAGE_LAYOUTS:
        raise ValueError(f'ResNetV1c: strides={layout[0]} with dilations={layout[1]} is not '
                         f'supported; expected one of {sorted(STAGE_LAYOUTS)}')
    return STAGE_LAYOUTS[layout]


def norm_layer_of(norm_cfg: dict) -> type:
    """BatchNorm class for ``norm_cfg=dict(type='BN'|'SyncBN', requires_grad=...)``."""
    kind = norm_cfg.get('type')
    if kind not in NORM_LAYERS:
        raise ValueError(f'ResNetV1c: norm_cfg type {kind!r} is not supported; '
                         f'expected one of {sorted(NORM_LAYERS)}')
    return NORM_LAYERS[kind]


def check_fixed_options(num_stages: int, style: str, contract_dilation: bool,
                        owner: str = 'ResNetV1c') -> None:
    """Reject mmseg ResNet options this implementation does not provide (ResNetV1b also builds
    ``contract_dilation=False``)."""
    if num_stages != 4:
        raise ValueError(f'{owner}: num_stages={num_stages} is not supported; expected 4')
    if style != 'pytorch':
        raise ValueError(f'{owner}: style={style!r} is not supported; expected "pytorch"')
    if not contract_dilation and owner == 'ResNetV1c':
        raise ValueError('ResNetV1c: contract_dilation=False is not supported; expected True')


@MODELS.register_module()
class ResNetV1c(BaseModule):
    """Deep-stem ResNet-50/101 (V1c) returning the stage maps, with mmseg's state-dict names."""

    def __init__(self, depth: int = 101, out_indices: Sequence[int] = (0, 1, 2, 3),
                 strides: Sequence[int] = (1, 2, 1, 1), dilations: Sequence[int] = (1, 1, 2, 4),
                 norm_cfg: dict = dict(type='BN', requires_grad=True), norm_eval: bool = False,
                 frozen_stages: int = -1, num_stages: int = 4, style: str = 'pytorch',
                 contract_dilation: bool = True, pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        if depth not in TIMM_ARCHS:
            raise ValueError(f'ResNetV1c: depth={depth} is not supported; expected one of '
                             f'{sorted(TIMM_ARCHS)}')
        if pretrained is not None and init_cfg is not None:
            raise ValueError('ResNetV1c: give either pretrained or init_cfg, not both')
        if pretrained is not None:
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        super().__init__(init_cfg)
        check_fixed_options(num_stages, style, contract_dilation, type(self).__name__)
        if not set(out_indices) <= {0, 1, 2, 3}:
            raise ValueError(f'{type(self).__name__}: out_indices={tuple(out_indices)} must lie in 0..3')
        self.depth, self.out_indices = depth, tuple(out_indices)
        self.norm_eval, self.frozen_stages = norm_eval, frozen_stages
        self.norm_requires_grad = norm_cfg.get('requires_grad', True)
        self._build(depth, tuple(strides), tuple(dilations), contract_dilation, norm_layer_of(norm_cfg))
        if not self.norm_requires_grad:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.requires_grad_(False)
        self._freeze_stages()

    def _build(self, depth: int, strides: Tuple[int, ...], dilations: Tuple[int, ...],
               contract_dilation: bool, norm_layer: type) -> None:
        """Create timm's network and keep its stem, max-pool and four stages under mmseg names."""
        net = timm.create_model(TIMM_ARCHS[depth], pretrained=False, num_classes=0,
                                output_stride=output_stride_of(strides, dilations), norm_layer=norm_layer)
        self.stem = nn.Sequential(*net.conv1, net.bn1, net.act1)
        self.maxpool = net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (net.layer1, net.layer2, net.layer3,
                                                              net.layer4)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Image (B, 3, H, W) -> stage maps at ``out_indices`` (256/512/1024/2048 channels)."""
        x = self.maxpool(self.stem_forward(x))
        outs = []
        for index, layer in enumerate((self.layer1, self.layer2, self.layer3, self.layer4)):
            x = layer(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def stem_modules(self) -> Tuple[nn.Module, ...]:
        """The stem's modules (frozen with ``frozen_stages >= 0``)."""
        return (self.stem,)

    def stem_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The stem before the max-pool (deep stem: three conv-BN-ReLU)."""
        return self.stem(x)

    def load_pretrained(self, path: str) -> None:
        """Load a pretrained file (open-mmlab / timm layouts, strict)."""
        load_resnet_v1c_checkpoint(self, path)

    def _frozen_modules(self) -> Tuple[nn.Module, ...]:
        """Stem (if ``frozen_stages >= 0``) and stages ``1..frozen_stages``."""
        if self.frozen_stages < 0:
            return ()
        stages = (self.layer1, self.layer2, self.layer3, self.layer4)[:self.frozen_stages]
        return (*self.stem_modules(), *stages)

    def _freeze_stages(self) -> None:
        """Put the frozen stages in eval mode and stop their gradients (mmseg semantics)."""
        for module in self._frozen_modules():
            module.eval()
            module.requires_grad_(False)

    def train(self, mode: bool = True) -> 'ResNetV1c':
        """Set the mode; frozen stages stay in eval, and all BN layers too if ``norm_eval``."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def init_weights(self) -> None:
        """Apply non-pretrained ``init_cfg`` entries, then load ``Pretrained`` checkpoints."""
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        cfgs = [cfg for cfg in cfgs if cfg]
        pretrained = [cfg for cfg in cfgs if cfg.get('type') == 'Pretrained']
        saved, self.init_cfg = self.init_cfg, [cfg for cfg in cfgs if cfg not in pretrained] or None
        try:
            super().init_weights()
        finally:
            self.init_cfg = saved
        for cfg in pretrained:
            self.load_pretrained(resolve_checkpoint_path(cfg['checkpoint']))
