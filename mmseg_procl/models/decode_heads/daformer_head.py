"""DAFormerHead: per-level embeddings, resize to 1/4, concatenation and context-aware fusion.

Reproduces the behaviour, config interface (``decoder_params``) and parameter names of
``DAFormerHead`` in DAFormer (Hoyer et al., "DAFormer: Improving Network Architectures and Training
Strategies for Domain-Adaptive Semantic Segmentation", CVPR 2022, github.com/lhoyer/DAFormer), on
top of SegFormer's MLP decoder idea (Xie et al., NeurIPS 2021, github.com/NVlabs/SegFormer).  Each
selected backbone level ``i`` goes through ``embed_layers[str(i)]`` (the last level through
``embed_neck_cfg``), is resized bilinearly to the first level's size, the maps are concatenated and
fused by ``fuse_layer`` into ``channels`` maps, then dropout + ``conv_seg``.  Layer types: ``id``,
``mlp`` (per-pixel Linear), ``conv``, ``sep_conv`` (padding ``kernel_size // 2``) and ``aspp``
(:class:`ASPPWrapper`); the released DAFormer uses ``mlp`` embeddings with ``aspp`` (``sep=True``,
dilations 1/6/12/18, no pooling) fusion, its "conv1" ablation a 1x1 ``conv`` fusion.
"""
from typing import Optional, Sequence

import torch
from torch import nn

from mmseg_procl.models.utils import ConvModule, DepthwiseSeparableConvModule, resize
from mmseg_procl.registry import MODELS
from .aspp_wrapper import ASPPWrapper
from .decode_head import BaseDecodeHead
from .mlp_embed import MLPEmbed

DECODER_PARAM_KEYS = ('embed_dims', 'embed_cfg', 'embed_neck_cfg', 'fusion_cfg')
LAYER_TYPES = ('id', 'mlp', 'conv', 'sep_conv', 'aspp')


def reject_options(role: str, kind: str, options: dict) -> None:
    """Raise if a layer type that has no options got some that are not None."""
    used = {k: v for k, v in options.items() if v is not None}
    if used:
        raise ValueError(f'DAFormerHead {role}: type {kind!r} takes no options, got {used}')


def build_daformer_layer(role: str, in_channels: int, out_channels: int, cfg: dict,
                         align_corners: bool) -> nn.Module:
    """Build an embedding or fusion layer from ``cfg=dict(type=<one of LAYER_TYPES>, ...)``."""
    options = dict(cfg)
    kind = options.pop('type', None)
    if kind not in LAYER_TYPES:
        raise ValueError(f'DAFormerHead {role}: layer type {kind!r} is not supported; expected one '
                         f'of {LAYER_TYPES}')
    if kind in ('id', 'mlp'):
        reject_options(role, kind, options)
        if kind == 'mlp':
            return MLPEmbed(in_channels, out_channels)
        if in_channels != out_channels:
            raise ValueError(f'DAFormerHead {role}: type id needs in_channels == embed dim, got '
                             f'{in_channels} and {out_channels}')
        return nn.Identity()
    if kind == 'aspp':
        given = options.pop('align_corners', align_corners)
        if given != align_corners:
            raise ValueError(f'DAFormerHead {role}: align_corners={given} differs from the head '
                             f'({align_corners})')
        return ASPPWrapper(in_channels, out_channels, align_corners=align_corners, **options)
    if 'kernel_size' not in options:
        raise ValueError(f'DAFormerHead {role}: type {kind!r} needs kernel_size, got {cfg!r}')
    conv = ConvModule if kind == 'conv' else DepthwiseSeparableConvModule
    return conv(in_channels, out_channels, padding=options['kernel_size'] // 2, **options)


def parse_decoder_params(decoder_params: dict, num_levels: int) -> dict:
    """Validated ``decoder_params``: per-level embed dims list and the three layer configs."""
    unknown = sorted(set(decoder_params) - set(DECODER_PARAM_KEYS))
    missing = [k for k in ('embed_dims', 'embed_cfg', 'fusion_cfg') if k not in decoder_params]
    if unknown or missing:
        raise ValueError(f'DAFormerHead decoder_params: unknown keys {unknown}, missing keys '
                         f'{missing}; expected keys {DECODER_PARAM_KEYS}')
    dims = decoder_params['embed_dims']
    dims = [dims] * num_levels if isinstance(dims, int) else list(dims)
    if len(dims) != num_levels:
        raise ValueError(f'DAFormerHead decoder_params.embed_dims {dims} needs {num_levels} '
                         'entries (one per in_index)')
    neck = decoder_params.get('embed_neck_cfg', 'same_as_embed_cfg')
    if neck == 'same_as_embed_cfg':
        neck = decoder_params['embed_cfg']
    return dict(embed_dims=dims, embed_cfg=decoder_params['embed_cfg'], embed_neck_cfg=neck,
                fusion_cfg=decoder_params['fusion_cfg'])


@MODELS.register_module()
class DAFormerHead(BaseDecodeHead):
    """DAFormer decoder: MLP embeddings of all levels fused by (separable) ASPP or a conv."""

    def __init__(self, decoder_params: dict, input_transform: Optional[str] = 'multiple_select',
                 **kwargs) -> None:
        """``kwargs`` go to :class:`BaseDecodeHead` (in_channels, in_index, channels, ...)."""
        if input_transform != 'multiple_select':
            raise ValueError("DAFormerHead needs input_transform='multiple_select', "
                             f'got {input_transform!r}')
        super().__init__(input_transform='multiple_select', **kwargs)
        if self.align_corners:
            raise ValueError('DAFormerHead: align_corners=True is not supported (the original '
                             'asserts align_corners=False)')
        levels, channels = list(self.in_index), list(self.in_channels)
        if len(levels) != len(channels):
            raise ValueError(f'DAFormerHead: in_index {levels} and in_channels {channels} must '
                             'have the same length')
        params = parse_decoder_params(decoder_params, len(levels))
        self.embed_layers = nn.ModuleDict()
        for pos, (level, in_ch, dim) in enumerate(zip(levels, channels, params['embed_dims'])):
            is_last = pos == len(levels) - 1
            cfg = params['embed_neck_cfg'] if is_last else params['embed_cfg']
            self.embed_layers[str(level)] = build_daformer_layer(
                f'embed_layers.{level}', in_ch, dim, cfg, self.align_corners)
        self.fuse_layer = build_daformer_layer('fuse_layer', sum(params['embed_dims']),
                                               self.channels, params['fusion_cfg'],
                                               self.align_corners)

    def fused_features(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Embedded levels resized to the first level's size, concatenated and fused."""
        feats = self._transform_inputs(inputs)
        size = feats[0].shape[2:]
        embedded = []
        for level, feat in zip(self.in_index, feats):
            emb = self.embed_layers[str(level)](feat)
            if emb.shape[2:] != size:
                emb = resize(emb, size, align_corners=self.align_corners)
            embedded.append(emb)
        return self.fuse_layer(torch.cat(embedded, dim=1))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Four backbone maps -> logits (B, num_classes, H/4, W/4)."""
        return self.cls_seg(self.fused_features(inputs))
