"""DAFormerHead / SegFormerHead: original keys, DAFormer size, hand-computed outputs, errors."""
import copy
import hashlib
import json
import os

import pytest
import torch
from torch import nn

from mmseg_procl.models.backbones import mit_b5
from mmseg_procl.models.decode_heads import ASPPWrapper, DAFormerHead, SegFormerHead
from mmseg_procl.models.decode_heads.mlp_embed import MLPEmbed
from mmseg_procl.registry import MODELS

# copy of shared/reference/original_state_dicts.json (original state-dict keys and shapes)
REFERENCE_JSON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              'fixtures', 'original_state_dicts.json')
# sha256 of the sorted key lines of original_state_dicts.json['daformer_mitb5']['decode_head_keys']
# with 'decode_head.' removed.
DAFORMER_HEAD_KEYS_SHA256 = '5521611b66e8bff87e7b0022a15ae8bcc3d5497a1bcf5e35087e45a080f5a118'
DAFORMER_PARAMS = 85_155_283          # original_state_dicts.json['daformer_mitb5']['parameters']
NORM_CFG = dict(type='BN', requires_grad=True)
MLP_EMBED = dict(type='mlp', act_cfg=None, norm_cfg=None)
SEPASPP = dict(type='aspp', sep=True, dilations=(1, 6, 12, 18), pool=False,
               act_cfg=dict(type='ReLU'), norm_cfg=NORM_CFG)
CONV1 = dict(type='conv', kernel_size=1, act_cfg=dict(type='ReLU'), norm_cfg=NORM_CFG)


def daformer_head_cfg(fusion_cfg=SEPASPP, **overrides):
    """The decode_head dict of DAFormer's daformer_{sepaspp,conv1}_mitb5.py configs."""
    cfg = dict(type='DAFormerHead', in_channels=[64, 128, 320, 512], in_index=[0, 1, 2, 3],
               channels=256, dropout_ratio=0.1, num_classes=19, norm_cfg=NORM_CFG,
               align_corners=False, input_transform='multiple_select',
               decoder_params=dict(embed_dims=256, embed_cfg=MLP_EMBED, embed_neck_cfg=MLP_EMBED,
                                   fusion_cfg=fusion_cfg),
               loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
    cfg.update(overrides)
    return copy.deepcopy(cfg)


def sepaspp_head_params_by_hand(in_channels=(64, 128, 320, 512), embed=256, channels=256,
                                classes=19):
    """DAFormerHead (sepaspp) parameter count written out from the architecture."""
    cat = 4 * embed
    embeds = sum(c * embed + embed for c in in_channels)
    branch0 = cat * channels + 2 * channels                       # 1x1 conv (no bias) + BN
    separable = (9 * cat + 2 * cat) + (cat * channels + 2 * channels)
    bottleneck = 9 * 4 * channels * channels + 2 * channels
    return embeds + branch0 + 3 * separable + bottleneck + channels * classes + classes


def features(batch=2, size=16, channels=(64, 128, 320, 512), seed=0):
    """Random MiT-like features at strides 4..32 of a (size*4)^2 image."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, size >> i, size >> i, generator=gen)
            for i, c in enumerate(channels)]


def test_daformer_parameter_count_and_keys():
    head = MODELS.build(daformer_head_cfg())
    with torch.device('meta'):
        backbone = mit_b5()
    head_params = sum(p.numel() for p in head.parameters())
    assert head_params == sepaspp_head_params_by_hand() == 3_712_275
    assert sum(p.numel() for p in backbone.parameters()) + head_params == DAFORMER_PARAMS
    keys = sorted(head.state_dict())
    assert len(keys) == 58
    assert hashlib.sha256('\n'.join(keys).encode()).hexdigest() == DAFORMER_HEAD_KEYS_SHA256
    shapes = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    assert shapes['embed_layers.2.proj.weight'] == (256, 320)
    assert shapes['fuse_layer.aspp_modules.0.conv.weight'] == (256, 1024, 1, 1)
    assert shapes['fuse_layer.aspp_modules.3.depthwise_conv.conv.weight'] == (1024, 1, 3, 3)
    assert shapes['fuse_layer.aspp_modules.3.pointwise_conv.conv.weight'] == (256, 1024, 1, 1)
    assert shapes['fuse_layer.bottleneck.conv.weight'] == (256, 1024, 3, 3)
    assert shapes['conv_seg.weight'] == (19, 256, 1, 1)
    assert head.fuse_layer.aspp_modules[2].depthwise_conv.conv.dilation == (12, 12)


def test_daformer_head_keys_equal_reference_json():
    with open(REFERENCE_JSON) as f:
        ref = json.load(f)['daformer_mitb5']
    head = MODELS.build(daformer_head_cfg())
    assert sorted(head.state_dict()) == sorted(k[len('decode_head.'):]
                                               for k in ref['decode_head_keys'])
    assert ref['parameters'] == DAFORMER_PARAMS


def test_daformer_forward_shape_and_zero_weights_give_bias():
    head = MODELS.build(daformer_head_cfg()).eval()
    feats = features()
    with torch.no_grad():
        assert head(feats).shape == (2, 19, 16, 16)
        for p in head.parameters():
            p.zero_()
        head.conv_seg.bias.copy_(torch.arange(19.0))
        out = head(feats)
    assert torch.equal(out, torch.arange(19.0).view(1, 19, 1, 1).expand(2, 19, 16, 16))


def test_conv1_variant_keys_and_hand_computed_logits():
    head = MODELS.build(daformer_head_cfg(fusion_cfg=CONV1))
    shapes = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    assert shapes['fuse_layer.conv.weight'] == (256, 1024, 1, 1)
    assert 'fuse_layer.conv.bias' not in shapes and 'fuse_layer.bn.running_var' in shapes
    # Tiny head: 1-channel levels, 1-dim embeddings, 1x1 fusion conv with bias, ReLU, 2 classes.
    tiny = DAFormerHead(in_channels=[1, 1, 1, 1], in_index=[0, 1, 2, 3], channels=1,
                        num_classes=2, dropout_ratio=0.0,
                        decoder_params=dict(embed_dims=1, embed_cfg=MLP_EMBED,
                                            fusion_cfg=dict(type='conv', kernel_size=1))).eval()
    with torch.no_grad():
        for i, w in enumerate([1.0, 2.0, 3.0, 4.0]):
            tiny.embed_layers[str(i)].proj.weight.fill_(w)
            tiny.embed_layers[str(i)].proj.bias.zero_()
        tiny.fuse_layer.conv.weight.copy_(torch.tensor([1.0, -1.0, 1.0, 1.0]).view(1, 4, 1, 1))
        tiny.fuse_layer.conv.bias.fill_(0.5)
        tiny.conv_seg.weight.copy_(torch.tensor([2.0, -1.0]).view(2, 1, 1, 1))
        tiny.conv_seg.bias.copy_(torch.tensor([0.0, 1.0]))
        out = tiny([torch.ones(1, 1, 8 >> i, 8 >> i) for i in range(4)])
    # embeddings 1, 2, 3, 4 -> fuse relu(1 - 2 + 3 + 4 + 0.5) = 6.5 -> logits (13, -5.5)
    assert torch.equal(out, torch.tensor([13.0, -5.5]).view(1, 2, 1, 1).expand(1, 2, 8, 8))


def test_mlp_embed_is_per_pixel_linear():
    embed = MLPEmbed(3, 5)
    x = torch.randn(2, 3, 4, 6)
    expected = (torch.einsum('dc,bchw->bdhw', embed.proj.weight, x)
                + embed.proj.bias.view(1, 5, 1, 1))
    with torch.no_grad():
        torch.testing.assert_close(embed(x), expected)


def test_aspp_wrapper_variants():
    plain = ASPPWrapper(8, 4, dilations=(1, 2), sep=False, pool=True, norm_cfg=NORM_CFG)
    keys = set(plain.state_dict())
    assert {'image_pool.1.conv.weight', 'aspp_modules.0.conv.weight', 'aspp_modules.1.conv.weight',
            'bottleneck.conv.weight'} <= keys
    assert plain.aspp_modules[1].conv.weight.shape == (4, 8, 3, 3)
    assert plain.aspp_modules[1].conv.padding == (2, 2)
    assert plain.bottleneck.conv.weight.shape == (4, 12, 3, 3)
    plain.eval()
    x = torch.randn(1, 8, 5, 7)
    assert plain(x).shape == (1, 4, 5, 7)
    # branch 0 in eval mode with fresh BN statistics: relu(conv(x) / sqrt(1 + eps))
    with torch.no_grad():
        expected = torch.relu(nn.functional.conv2d(x, plain.aspp_modules[0].conv.weight)
                              / (1 + 1e-5) ** 0.5)
        torch.testing.assert_close(plain.aspp_modules[0](x), expected)


def test_config_errors_name_the_problem():
    with pytest.raises(ValueError, match="layer type 'isa' is not supported"):
        MODELS.build(daformer_head_cfg(fusion_cfg=dict(type='isa')))
    bad = daformer_head_cfg()
    bad['decoder_params']['embed_dim'] = 256
    with pytest.raises(ValueError, match=r"unknown keys \['embed_dim'\]"):
        MODELS.build(bad)
    bad = daformer_head_cfg()
    bad['decoder_params']['embed_cfg'] = dict(type='mlp', norm_cfg=NORM_CFG)
    with pytest.raises(ValueError, match=r"embed_layers\.0: type 'mlp' takes no options"):
        MODELS.build(bad)
    with pytest.raises(ValueError, match='align_corners'):
        MODELS.build(daformer_head_cfg(align_corners=True))
    with pytest.raises(ValueError, match='multiple_select'):
        MODELS.build(daformer_head_cfg(input_transform='resize_concat'))


def test_segformer_head_keys_and_bias_output():
    head = MODELS.build(dict(type='SegFormerHead', in_channels=[64, 128, 320, 512],
                             in_index=[0, 1, 2, 3], channels=128, dropout_ratio=0.1,
                             num_classes=19, norm_cfg=NORM_CFG, align_corners=False,
                             decoder_params=dict(embed_dim=256, conv_kernel_size=1))).eval()
    assert isinstance(head, SegFormerHead)
    bn = ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    expected = ([f'linear_c.{i}.proj.{p}' for i in range(4) for p in ('weight', 'bias')]
                + ['linear_fuse.conv.weight'] + [f'linear_fuse.bn.{b}' for b in bn]
                + ['linear_pred.weight', 'linear_pred.bias', 'conv_seg.weight', 'conv_seg.bias'])
    assert sorted(head.state_dict()) == sorted(expected)
    embeds = (64 + 128 + 320 + 512) * 256 + 4 * 256
    by_hand = embeds + 1024 * 256 + 2 * 256 + (256 * 19 + 19) + (128 * 19 + 19)
    assert sum(p.numel() for p in head.parameters()) == by_hand
    feats = features(seed=1)
    with torch.no_grad():
        assert head(feats).shape == (2, 19, 16, 16)
        for p in head.parameters():
            p.zero_()
        head.linear_pred.bias.copy_(torch.linspace(-1, 1, 19))
        head.conv_seg.bias.fill_(5.0)            # unused, as in the original
        out = head(feats)
    assert torch.equal(out, torch.linspace(-1, 1, 19).view(1, 19, 1, 1).expand(2, 19, 16, 16))
