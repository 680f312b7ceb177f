"""DLV2Head: original key names, parameter counts, initialisation and hand-checked outputs."""
import json
import os

import pytest
import torch

from mmseg_procl.models.decode_heads import DLV2Head
from mmseg_procl.registry import MODELS

# copy of shared/reference/original_state_dicts.json (original state-dict keys and shapes)
REFERENCE_JSON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              'fixtures', 'original_state_dicts.json')
# decode_head_keys of deeplabv2red_r101 in original_state_dicts.json, 'decode_head.' removed
ORIGINAL_KEYS = ['aspp_modules.0.conv.weight', 'aspp_modules.0.conv.bias',
                 'aspp_modules.1.conv.weight', 'aspp_modules.1.conv.bias']


def test_reduced_head_keys_and_shapes_equal_original():
    head = DLV2Head(in_channels=2048, num_classes=19, dilations=(6, 12))
    state = head.state_dict()
    assert list(state) == ORIGINAL_KEYS
    assert tuple(state['aspp_modules.1.conv.weight'].shape) == (19, 2048, 3, 3)
    assert tuple(state['aspp_modules.0.conv.bias'].shape) == (19,)
    assert not hasattr(head, 'conv_seg') and head.dropout is None


def test_reduced_head_keys_equal_reference_json():
    with open(REFERENCE_JSON) as f:
        keys = json.load(f)['deeplabv2red_r101']['decode_head_keys']
    head = DLV2Head(in_channels=2048, num_classes=19, dilations=(6, 12))
    assert list(head.state_dict()) == [k[len('decode_head.'):] for k in keys]


def test_parameter_counts_by_hand():
    per_branch = 19 * 2048 * 3 * 3 + 19
    reduced = DLV2Head(in_channels=2048, num_classes=19, dilations=(6, 12))
    full = MODELS.build(dict(type='DLV2Head', in_channels=2048, num_classes=19,
                             dilations=(6, 12, 18, 24)))
    assert sum(p.numel() for p in reduced.parameters()) == 2 * per_branch == 700_454
    assert sum(p.numel() for p in full.parameters()) == 4 * per_branch == 1_400_908
    assert [m.conv.dilation for m in full.aspp_modules] == [(6, 6), (12, 12), (18, 18), (24, 24)]
    assert [m.conv.padding for m in full.aspp_modules] == [(6, 6), (12, 12), (18, 18), (24, 24)]


def test_init_weights_is_normal_001_with_zero_bias():
    torch.manual_seed(0)
    head = DLV2Head(in_channels=512, num_classes=19, dilations=(6, 12))
    for branch in head.aspp_modules:
        torch.nn.init.constant_(branch.conv.bias, 3.0)
    head.init_weights()
    for branch in head.aspp_modules:
        weight = branch.conv.weight
        assert torch.equal(branch.conv.bias, torch.zeros(19))
        assert abs(weight.std().item() - 0.01) < 0.0005
        assert abs(weight.mean().item()) < 0.0005


def test_zero_weights_give_sum_of_biases_everywhere():
    head = DLV2Head(in_channels=8, num_classes=3, dilations=(6, 12), in_index=3)
    biases = (torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.25, 4.0, -1.5]))
    with torch.no_grad():
        for branch, bias in zip(head.aspp_modules, biases):
            branch.conv.weight.zero_()
            branch.conv.bias.copy_(bias)
    inputs = [torch.randn(2, 1, 4, 4)] * 3 + [torch.randn(2, 8, 5, 7)]
    out = head(inputs)
    assert out.shape == (2, 3, 5, 7)
    expected = torch.tensor([1.25, 2.0, -1.0]).view(1, 3, 1, 1).expand(2, 3, 5, 7)
    assert torch.equal(out, expected)


def test_delta_kernels_shift_by_the_dilation():
    # Branch d=2 keeps only the top-left tap: out[y, x] += in[y - 2, x - 2] (zero outside).
    # Branch d=3 keeps only the bottom-right tap: out[y, x] += 10 * in[y + 3, x + 3].
    head = DLV2Head(in_channels=1, num_classes=1, dilations=(2, 3), in_index=0)
    with torch.no_grad():
        for branch in head.aspp_modules:
            branch.conv.weight.zero_()
            branch.conv.bias.zero_()
        head.aspp_modules[0].conv.weight[0, 0, 0, 0] = 1.0
        head.aspp_modules[1].conv.weight[0, 0, 2, 2] = 10.0
    image = torch.arange(1.0, 1.0 + 6 * 7).view(1, 1, 6, 7)
    out = head([image])[0, 0]
    assert out[2, 2] == image[0, 0, 0, 0] + 10 * image[0, 0, 5, 5]   # 1 + 10 * 41
    assert out[0, 0] == 10 * image[0, 0, 3, 3]                         # 10 * 25, first tap outside
    assert out[5, 6] == image[0, 0, 3, 4]                              # 26, second tap outside
    assert out[3, 0] == 0.0                                            # both taps outside
    expected = torch.zeros(6, 7)
    expected[2:, 2:] += image[0, 0, :4, :5]
    expected[:3, :4] += 10 * image[0, 0, 3:, 3:]
    assert torch.equal(out, expected)


def test_rate_one_branch_is_a_1x1_conv():
    head = DLV2Head(in_channels=4, num_classes=2, dilations=(1, 6), in_index=0)
    assert tuple(head.aspp_modules[0].conv.weight.shape) == (2, 4, 1, 1)
    assert head.aspp_modules[0].conv.padding == (0, 0)
    assert head([torch.randn(1, 4, 9, 9)]).shape == (1, 2, 9, 9)


def test_invalid_dilations_raise():
    with pytest.raises(ValueError, match='dilations'):
        DLV2Head(in_channels=4, num_classes=2, dilations=())
