"""HRDA segmentor and head: crop boxes, attention masking and fusion, detail-loss weighting, sliding windows,
the training / inference paths and the parameter count of HRDA MiT-B5 (docs/methods.md §2.3)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import nn

from mmseg_procl.models.decode_heads.hrda_head import HRDAHead, SlideFeatures
from mmseg_procl.models.segmentors.hrda_encoder_decoder import sample_crop_box
from mmseg_procl.registry import MODELS
from mmseg_procl.structures import SegDataSample
from mmseg_procl.utils import register_all_modules

BN = dict(type='BN', requires_grad=True)


def daformer_head(in_channels=(32, 64, 160, 256), channels=256, num_classes=19):
    """The DAFormer sepaspp head config (released DAFormer / HRDA settings)."""
    return dict(type='DAFormerHead', in_channels=list(in_channels), in_index=[0, 1, 2, 3], channels=channels,
                dropout_ratio=0.1, num_classes=num_classes, norm_cfg=BN, align_corners=False,
                decoder_params=dict(embed_dims=channels, embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                                    embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                                    fusion_cfg=dict(type='aspp', sep=True, dilations=(1, 6, 12, 18),
                                                    pool=False, act_cfg=dict(type='ReLU'), norm_cfg=BN)),
                loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))


class ConstantHead(nn.Module):
    """Returns ``value`` (or per-window values) at the spatial size of its first input."""

    def __init__(self, value, num_classes=3):
        super().__init__()
        self.value, self.num_classes = value, num_classes

    def forward(self, feats):
        n, _, h, w = feats[0].shape
        if callable(self.value):
            return self.value(n, h, w)
        return torch.full((n, self.num_classes, h, w), float(self.value))


def head_with(lr=2.0, hr=5.0, attention_logit=0.0, hr_loss_weight=0.1):
    """An HRDAHead (DAFormer, output stride 4) whose three heads are replaced by constants."""
    register_all_modules()
    hrda = HRDAHead(head=daformer_head(num_classes=3, channels=16), hr_loss_weight=hr_loss_weight,
                    attention_embed_dim=8)
    context_head, detail_head = ConstantHead(lr), ConstantHead(hr)      # keeps the real head's loss
    hrda.head.forward = lambda feats: (context_head if feats[0].shape[-1] == 8 else detail_head)(feats)
    hrda.scale_attention = ConstantHead(attention_logit)
    return hrda


def test_crop_boxes_are_inside_and_divisible():
    np.random.seed(0)
    boxes = [sample_crop_box(1024, 1024, (512, 512), 8) for _ in range(300)]
    for y1, y2, x1, x2 in boxes:
        assert y1 % 8 == 0 and x1 % 8 == 0 and y2 - y1 == 512 and x2 - x1 == 512 and y2 <= 1024 and x2 <= 1024
    # offsets take every multiple of 8 in [0, 512]: (512 + 1) // 8 = 64 choices, the largest 504
    assert {b[0] for b in boxes} <= set(range(0, 505, 8)) and max(b[0] for b in boxes) >= 480
    assert sample_crop_box(512, 512, (512, 512), 8) == (0, 512, 0, 512)
    np.random.seed(3)
    expected = np.random.randint(0, 9 // 4) * 4, np.random.randint(0, 17 // 4) * 4
    np.random.seed(3)
    y1, y2, x1, x2 = sample_crop_box(16, 24, (8, 8), 4)          # margins 8 and 16
    assert (y1, x1) == expected and (y2, x2) == (y1 + 8, x1 + 8)


def test_attention_is_zero_outside_the_detail_footprint_and_fusion_by_hand():
    hrda = head_with(lr=2.0, hr=5.0, attention_logit=0.0)
    context = [torch.zeros(1, 1, 8, 8)]            # context logits on an 8 x 8 grid (a 64 x 64 crop at 0.5, /4)
    detail = [torch.zeros(1, 1, 4, 4)]             # detail logits of a 16 x 16 crop (/4)
    box = (16, 32, 32, 48)                          # y1, y2, x1, x2 in full-resolution pixels
    out = hrda(context, detail, box)
    att = out['attention'][0, 0]
    # footprint on the context grid: box / (4 / 0.5) = rows 2..4, cols 4..6
    expected_mask = torch.zeros(8, 8)
    expected_mask[2:4, 4:6] = 1
    assert torch.equal(att, 0.5 * expected_mask)
    assert torch.equal(out['context'][0, 0], 2.0 * (1 - 0.5 * expected_mask))
    fused = out['fused'][0, 0]
    assert fused.shape == (16, 16)
    assert fused[0, 0] == 2.0 and fused[15, 15] == 2.0            # far from the crop: context only
    # inside the pasted detail (box / 4 = rows 4..8, cols 8..12), the bilinear x2 of the 2 x 2 footprint
    # is constant on its inner pixels: 0.5 * 2 (context) + 0.5 * 5 (detail) = 3.5
    assert fused[5, 9] == pytest.approx(3.5) and fused[6, 10] == pytest.approx(3.5)
    reference = (F.interpolate(out['context'], scale_factor=2, mode='bilinear', align_corners=False)
                 + F.interpolate(out['attention'], scale_factor=2, mode='bilinear', align_corners=False)
                 * F.pad(torch.full((1, 3, 4, 4), 5.0), (8, 4, 4, 8)))
    assert torch.allclose(out['fused'], reference)


def test_inference_fusion_has_no_footprint():
    hrda = head_with(lr=1.0, hr=3.0, attention_logit=0.0)
    out = hrda([torch.zeros(1, 1, 8, 8)], [torch.zeros(1, 1, 16, 16)])      # detail over the whole image
    assert torch.allclose(out['attention'], torch.full((1, 3, 8, 8), 0.5))
    assert torch.allclose(out['fused'], torch.full((1, 3, 16, 16), 0.5 * 1 + 0.5 * 3))


def test_detail_loss_weighting_and_cropped_weights():
    hrda = head_with(hr_loss_weight=0.1)
    g = torch.Generator().manual_seed(0)
    outputs = dict(fused=torch.randn(2, 3, 8, 8, generator=g), detail=torch.randn(2, 3, 4, 4, generator=g))
    label = torch.randint(0, 3, (2, 32, 32), generator=g)
    label[:, :2] = 255
    weight = torch.rand(2, 32, 32, generator=g)
    box = (8, 24, 16, 32)
    losses = hrda.loss_by_feat(outputs, label, weight, box)

    def ce(logits, lab, w):                    # mean over all pixels, ignored ones count as 0
        logits = F.interpolate(logits, size=lab.shape[1:], mode='bilinear', align_corners=False)
        return (F.cross_entropy(logits, lab, ignore_index=255, reduction='none') * w).mean()

    assert losses['loss_seg'] == pytest.approx(0.9 * ce(outputs['fused'], label, weight).item(), rel=1e-6)
    crop = (slice(None), slice(8, 24), slice(16, 32))
    assert losses['hr.loss_seg'] == pytest.approx(
        0.1 * ce(outputs['detail'], label[crop], weight[crop]).item(), rel=1e-6)
    weight[crop] = 0                            # the detail loss reads only the cropped weights
    assert hrda.loss_by_feat(outputs, label, weight, box)['hr.loss_seg'] == 0
    assert set(losses) == {'loss_seg', 'acc_seg', 'hr.loss_seg', 'hr.acc_seg'}


def test_sliding_detail_windows_are_averaged():
    hrda = head_with()
    boxes = [(y, y + 32, x, x + 32) for y in (0, 16, 32) for x in (0, 16, 32, 48, 64)]   # 64 x 96, stride 16
    window_index = ConstantHead(lambda n, h, w: torch.cat(
        [torch.full((1, 1, h, w), float(i)) for i in range(n)]))          # window i predicts i (batch 1)
    hrda.head.forward = lambda feats: window_index(feats)
    feats = SlideFeatures([torch.zeros(len(boxes), 1, 8, 8)], boxes)
    averaged = hrda.decode_detail(feats, batch=1)[0, 0]
    assert averaged.shape == (16, 24)                                       # output stride 4
    assert averaged[0, 0] == 0 and averaged[15, 23] == 14                    # corners: one window each
    assert averaged[5, 5] == pytest.approx((0 + 1 + 5 + 6) / 4)              # four windows overlap
    assert averaged[2, 5] == pytest.approx((0 + 1) / 2)                      # two windows overlap


def build_tiny_hrda(**overrides):
    register_all_modules()
    cfg = dict(type='HRDAEncoderDecoder', backbone=dict(type='mit_b0', drop_path_rate=0.0),
               decode_head=dict(type='HRDAHead', head=daformer_head(channels=16), attention_embed_dim=8),
               hr_crop_size=(32, 32), crop_coord_divisible=8,
               test_cfg=dict(mode='slide', batched_slide=True, stride=(32, 32), crop_size=(64, 64)))
    cfg.update(overrides)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def test_training_path_losses_features_and_gradients():
    model = build_tiny_hrda()
    inputs = torch.randn(2, 3, 64, 64)
    samples = []
    for i in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 19, (1, 64, 64)))
        s.seg_weight = PixelData(data=torch.full((1, 64, 64), 0.5))
        samples.append(s)
    np.random.seed(1)
    losses, outputs = model.train_forward(inputs, samples)
    y1, y2, x1, x2 = outputs['crop_box']
    assert y2 - y1 == 32 and x2 - x1 == 32 and y1 % 8 == 0 and x1 % 8 == 0
    assert set(losses) == {'decode.loss_seg', 'decode.acc_seg', 'decode.hr.loss_seg', 'decode.hr.acc_seg'}
    assert outputs['feats'][0].shape == (2, 32, 8, 8)          # context (0.5 scale) features, stride 4
    assert outputs['detail_feats'][0].shape == (2, 32, 8, 8)   # the 32 x 32 detail crop
    assert outputs['logits'].shape == (2, 19, 16, 16)
    (losses['decode.loss_seg'] + losses['decode.hr.loss_seg']).backward()
    assert model.decode_head.scale_attention.conv_seg.weight.grad.abs().sum() > 0
    assert model.backbone.patch_embed1.proj.weight.grad.abs().sum() > 0


def test_fd_sees_the_context_image():
    model = build_tiny_hrda()
    inputs = torch.randn(1, 3, 64, 128)
    context = model.feature_input(inputs)
    assert torch.allclose(context, F.interpolate(inputs, scale_factor=0.5, mode='bilinear',
                                                 align_corners=False))
    feats = model.extract_feat(inputs)
    assert feats[-1].shape[2:] == (1, 2) and feats[0].shape[2:] == (8, 16)   # strides 32 / 4 of 32 x 64


def test_inference_batches_the_detail_windows_and_predicts_full_size():
    model = build_tiny_hrda().eval()
    calls = []
    forward = model.backbone.forward
    model.backbone.forward = lambda x: calls.append(tuple(x.shape)) or forward(x)
    with torch.no_grad():
        logits = model.encode_decode(torch.randn(1, 3, 64, 96), [])
    assert logits.shape == (1, 19, 64, 96)
    # one context pass (0.5 scale) and one batch of all 3 x 5 detail windows (32, stride 16)
    assert calls == [(1, 3, 32, 48), (15, 3, 32, 32)]
    calls.clear()
    with torch.no_grad():
        preds = model.predict(torch.randn(1, 3, 64, 96))       # outer slide: 64 x 64 windows, stride 32
    assert preds[0].pred_sem_seg.data.shape == (1, 64, 96)
    assert calls[0] == (2, 3, 32, 32)                          # two outer windows batched, context scale


def test_hrda_mitb5_parameters_and_released_names():
    register_all_modules()
    model = MODELS.build(dict(type='HRDAEncoderDecoder', backbone=dict(type='mit_b5'),
                              decode_head=dict(type='HRDAHead', head=daformer_head(in_channels=(64, 128, 320, 512)))))
    # DAFormer MiT-B5 has 85,155,283 parameters; the scale attention is a DAFormer head with embedding 256
    # and a 1x1 fusion: 4 linear embeddings 256 * (64 + 128 + 320 + 512) + 4 * 256 = 263,168, fusion conv
    # 1024 -> 256 without bias 262,144 + BN 512, classifier 256 * 19 + 19 = 4,883: 530,707 in all.
    assert sum(p.numel() for p in model.decode_head.scale_attention.parameters()) == 530_707
    assert sum(p.numel() for p in model.parameters()) == 85_155_283 + 530_707
    keys = model.state_dict()
    assert 'decode_head.head.fuse_layer.bottleneck.conv.weight' in keys
    assert 'decode_head.scale_attention.fuse_layer.conv.weight' in keys
    assert 'decode_head.scale_attention.fuse_layer.bn.running_var' in keys
    assert keys['decode_head.scale_attention.conv_seg.weight'].shape == (19, 256, 1, 1)


def test_bad_configs_are_named():
    register_all_modules()
    with pytest.raises(ValueError, match=r"HRDAHead: head.type='SegFormerHead'; expected one of"):
        HRDAHead(head=dict(type='SegFormerHead'))
    with pytest.raises(ValueError, match='scales must be \\(context, detail\\)'):
        HRDAHead(head=daformer_head(), scales=(1.0, 0.5))
    with pytest.raises(ValueError, match='feature_scale=0.25 must be the context scale 0.5'):
        build_tiny_hrda(feature_scale=0.25)


def test_hrda_head_refuses_a_list_of_losses():
    from mmseg_procl.registry import MODELS
    import pytest as _pytest
    head = dict(type='HRDAHead', head=dict(
        type='DAFormerHead', in_channels=[8, 8, 8, 8], in_index=[0, 1, 2, 3], channels=8, num_classes=3,
        decoder_params=dict(embed_dims=8, embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                            embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                            fusion_cfg=dict(type='conv', kernel_size=1, act_cfg=dict(type='ReLU'),
                                            norm_cfg=dict(type='BN', requires_grad=True))),
        loss_decode=[dict(type='CrossEntropyLoss'), dict(type='LovaszLoss')]))
    with _pytest.raises(ValueError, match='HRDAHead: its head has a list of losses'):
        MODELS.build(head)
