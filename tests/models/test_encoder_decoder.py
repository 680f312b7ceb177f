"""EncoderDecoder: sliding-window grid and averaging, slide == whole, prediction resizing, losses."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData

from mmseg_procl.models.losses import pixel_cross_entropy
from mmseg_procl.models.segmentors.encoder_decoder import slide_grid
from mmseg_procl.registry import MODELS
from mmseg_procl.structures import SegDataSample
from mmseg_procl.utils import register_all_modules

register_all_modules()


def tiny_segmentor(test_cfg=None):
    """MiT with one block per stage + SegFormer-style DAFormerHead (conv1 fusion), 19 classes."""
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor'),
        backbone=dict(type='MixVisionTransformer', embed_dims=[8, 16, 24, 32], num_heads=[1, 1, 1, 1],
                      mlp_ratios=[2, 2, 2, 2], depths=[1, 1, 1, 1], sr_ratios=[4, 2, 1, 1],
                      drop_path_rate=0.0),
        decode_head=dict(type='DAFormerHead', in_channels=[8, 16, 24, 32], in_index=[0, 1, 2, 3],
                         channels=16, num_classes=19, dropout_ratio=0.0, norm_cfg=dict(type='BN'),
                         decoder_params=dict(embed_dims=16,
                                             embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                                             fusion_cfg=dict(type='conv', kernel_size=1,
                                                             act_cfg=dict(type='ReLU'),
                                                             norm_cfg=dict(type='BN')))),
        test_cfg=test_cfg)).eval()


@pytest.mark.parametrize('length, crop, stride, starts', [
    (10, 4, 3, [0, 3, 6]),        # n = (10 - 4 + 2) // 3 + 1 = 3, last window ends at 10
    (11, 4, 3, [0, 3, 6, 7]),     # n = 4; the 4th window is shifted back to end at the border
    (3, 4, 3, [0]),               # image smaller than the window: one window
    (1024, 512, 512, [0, 512]),   # HRDA / MIC: 1024 crop, 512 stride on a 1024 side
])
def test_slide_grid(length, crop, stride, starts):
    assert slide_grid(length, crop, stride) == starts


def test_slide_averages_overlapping_windows():
    model = tiny_segmentor(dict(mode='slide', crop_size=(4, 4), stride=(3, 3)))
    model.encode_decode = lambda x, metas: x[:, :1].expand(-1, 19, -1, -1)   # identity "network"
    x = torch.arange(2 * 3 * 10 * 11, dtype=torch.float32).view(2, 3, 10, 11)
    out = model.slide_inference(x, [dict(img_shape=(10, 11))] * 2)
    torch.testing.assert_close(out, x[:, :1].expand(-1, 19, -1, -1))
    model.test_cfg['batched_slide'] = True
    torch.testing.assert_close(model.slide_inference(x, [dict(img_shape=(10, 11))] * 2),
                               x[:, :1].expand(-1, 19, -1, -1))


def test_slide_equals_whole_when_one_window_covers_the_image():
    whole = tiny_segmentor(dict(mode='whole'))
    slide = tiny_segmentor(dict(mode='slide', crop_size=(64, 64), stride=(32, 32)))
    slide.load_state_dict(whole.state_dict())
    x = torch.randn(1, 3, 32, 48)
    metas = [dict(img_shape=(32, 48), ori_shape=(32, 48), pad_shape=(32, 48))]
    torch.testing.assert_close(slide.inference(x, metas), whole.inference(x, metas))


def test_predict_resizes_to_original_shape_and_argmax():
    model = tiny_segmentor()
    x = torch.randn(1, 3, 32, 64)
    sample = SegDataSample(metainfo=dict(img_shape=(32, 64), ori_shape=(64, 128), pad_shape=(32, 64)))
    out = model.predict(x, [sample])[0]
    logits = F.interpolate(model.encode_decode(x, [sample.metainfo]), (64, 128), mode='bilinear',
                           align_corners=False)[0]
    torch.testing.assert_close(out.seg_logits.data, logits)
    assert out.pred_sem_seg.data.shape == (1, 64, 128)
    assert torch.equal(out.pred_sem_seg.data[0], logits.argmax(0))


def test_loss_is_pixel_weighted_ce_over_all_pixels():
    model = tiny_segmentor().train()
    x = torch.randn(2, 3, 32, 32)
    label = torch.randint(0, 19, (2, 1, 32, 32))
    label[:, :, :4] = 255
    weight = torch.rand(2, 1, 32, 32)
    samples = [SegDataSample(gt_sem_seg=PixelData(data=label[i]), seg_weight=PixelData(data=weight[i]))
               for i in range(2)]
    losses = model.loss(x, samples)
    assert set(losses) == {'decode.loss_seg', 'decode.acc_seg'}
    torch.manual_seed(0)
    logits = F.interpolate(model.forward(x), (32, 32), mode='bilinear', align_corners=False)
    ce = F.cross_entropy(logits, label[:, 0], reduction='none', ignore_index=255)
    torch.testing.assert_close(losses['decode.loss_seg'], (ce * weight[:, 0]).sum() / (2 * 32 * 32))


def test_pixel_cross_entropy_hand_values():
    logits = torch.zeros(1, 4, 1, 4)                       # uniform over 4 classes: CE = log 4
    label = torch.tensor([[[0, 1, 255, 255]]])
    weight = torch.tensor([[[1.0, 0.5, 1.0, 1.0]]])
    assert pixel_cross_entropy(logits, label, weight).item() == pytest.approx(1.5 * math.log(4) / 4)
    assert pixel_cross_entropy(logits, label, weight, avg_non_ignore=True).item() == pytest.approx(
        1.5 * math.log(4) / 2)
    empty = torch.full((1, 1, 4), 255)
    assert pixel_cross_entropy(logits, empty, avg_non_ignore=True).item() == 0.0


PRIOR = dict(frequencies='dark_zurich', scale=0.16, img_suffix='_rgb_anon.png')


def test_test_time_class_prior_reweights_the_softmax_of_rgb_anon_images():
    model = tiny_segmentor(test_cfg=dict(mode='whole', class_prior=PRIOR))
    cw = torch.tensor([(sum(math.log(f) for f in FREQ) / 19 - math.log(f)) / STD_LOG * 0.16 + 1 for f in FREQ])
    logits = torch.full((1, 19, 2, 4), -10.0)
    logits[0, 0] = math.log(0.52)          # road 0.52 vs motorcycle 0.48: the prior favours the rare class
    logits[0, 17] = math.log(0.48)
    logits[0, 0, :, 2:] = math.log(0.9)     # right half: road clearly
    model.inference = lambda inputs, metas: logits
    night = SegDataSample(metainfo=dict(img_path='rgb_anon/val/night/x_rgb_anon.png', img_shape=(2, 4),
                                        ori_shape=(4, 8), pad_shape=(2, 4)))
    city = SegDataSample(metainfo=dict(img_path='leftImg8bit/val/y_leftImg8bit.png', img_shape=(2, 4),
                                       ori_shape=(4, 8), pad_shape=(2, 4)))
    out = model.predict(torch.zeros(1, 3, 2, 4), [night])[0]
    weighted = F.interpolate(torch.softmax(logits, 1) * cw.view(1, -1, 1, 1), (4, 8), mode='bilinear',
                             align_corners=False)[0]
    assert torch.equal(out.pred_sem_seg.data[0], weighted.argmax(0))
    assert (out.pred_sem_seg.data[0, :, :3] == 17).all() and (out.pred_sem_seg.data[0, :, 5:] == 0).all()
    torch.testing.assert_close(out.seg_logits.data.exp(), weighted)
    plain = model.predict(torch.zeros(1, 3, 2, 4), [city])[0]           # other images: no prior
    assert (plain.pred_sem_seg.data[0] == 0).all()
    with pytest.raises(KeyError, match="class_prior needs img_suffix"):
        tiny_segmentor(test_cfg=dict(class_prior=dict(frequencies='dark_zurich', scale=0.16)))
    with pytest.raises(ValueError, match='class_prior: 3 class weights for 19 classes'):
        tiny_segmentor(test_cfg=dict(class_prior=dict(PRIOR, frequencies=[0.5, 0.3, 0.2])))


FREQ = [0.36869696, 0.06084986, 0.22824049, 0.00655399, 0.00877272, 0.01227341, 0.00207795, 0.0055127,
        0.15928651, 0.01157818, 0.04018982, 0.01218957, 0.00135122, 0.06994545, 0.00267456, 0.00235192,
        0.00232904, 0.00098658, 0.00413907]
MEAN_LOG = sum(math.log(f) for f in FREQ) / 19
STD_LOG = math.sqrt(sum((math.log(f) - MEAN_LOG) ** 2 for f in FREQ) / 18)
