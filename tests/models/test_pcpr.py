"""PCPR's released segmentor changes (docs/methods.md §2.5): the fusion order with hand values, the feature
weighter, the decoder features / detail mask of the training path, the class-aware detail crop, the entropy
map, per-scale inference outputs and the MiT-B5 parameter count."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import nn

from mmseg_procl.models.decode_heads.pcpr_head import PCPRHead
from mmseg_procl.models.segmentors.pcpr_encoder_decoder import class_aware_crop_box, entropy_map
from mmseg_procl.registry import MODELS
from mmseg_procl.structures import SegDataSample
from mmseg_procl.utils import register_all_modules
from test_hrda import ConstantHead, daformer_head


def ramp_head(values, num_classes=1):
    """A head whose output is ``values`` along the width (one row, the values repeated over height)."""
    def make(n, h, w):
        return torch.tensor(values, dtype=torch.float32).view(1, 1, 1, w).expand(n, num_classes, h, w).clone()
    return ConstantHead(make, num_classes)


def pcpr_with(lr_values, hr_value, attention_logits, channels=4):
    """A PCPRHead (DAFormer, stride 4) on 1-class logits whose heads are replaced by known maps; the decoder
    features equal the logits repeated over ``channels``."""
    register_all_modules()
    head = PCPRHead(head=daformer_head(num_classes=1, channels=8), attention_embed_dim=8)

    def features(feats):
        if feats[0].flatten()[0] == 0:                    # context maps are filled with 0, detail with 1
            return torch.tensor(lr_values).view(1, 1, 1, 2).expand(feats[0].shape[0], channels, 1, 2).clone()
        return torch.full((feats[0].shape[0], channels, *feats[0].shape[2:]), float(hr_value))

    head.head.fused_features = features
    head.head.cls_seg = lambda f: f[:, :1]
    head.head.forward = lambda feats: features(feats)[:, :1]
    head.scale_attention = ramp_head(attention_logits)
    head.feat_weighter = ConstantHead(0.0, 1)
    return head


def feats(height, width, value=0.0):
    """Stand-in backbone maps (the heads above are replaced): context 0, detail 1."""
    return [torch.full((1, 1, height, width), value)]


def logit(p):
    return math.log(p / (1 - p))


def test_fusion_applies_one_minus_attention_after_upsampling_by_hand():
    # context logits [2, 4], attention [0, 1] (as sigmoid of +-inf-ish logits) on a 1 x 2 context grid; the
    # x2 bilinear upsampling (align_corners False) of [v0, v1] is [v0, .75 v0 + .25 v1, .25 v0 + .75 v1, v1]
    head = pcpr_with([2.0, 4.0], 0.0, [-30.0, 30.0])
    out = head(feats(1, 2), feats(2, 4, value=1.0))
    # PCPR: (1 - up(a)) * up(lr) = (1 - [0, .25, .75, 1]) * [2, 2.5, 3.5, 4] with zero detail
    assert torch.allclose(out['fused'][0, 0, 0], torch.tensor([2.0, 1.875, 0.875, 0.0]), atol=1e-5)
    # HRDA would give up((1 - a) lr) = up([2, 0]) = [2, 1.5, .5, 0]; the context logits carry no factor
    assert torch.allclose(out['context'][0, 0, 0], torch.tensor([2.0, 4.0]))


def test_detail_logits_enter_with_the_upsampled_attention():
    head = pcpr_with([0.0, 0.0], 8.0, [logit(0.2), logit(0.6)])
    out = head(feats(1, 2), feats(2, 4, value=1.0))
    up_a = torch.tensor([0.2, 0.3, 0.5, 0.6])
    assert torch.allclose(out['fused'][0, 0, 0], up_a * 8.0, atol=1e-5)
    assert set(out) == {'fused', 'context', 'detail', 'attention'}       # no features at inference


def test_training_outputs_features_mask_and_feature_weight():
    head = pcpr_with([1.0, 3.0], 5.0, [0.0, 0.0])
    # crop box in pixels of an 8 x 16 input: x 8..16 (stride 4 -> detail grid 2 x 4, columns 2..4; context
    # grid (stride 8) 1 x 2, column 1); the crop's detail maps are 2 x 2
    out = head(feats(1, 2), feats(2, 2, value=1.0), crop_box=(0, 8, 8, 16))
    assert torch.equal(out['detail_mask'][0, 0], torch.tensor([[0.0, 1.0]]))
    assert torch.equal(out['attention'][0, 0], torch.tensor([[0.0, 0.5]]))         # zero outside the crop
    # context features x2 with align_corners=True: [1, 1 + 2/3, 1 + 4/3, 3]
    expected = F.interpolate(torch.tensor([[[[1.0, 3.0]]]]), scale_factor=2, mode='bilinear',
                             align_corners=True)
    assert torch.allclose(out['context_features'][0], expected[0, 0].expand(4, 2, 4), atol=1e-6)
    assert torch.allclose(expected[0, 0, 0], torch.tensor([1.0, 5 / 3, 7 / 3, 3.0]), atol=1e-6)
    assert torch.equal(out['detail_features'][0], torch.tensor([[0.0, 0.0, 5.0, 5.0]]).expand(4, 2, 4))
    assert torch.allclose(out['feature_weight'], torch.full((1, 1, 2, 4), 0.5))        # sigmoid(0), x2


def test_losses_are_hrda_losses_of_the_fused_and_detail_logits():
    register_all_modules()
    head = PCPRHead(head=daformer_head(num_classes=3, channels=8), attention_embed_dim=8)
    torch.manual_seed(0)
    levels = ((32, 1), (64, 2), (160, 4), (256, 8))
    context = [torch.randn(2, c, 8 // s, 8 // s) for c, s in levels]
    detail = [torch.randn(2, c, 8 // s, 8 // s) for c, s in levels]
    head.train()
    out = head(context, detail, crop_box=(0, 32, 0, 32))
    assert out['fused'].shape == (2, 3, 16, 16) and out['detail'].shape == (2, 3, 8, 8)
    assert out['context_features'].shape == (2, 8, 16, 16) and out['detail_features'].shape == (2, 8, 16, 16)
    assert (out['detail_features'][:, :, 8:] == 0).all() and (out['detail_features'][:, :, :, 8:] == 0).all()
    label = torch.randint(0, 3, (2, 64, 64))
    losses = head.loss_by_feat(out, label, None, (0, 32, 0, 32))
    fused = F.cross_entropy(F.interpolate(out['fused'], size=(64, 64), mode='bilinear'), label)
    assert torch.allclose(losses['loss_seg'], 0.9 * fused, atol=1e-5)
    losses['loss_seg'].backward()
    assert head.feat_weighter.conv_seg.weight.grad is None     # the weighter only feeds the prototype branch


def test_non_daformer_heads_are_refused():
    register_all_modules()
    with pytest.raises(ValueError, match="PCPRHead: head.type='DLV2Head'.*must be 'DAFormerHead'"):
        PCPRHead(head=dict(type='DLV2Head', in_channels=8, in_index=3, dilations=(6, 12), num_classes=19))


def test_class_aware_crop_is_centred_on_a_small_class_pixel_by_hand():
    labels = torch.zeros((1, 32, 64), dtype=torch.long)
    labels[0, 2, 60] = 11                                   # one person pixel, row 2, column 60
    np.random.seed(0)
    # centred: rows 2 - 8 -> 0 (clamped), columns 60 - 8 = 52 -> at most 64 - 16 = 48
    assert class_aware_crop_box(labels, (16, 16), (5, 11)) == (0, 16, 48, 64)
    labels[0, 2, 60], labels[0, 20, 30] = 0, 5              # a pole pixel at row 20, column 30
    assert class_aware_crop_box(labels, (16, 16), (5, 11)) == (12, 28, 22, 38)
    assert class_aware_crop_box(labels, (16, 16), (5, 11), divisible=8) == (8, 24, 16, 32)
    assert class_aware_crop_box(torch.full((1, 32, 64), 13), (16, 16), (5, 11)) is None   # cars only


def test_class_aware_crop_draws_a_present_class_then_one_of_its_pixels():
    labels = torch.zeros((2, 32, 64), dtype=torch.long)
    labels[1, 30, 5] = 17
    labels[0, 4:6, 40] = 6
    np.random.seed(3)
    centres = set()
    for _ in range(200):
        y1, y2, x1, x2 = class_aware_crop_box(labels, (8, 8), (6, 17))
        centres.add((y1 + 4, x1 + 4))
    assert centres == {(28, 5), (4, 40), (5, 40)}            # the motorcycle (shifted inside) and both lights


def test_entropy_map_by_hand():
    uniform = torch.full((1, 4, 1, 1), 0.25)
    assert torch.allclose(entropy_map(uniform), torch.tensor(0.25))          # log 4 / (4 log 4)
    onehot = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 4, 1, 1)
    expected = -3 * 1e-8 * math.log(1e-8) / (4 * math.log(4))
    assert torch.allclose(entropy_map(onehot), torch.tensor(expected), rtol=1e-4)
    half = torch.tensor([0.5, 0.5]).view(1, 2, 1, 1)
    assert torch.allclose(entropy_map(half, num_classes=19), torch.tensor(math.log(2) / (19 * math.log(19))))


def build_tiny_pcpr(**overrides):
    register_all_modules()
    cfg = dict(type='PCPREncoderDecoder', backbone=dict(type='mit_b0', drop_path_rate=0.0),
               decode_head=dict(type='PCPRHead', head=daformer_head(channels=16), attention_embed_dim=8),
               hr_crop_size=(32, 32), crop_coord_divisible=8, detail_crop='class_aware',
               test_cfg=dict(mode='slide', batched_slide=True, stride=(32, 32), crop_size=(64, 64)))
    cfg.update(overrides)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def sample_with(label):
    s = SegDataSample()
    s.gt_sem_seg = PixelData(data=label[None])
    return s


def test_training_pass_crops_around_small_classes_and_returns_the_features():
    model = build_tiny_pcpr()
    label = torch.full((64, 64), 0)
    label[50, 10] = 12                                       # a rider pixel: the crop must hold it
    np.random.seed(0)
    losses, outputs = model.train_forward(torch.randn(1, 3, 64, 64), [sample_with(label)])
    assert outputs['crop_box'] == (32, 64, 0, 32)        # centred (34..66, -6..26), shifted, divisible by 8
    out = outputs['hrda']
    assert out['context_features'].shape == (1, 16, 16, 16) and out['detail_mask'].shape == (1, 1, 8, 8)
    assert torch.equal(out['detail_mask'][0, 0, 4:, :4], torch.ones(4, 4)) and out['detail_mask'].sum() == 16
    (losses['decode.loss_seg'] + out['feature_weight'].sum() + out['detail_features'].sum()).backward()
    assert model.decode_head.feat_weighter.conv_seg.weight.grad.abs().sum() > 0
    np.random.seed(0)
    _, plain = build_tiny_pcpr(detail_crop='random').train_forward(torch.randn(1, 3, 64, 64),
                                                                   [sample_with(label)])
    np.random.seed(0)
    assert plain['crop_box'] == model.sample_crop_box(64, 64)                 # HRDA's random crop


def test_per_scale_inference_outputs():
    model = build_tiny_pcpr().eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        scales = model.encode_decode_scales(x)
        fused = model.encode_decode(x, [])
        context = model.decode_head.head(model.backbone_maps(model.context_input(x)))
    assert set(scales) == {'fused', 'context', 'detail'}
    assert all(v.shape == (1, 19, 64, 96) for v in scales.values())
    assert torch.allclose(scales['fused'], fused)
    assert torch.allclose(scales['context'], F.interpolate(context, size=(64, 96), mode='bilinear'),
                          atol=1e-6)


def test_pcpr_mitb5_parameters_and_reference_names():
    register_all_modules()
    with torch.device('meta'):
        head = daformer_head(in_channels=(64, 128, 320, 512))
        model = MODELS.build(dict(type='PCPREncoderDecoder', backbone=dict(type='mit_b5'),
                                  decode_head=dict(type='PCPRHead', head=head)))
    # the feature weighter is the scale attention (530,707) with a 1-output classifier: 256 + 1 instead of
    # 256 * 19 + 19 = 4,883 -> 526,081
    assert sum(p.numel() for p in model.decode_head.feat_weighter.parameters()) == 526_081
    assert sum(p.numel() for p in model.parameters()) == 85_155_283 + 530_707 + 526_081
    keys = model.state_dict()
    assert keys['decode_head.feat_weighter.conv_seg.weight'].shape == (1, 256, 1, 1)
    assert 'decode_head.feat_weighter.fuse_layer.conv.weight' in keys


def test_bad_segmentor_configs_are_named():
    with pytest.raises(ValueError, match="detail_crop must be one of .* got 'centre'"):
        build_tiny_pcpr(detail_crop='centre')
    with pytest.raises(ValueError, match=r'crop_classes \[5, 19\] must be non-empty train ids in \[0, 19\)'):
        build_tiny_pcpr(crop_classes=(5, 19))
    with pytest.raises(ValueError, match='PCPREncoderDecoder needs decode_head type PCPRHead, got HRDAHead'):
        build_tiny_pcpr(decode_head=dict(type='HRDAHead', head=daformer_head(channels=16),
                                         attention_embed_dim=8))
