"""SegFormerHead: the all-MLP decoder of SegFormer in DAFormer's module layout.

Reproduces the behaviour, config interface and parameter names of ``SegFormerHead`` as vendored by
DAFormer (Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer) from SegFormer (Xie et al., NeurIPS
2021, github.com/NVlabs/SegFormer): ``linear_c[str(i)]`` per-pixel Linear embeddings to
``embed_dim`` (keys ``linear_c.{i}.proj.*``; NVlabs' own file names them ``linear_c4..linear_c1``),
resize to the first level, concatenation, ``linear_fuse`` ConvModule (``conv_kernel_size``, default
1, + norm + ReLU), dropout and the ``linear_pred`` 1x1 classifier.  As in the original, the base
class's ``conv_seg`` exists (and is in the state dict) but is unused, so DDP needs
``find_unused_parameters=True``.
"""
from typing import Optional, Sequence

import torch
from torch import nn

from mmseg_procl.models.utils import ConvModule, resize
from mmseg_procl.registry import MODELS
from .decode_head import BaseDecodeHead
from .mlp_embed import MLPEmbed

DECODER_PARAM_KEYS = ('embed_dim', 'conv_kernel_size')


@MODELS.register_module()
class SegFormerHead(BaseDecodeHead):
    """SegFormer decoder: per-level Linear embeddings, concatenation, 1x1 fuse conv, classifier."""

    def __init__(self, decoder_params: dict, input_transform: Optional[str] = 'multiple_select',
                 **kwargs) -> None:
        """``decoder_params=dict(embed_dim=..., conv_kernel_size=1)``; ``kwargs`` go to the base."""
        if input_transform != 'multiple_select':
            raise ValueError("SegFormerHead needs input_transform='multiple_select', "
                             f'got {input_transform!r}')
        unknown = sorted(set(decoder_params) - set(DECODER_PARAM_KEYS))
        if unknown or 'embed_dim' not in decoder_params:
            raise ValueError(f'SegFormerHead decoder_params {dict(decoder_params)}: expected keys '
                             f'{DECODER_PARAM_KEYS} with embed_dim required')
        super().__init__(input_transform='multiple_select', **kwargs)
        embed_dim = decoder_params['embed_dim']
        kernel = decoder_params.get('conv_kernel_size', 1)
        self.linear_c = nn.ModuleDict(
            {str(level): MLPEmbed(in_ch, embed_dim)
             for level, in_ch in zip(self.in_index, self.in_channels)})
        self.linear_fuse = ConvModule(embed_dim * len(self.in_index), embed_dim, kernel,
                                      padding=0 if kernel == 1 else kernel // 2,
                                      norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.linear_pred = nn.Conv2d(embed_dim, self.num_classes, kernel_size=1)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Backbone maps -> logits (B, num_classes, H/4, W/4)."""
        feats = self._transform_inputs(inputs)
        size = feats[0].shape[2:]
        embedded = []
        for level, feat in zip(self.in_index, feats):
            emb = self.linear_c[str(level)](feat)
            if emb.shape[2:] != size:
                emb = resize(emb, size, align_corners=False)
            embedded.append(emb)
        x = self.linear_fuse(torch.cat(embedded, dim=1))
        if self.dropout is not None:
            x = self.dropout(x)
        return self.linear_pred(x)
