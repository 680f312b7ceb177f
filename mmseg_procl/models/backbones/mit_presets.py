"""Registered MiT-B0 ... MiT-B5 presets (the sizes of SegFormer's released ImageNet encoders).

Sizes as in SegFormer (Xie et al., NeurIPS 2021, github.com/NVlabs/SegFormer) and DAFormer (Hoyer et
al., CVPR 2022, github.com/lhoyer/DAFormer): all use 4x Mix-FFN expansion, heads (1, 2, 5, 8),
spatial-reduction ratios (8, 4, 2, 1), qkv bias and LayerNorm eps 1e-6; they differ in widths and
depths. ``type='mit_b5'`` in a config builds a :class:`MixVisionTransformer` with these sizes.
"""
from typing import Callable, Optional

from mmseg_procl.registry import MODELS
from .mix_transformer import MixVisionTransformer

WIDE = (64, 128, 320, 512)
MIT_ARCH_SETTINGS = {
    'mit_b0': dict(embed_dims=(32, 64, 160, 256), depths=(2, 2, 2, 2)),
    'mit_b1': dict(embed_dims=WIDE, depths=(2, 2, 2, 2)),
    'mit_b2': dict(embed_dims=WIDE, depths=(3, 4, 6, 3)),
    'mit_b3': dict(embed_dims=WIDE, depths=(3, 4, 18, 3)),
    'mit_b4': dict(embed_dims=WIDE, depths=(3, 8, 27, 3)),
    'mit_b5': dict(embed_dims=WIDE, depths=(3, 6, 40, 3)),
}


def make_preset(name: str) -> Callable[..., MixVisionTransformer]:
    """A registered builder of the MiT preset ``name`` (a key of ``MIT_ARCH_SETTINGS``)."""
    sizes = MIT_ARCH_SETTINGS[name]

    def build(in_channels: int = 3, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
              drop_path_rate: float = 0.1, style: Optional[str] = None,
              pretrained: Optional[str] = None,
              init_cfg: Optional[dict] = None) -> MixVisionTransformer:
        return MixVisionTransformer(
            in_channels=in_channels, embed_dims=sizes['embed_dims'], num_heads=(1, 2, 5, 8),
            mlp_ratios=(4, 4, 4, 4), depths=sizes['depths'], sr_ratios=(8, 4, 2, 1),
            qkv_bias=True, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate, norm_eps=1e-6, style=style, pretrained=pretrained,
            init_cfg=init_cfg)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = (f'MiT preset {name}: embed_dims {sizes["embed_dims"]}, '
                     f'depths {sizes["depths"]}.')
    MODELS.register_module(name=name, module=build)
    return build


mit_b0 = make_preset('mit_b0')
mit_b1 = make_preset('mit_b1')
mit_b2 = make_preset('mit_b2')
mit_b3 = make_preset('mit_b3')
mit_b4 = make_preset('mit_b4')
mit_b5 = make_preset('mit_b5')
