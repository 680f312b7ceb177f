"""ProjHead: the SePiCo and CLIP-ProCL originals (keys, shapes, parameter counts) and outputs."""
import json
import os

import pytest
import torch
from torch import nn

from mmseg_procl.models.decode_heads import ProjHead
from mmseg_procl.registry import MODELS

# copy of shared/reference/original_state_dicts.json (original state-dict keys and shapes)
REFERENCE_JSON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              'fixtures', 'original_state_dicts.json')


def bn_shapes(c: int) -> dict:
    """Shapes of a BatchNorm2d(c) state dict, by key suffix."""
    return {'weight': (c,), 'bias': (c,), 'running_mean': (c,), 'running_var': (c,),
            'num_batches_tracked': ()}


# auxiliary_head.* of the released CLIP-ProCL checkpoint (original_state_dicts.json), prefix removed
CLIP_PROCL_SHAPES = {'conv_seg.weight': (19, 512, 1, 1), 'conv_seg.bias': (19,),
                     'convs.0.conv.weight': (512, 2048, 3, 3),
                     **{f'convs.0.bn.{k}': v for k, v in bn_shapes(512).items()}}
SEPICO_DLV2 = dict(in_channels=2048, in_index=3, channels=512, num_convs=2, kernel_size=1)
SEPICO_DAFORMER = dict(in_channels=[64, 128, 320, 512], in_index=[0, 1, 2, 3],
                       input_transform='resize_concat', channels=256, num_convs=2, kernel_size=1)
CLIP_PROCL = dict(in_channels=2048, in_index=3, channels=512, num_convs=1, kernel_size=3,
                  keep_conv_seg=True, num_classes=19)


def shapes_of(module: nn.Module) -> dict:
    """state-dict key -> shape tuple."""
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def n_params(module: nn.Module) -> int:
    """Number of parameters (BN buffers excluded)."""
    return sum(p.numel() for p in module.parameters())


def backbone_maps(batch: int = 2) -> list:
    """Four ResNet-like stage maps (stride 8 at 64x64 input)."""
    return [torch.randn(batch, c, s, s) for c, s in ((256, 16), (512, 8), (1024, 8), (2048, 8))]


def test_clip_procl_keys_shapes_and_parameter_count():
    head = ProjHead(**CLIP_PROCL)
    assert shapes_of(head) == CLIP_PROCL_SHAPES
    conv = head.convs[0].conv
    assert conv.kernel_size == (3, 3) and conv.padding == (1, 1) and conv.bias is None
    assert isinstance(head.convs[0].activate, nn.ReLU)
    assert n_params(head) == 512 * 2048 * 9 + 2 * 512 + 19 * 512 + 19 == 9_447_955


def test_clip_procl_shapes_equal_reference_json():
    with open(REFERENCE_JSON) as f:
        ref = json.load(f)['clip_procl_deeplabv2red_r101_clip_rn101']['state_dict_shapes']
    expected = {k[len('auxiliary_head.'):]: tuple(v) for k, v in ref.items()
                if k.startswith('auxiliary_head.')}
    assert shapes_of(ProjHead(**CLIP_PROCL)) == expected


def test_sepico_dlv2_keys_shapes_and_parameter_count():
    head = MODELS.build(dict(type='ProjHead', **SEPICO_DLV2))
    expected = {'convs.0.conv.weight': (2048, 2048, 1, 1), 'convs.1.conv.weight': (512, 2048, 1, 1),
                **{f'convs.0.bn.{k}': v for k, v in bn_shapes(2048).items()},
                **{f'convs.1.bn.{k}': v for k, v in bn_shapes(512).items()}}
    assert shapes_of(head) == expected
    assert n_params(head) == 2048 * 2048 + 2 * 2048 + 512 * 2048 + 2 * 512 == 5_248_000
    assert not hasattr(head, 'conv_seg')


def test_sepico_daformer_keys_and_parameter_count():
    head = ProjHead(**SEPICO_DAFORMER)
    assert shapes_of(head)['convs.0.conv.weight'] == (256, 1024, 1, 1)
    assert shapes_of(head)['convs.1.conv.weight'] == (256, 256, 1, 1)
    assert n_params(head) == 1024 * 256 + 2 * 256 + 256 * 256 + 2 * 256 == 328_704
    sizes = {64: 16, 128: 8, 320: 4, 512: 2}
    feats = [torch.randn(2, c, s, s) for c, s in sizes.items()]
    assert head.eval()(feats).shape == (2, 256, 16, 16)


@pytest.mark.parametrize('cfg', [SEPICO_DLV2, CLIP_PROCL], ids=['sepico_dlv2', 'clip_procl'])
def test_embeddings_are_unit_norm_and_non_negative(cfg):
    torch.manual_seed(0)
    head = ProjHead(**cfg).train()
    out = head(backbone_maps())
    assert out.shape == (2, 512, 8, 8)
    norms = out.norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)
    assert out.min() >= 0


def test_conv_seg_is_never_used():
    torch.manual_seed(0)
    head = ProjHead(**CLIP_PROCL).eval()
    inputs = backbone_maps(batch=1)
    before = head(inputs)
    with torch.no_grad():
        head.conv_seg.weight.fill_(100.0)
    assert torch.equal(head(inputs), before)
    fresh = ProjHead(**CLIP_PROCL)
    assert torch.equal(fresh.conv_seg.bias, torch.zeros(19))
    assert abs(fresh.conv_seg.weight.std().item() - 0.01) < 0.001


def test_hand_checked_single_pixel_values():
    # 1x1 conv 2->2 = identity, bias (1, -5), ReLU, no BN: pixel (2, 3) -> relu(3, -2) = (3, 0)
    # -> normalised (1, 0); pixel (2, 7) -> (3, 2) -> (3, 2) / sqrt(13).
    head = ProjHead(in_channels=2, channels=2, num_convs=1, kernel_size=1, in_index=0,
                    norm_cfg=None)
    with torch.no_grad():
        head.convs[0].conv.weight.copy_(torch.eye(2).view(2, 2, 1, 1))
        head.convs[0].conv.bias.copy_(torch.tensor([1.0, -5.0]))
    x = torch.tensor([[2.0, 2.0], [3.0, 7.0]]).view(1, 2, 1, 2)
    out = head([x])
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([1.0, 0.0]))
    assert torch.allclose(out[0, :, 0, 1], torch.tensor([3.0, 2.0]) / 13 ** 0.5)
    raw = ProjHead(in_channels=2, channels=2, num_convs=1, kernel_size=1, in_index=0,
                   norm_cfg=None, normalize=False)
    raw.load_state_dict(head.state_dict())
    assert torch.allclose(raw([x])[0, :, 0, :], torch.tensor([[3.0, 3.0], [0.0, 2.0]]))


def test_zero_convs_is_normalised_identity():
    head = ProjHead(in_channels=3, channels=3, num_convs=0, in_index=0)
    x = torch.tensor([3.0, 0.0, -4.0]).view(1, 3, 1, 1)
    assert n_params(head) == 0
    assert torch.allclose(head([x]).flatten(), torch.tensor([0.6, 0.0, -0.8]))
    with pytest.raises(ValueError, match='num_convs=0 needs in_channels == channels, got 4 and 3'):
        ProjHead(in_channels=4, channels=3, num_convs=0, in_index=0)


def test_multiple_select_gives_one_embedding_per_level():
    head = ProjHead(in_channels=[4, 6], in_index=[0, 2], input_transform='multiple_select',
                    channels=5, num_convs=2).eval()
    assert shapes_of(head)['convs.1.0.conv.weight'] == (6, 6, 1, 1)
    assert shapes_of(head)['convs.1.1.conv.weight'] == (5, 6, 1, 1)
    outs = head([torch.randn(1, 4, 3, 3), torch.randn(1, 1, 1, 1), torch.randn(1, 6, 2, 2)])
    assert [tuple(o.shape) for o in outs] == [(1, 5, 3, 3), (1, 5, 2, 2)]


def test_head_computes_no_loss_and_rejects_bad_config():
    head = ProjHead(**SEPICO_DLV2)
    assert not any(hasattr(head, name) for name in ('loss', 'loss_decode', 'loss_by_feat'))
    with pytest.raises(ValueError, match='keep_conv_seg=True needs num_classes'):
        ProjHead(keep_conv_seg=True)
    with pytest.raises(ValueError, match="input_transform='concat'"):
        ProjHead(input_transform='concat')
    with pytest.raises(TypeError, match='int in_channels and in_index'):
        ProjHead(in_channels=[64, 128], in_index=[0, 1])
