"""Mix Transformer (MiT) encoder of SegFormer, the backbone of DAFormer.

Reproduces the behaviour and the parameter names of ``MixVisionTransformer`` in SegFormer (Xie et
al., "SegFormer: Simple and Efficient Design for Semantic Segmentation with Transformers", NeurIPS
2021, github.com/NVlabs/SegFormer) as vendored by DAFormer (Hoyer et al., CVPR 2022,
github.com/lhoyer/DAFormer), so that SegFormer's ImageNet ``mit_b*.pth`` files and DAFormer-family
checkpoints load by name: ``patch_embed{1-4}``, ``block{1-4}.{i}``, ``norm{1-4}`` (no classifier
``head``).

Four stages; stage ``s`` embeds its input with an overlapping patch embedding (7x7/4 for the first
stage, 3x3/2 afterwards), runs ``depths[s]`` blocks and closes with a LayerNorm (eps ``norm_eps``);
the output is the list of the four maps (B, C_s, H/4, H/8, H/16, H/32 resolution).  Stochastic depth
grows linearly from 0 to ``drop_path_rate`` over all blocks.  Initialisation as the original: Linear
trunc-normal(std 0.02) with zero bias, LayerNorm weight 1 / bias 0, Conv2d normal(0, sqrt(2 /
fan_out)) with zero bias.  Pretrained weights (``pretrained=path`` or
``init_cfg=dict(type='Pretrained', checkpoint=path)``) are loaded in ``init_weights`` through
:func:`load_mit_pretrained`, which checks every backbone key and shape.
"""
import math
from typing import List, Optional, Sequence

import torch
from mmengine.model import BaseModule
from timm.layers import trunc_normal_
from torch import nn

from mmseg_procl.registry import MODELS
from .mit_block import MiTBlock
from .mit_checkpoint import load_mit_pretrained
from .mit_patch_embed import OverlapPatchEmbed

NUM_STAGES = 4


def init_mit_module(module: nn.Module) -> None:
    """Initialise one Linear / LayerNorm / Conv2d module as SegFormer's ``_init_weights``."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
        fan_out //= module.groups
        nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def stochastic_depth_rates(depths: Sequence[int], drop_path_rate: float) -> List[float]:
    """Per-block DropPath probabilities, linear from 0 to ``drop_path_rate`` over all blocks."""
    return [float(r) for r in torch.linspace(0, drop_path_rate, sum(depths), device='cpu')]


def pretrained_path(pretrained: Optional[str], init_cfg) -> Optional[str]:
    """The checkpoint path asked for by ``pretrained`` or a ``Pretrained`` init_cfg, else None."""
    if pretrained is not None and init_cfg is not None:
        raise ValueError('MixVisionTransformer: set either pretrained or init_cfg, not both '
                         f'(got pretrained={pretrained!r}, init_cfg={init_cfg!r})')
    if pretrained is not None:
        if not isinstance(pretrained, str):
            raise TypeError(f'MixVisionTransformer: pretrained must be a path str or None, '
                            f'got {type(pretrained).__name__}')
        return pretrained
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        if not init_cfg.get('checkpoint'):
            raise ValueError(f"MixVisionTransformer: init_cfg {init_cfg!r} of type 'Pretrained' "
                             "needs a 'checkpoint' path")
        return init_cfg['checkpoint']
    return None


def check_stage_lists(**lists: Sequence) -> None:
    """Raise if any per-stage setting does not have exactly four entries."""
    for name, values in lists.items():
        if len(values) != NUM_STAGES:
            raise ValueError(f'MixVisionTransformer: {name} needs {NUM_STAGES} entries '
                             f'(one per stage), got {list(values)}')


@MODELS.register_module()
class MixVisionTransformer(BaseModule):
    """SegFormer's hierarchical Mix Transformer encoder returning four feature maps."""

    def __init__(self, in_channels: int = 3, embed_dims: Sequence[int] = (64, 128, 320, 512),
                 num_heads: Sequence[int] = (1, 2, 5, 8),
                 mlp_ratios: Sequence[float] = (4, 4, 4, 4),
                 depths: Sequence[int] = (3, 6, 40, 3), sr_ratios: Sequence[int] = (8, 4, 2, 1),
                 qkv_bias: bool = True, qk_scale: Optional[float] = None, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.1, norm_eps: float = 1e-6,
                 style: Optional[str] = None, pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        """Defaults are MiT-B5.  ``style`` is accepted (and ignored) for DAFormer configs."""
        super().__init__(init_cfg)
        check_stage_lists(embed_dims=embed_dims, num_heads=num_heads, mlp_ratios=mlp_ratios,
                          depths=depths, sr_ratios=sr_ratios)
        self.pretrained = pretrained
        self.checkpoint_path = pretrained_path(pretrained, init_cfg)
        self.embed_dims, self.depths = tuple(embed_dims), tuple(depths)
        rates = stochastic_depth_rates(depths, drop_path_rate)
        first = 0
        for s in range(NUM_STAGES):
            stage_in = in_channels if s == 0 else embed_dims[s - 1]
            patch, stride = (7, 4) if s == 0 else (3, 2)
            self.add_module(f'patch_embed{s + 1}',
                            OverlapPatchEmbed(stage_in, embed_dims[s], patch, stride))
            blocks = [MiTBlock(embed_dims[s], num_heads[s], mlp_ratio=mlp_ratios[s],
                               qkv_bias=qkv_bias, qk_scale=qk_scale, drop=drop_rate,
                               attn_drop=attn_drop_rate, drop_path=rates[first + i],
                               sr_ratio=sr_ratios[s], norm_eps=norm_eps)
                      for i in range(depths[s])]
            self.add_module(f'block{s + 1}', nn.ModuleList(blocks))
            self.add_module(f'norm{s + 1}', nn.LayerNorm(embed_dims[s], eps=norm_eps))
            first += depths[s]
        self.apply(init_mit_module)

    def init_weights(self) -> None:
        """Load the configured pretrained file (checked key by key), else apply ``init_cfg``."""
        if self.checkpoint_path is not None:
            load_mit_pretrained(self, self.checkpoint_path)
        elif self.init_cfg:
            super().init_weights()
        self._is_init = True

    def forward_stage(self, s: int, x: torch.Tensor) -> torch.Tensor:
        """Run stage ``s`` (0-based) on a (B, C, H, W) map; returns its (B, C_s, H', W') output."""
        tokens, hw = getattr(self, f'patch_embed{s + 1}')(x)
        for block in getattr(self, f'block{s + 1}'):
            tokens = block(tokens, hw)
        tokens = getattr(self, f'norm{s + 1}')(tokens)
        return tokens.transpose(1, 2).reshape(x.shape[0], -1, hw[0], hw[1]).contiguous()

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Image batch (B, C, H, W) -> four maps at strides 4, 8, 16 and 32."""
        outs = []
        for s in range(NUM_STAGES):
            x = self.forward_stage(s, x)
            outs.append(x)
        return outs
