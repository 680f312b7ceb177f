"""SePiCo's Dark Zurich variant in the core (docs/methods.md §2.2.6): the log-frequency class prior, the
day-night fusion of pseudo-labels on hand tensors, and DACS labelling / cropping night and day together."""
import math

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.models.losses import CrossEntropyLoss
from mmseg_procl.models.utils.class_prior import DARK_ZURICH_CLASS_FREQUENCIES, log_frequency_weights
from mmseg_procl.registry import MODELS
from mmseg_procl.structures import SegDataSample
from mmseg_procl.uda import DayNightPseudoLabeller
from mmseg_procl.utils import register_all_modules

B, H, W = 2, 64, 128


def test_log_frequency_class_weights_by_hand():
    f = [0.5, 0.25, 0.125, 0.125]
    logs = [math.log(x) for x in f]
    mean = sum(logs) / 4
    std = math.sqrt(sum((v - mean) ** 2 for v in logs) / 3)           # unbiased, as torch.std
    expected = [(mean - v) / std * 0.1 + 1 for v in logs]
    assert log_frequency_weights(f, 0.1).tolist() == pytest.approx(expected, rel=1e-6)
    dz = log_frequency_weights(DARK_ZURICH_CLASS_FREQUENCIES, 0.16)
    assert dz.argmax() == 17 and dz.argmin() == 0                       # motorcycle rarest, road commonest
    assert CrossEntropyLoss(class_weight=dict(frequencies='dark_zurich', scale=0.05)).class_weight == \
        pytest.approx(log_frequency_weights(DARK_ZURICH_CLASS_FREQUENCIES, 0.05).tolist())
    with pytest.raises(KeyError, match="unknown class frequencies 'acdc'"):
        CrossEntropyLoss(class_weight=dict(frequencies='acdc', scale=0.05))
    with pytest.raises(ValueError, match='scale=5 gives non-positive class weights'):
        log_frequency_weights(DARK_ZURICH_CLASS_FREQUENCIES, 5)


def probs_to_logits(p):
    return torch.log(torch.tensor(p, dtype=torch.float32)).view(1, -1, 1, 1)


def test_day_night_fusion_on_hand_probabilities():
    # 4 classes; class 0 and 1 shift-insensitive ([0, 2)), 2 and 3 not
    labeller = DayNightPseudoLabeller(shift_insensitive_classes=[(0, 2)], day_ratio=0.8, day_confidence=0.4,
                                      threshold=0.5)
    day, night = [0.5, 0.1, 0.3, 0.1], [0.2, 0.3, 0.1, 0.4]
    labels, confidence = labeller.label(probs_to_logits(night), probs_to_logits(day))
    # class 0: day 0.5 > 0.4 -> 0.8 * 0.5 + 0.2 * 0.2 = 0.44; class 1: day 0.1 -> 0.2 * 0.1 + 0.8 * 0.3 = 0.26
    # classes 2, 3: night only -> 0.1, 0.4
    fused = labeller.fuse(torch.softmax(probs_to_logits(night), 1), torch.softmax(probs_to_logits(day), 1))
    assert fused.flatten().tolist() == pytest.approx([0.44, 0.26, 0.1, 0.4], abs=1e-6)
    assert labels.item() == 0 and confidence.item() == pytest.approx(0.44, abs=1e-6)
    weighted = DayNightPseudoLabeller(shift_insensitive_classes=[(0, 2)], class_weight=[0.5, 1, 1, 1.5])
    labels, confidence = weighted.label(probs_to_logits(night), probs_to_logits(day))
    assert labels.item() == 3 and confidence.item() == pytest.approx(0.6, abs=1e-6)     # 0.4 * 1.5 > 0.22
    with pytest.raises(ValueError, match='needs the day partner of every target image'):
        labeller.label(probs_to_logits(night))


def build_sepico(**uda):
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile('tests/fixtures/tiny_mic.py'))
    cfg.model.update(dict(masking=None, stages=None), **uda)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def hand_batch(with_day=True):
    src_labels = torch.zeros(B, H, W, dtype=torch.long)
    meta = dict(img_shape=(H, W), pad_shape=(H, W), ori_shape=(H, W))
    source = [SegDataSample(metainfo=meta, gt_sem_seg=PixelData(data=src_labels[i:i + 1])) for i in range(B)]
    batch = dict(source=dict(inputs=torch.ones(B, 3, H, W), data_samples=source),
                 target=dict(inputs=-torch.ones(B, 3, H, W), data_samples=[SegDataSample(metainfo=meta)] * B))
    if with_day:
        day = torch.arange(B * 3 * H * W, dtype=torch.float32).view(B, 3, H, W)
        batch['target_day'] = dict(inputs=day, data_samples=[SegDataSample(metainfo=meta)] * B)
    return batch


def day_road_night(night_class, night_logit, seen):
    """Teacher: road (0, logit 6) on day images (inputs >= 0), ``night_class`` (logit ``night_logit``) on
    night images (inputs -1)."""
    def encode_decode(inputs, metas):
        seen.append(inputs.clone())
        logits = torch.zeros(inputs.shape[0], 19, *inputs.shape[2:])
        day = (inputs >= 0).all(dim=1)
        logits[:, 0] = torch.where(day, 6.0, 0.0)
        logits[:, night_class] = torch.where(day, logits[:, night_class], night_logit)
        return logits
    return encode_decode


def softmax_peak(logit):
    return math.exp(logit) / (math.exp(logit) + 18), 1 / (math.exp(logit) + 18)


def test_dacs_labels_with_day_partners_and_crops_both_alike():
    crop = dict(type='ClassBalancedCrop', crop_size=(32, 64), cat_max_ratio=1.0, num_candidates=1,
                regenerate=True)
    algo = build_sepico(pseudo_labeller=dict(type='DayNightPseudoLabeller', threshold=0.7), target_crop=crop)
    seen = []
    # night: sky (10, shift-insensitive) at logit 4; day: road at logit 6
    algo.ema_model.encode_decode = day_road_night(10, 4.0, seen)
    np.random.seed(0)
    batch = hand_batch()
    state = algo.iteration_state(batch)
    day_hi, day_lo = softmax_peak(6)
    night_hi, night_lo = softmax_peak(4)
    road = 0.8 * day_hi + 0.2 * night_lo            # day confident in road: day weight 0.8
    sky = 0.2 * day_lo + 0.8 * night_hi             # day not confident in sky: day weight 0.2
    assert road > sky > 0.6 and road == pytest.approx(0.7686, abs=1e-4)
    assert torch.equal(state['pseudo_labels'], torch.zeros(B, 32, 64, dtype=torch.long))     # the day decides
    assert torch.equal(state['pseudo_weights'], torch.ones(B, 32, 64))        # every pixel's max >= 0.7
    assert len(seen) == 4                                          # full: day, night; crop: day, night
    assert (seen[0] >= 0).all() and (seen[1] == -1).all()          # the day partner is labelled first
    y1, y2, x1, x2 = state['target_pseudo']['boxes'][0]
    assert torch.equal(state['target_day'][0], batch['target_day']['inputs'][0, :, y1:y2, x1:x2])
    assert torch.equal(seen[2][0], state['target_day'][0]) and state['target'].shape == (B, 3, 32, 64)
    # a night class that is not shift-insensitive (car) keeps its full night probability and wins
    algo = build_sepico(pseudo_labeller=dict(type='DayNightPseudoLabeller', threshold=0.9))
    algo.ema_model.encode_decode = day_road_night(13, 6.0, [])
    state = algo.iteration_state(hand_batch())
    assert torch.equal(state['pseudo_labels'], torch.full((B, H, W), 13))
    assert day_hi > 0.9 and torch.equal(state['pseudo_weights'], torch.ones(B, H, W))   # car: p = day_hi


def test_day_partners_and_labeller_must_match():
    algo = build_sepico(pseudo_labeller=dict(type='DayNightPseudoLabeller'))
    algo.ema_model.encode_decode = day_road_night(13, 6.0, [])
    with pytest.raises(ValueError, match='fuses night and day predictions, but the batch has no target_day'):
        algo.iteration_state(hand_batch(with_day=False))['pseudo_labels']
    algo = build_sepico()
    algo.ema_model.encode_decode = day_road_night(13, 6.0, [])
    with pytest.raises(ValueError, match='has day partners \\(target_day\\) but pseudo_labeller PseudoLabeller'):
        algo.iteration_state(hand_batch())['pseudo_labels']
