"""PCPR's reconstructed parts (docs/methods.md §2.5): the LR / HR pseudo-label filter with offline labels
inside DACS, the multi-prototype assignment / update / losses by hand and against a per-class reference,
and the MultiPrototypeContrast objective."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.datasets import SyntheticDrivingDataset, UDADataset
from mmseg_procl.datasets.transforms import PackSegInputs
from mmseg_procl.models.losses.multi_prototype import (assigned_means, momentum_update,
                                                       prototype_consistency_loss, prototype_contrast_loss,
                                                       sinkhorn_assign)
from mmseg_procl.registry import MODELS
from mmseg_procl.uda.objectives.multi_prototype_contrast import MultiPrototypeContrast
from mmseg_procl.uda.scale_consistency import ScaleConsistencyFilter
from mmseg_procl.uda.stage_context import StageContext
from mmseg_procl.utils import register_all_modules

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'datasets'))
from test_offline_pseudo_labels import target, write_tree  # noqa: E402


def onehot_logits(labels, num_classes=3):
    """(1, C, 1, N) logits whose argmax is ``labels``."""
    return F.one_hot(torch.tensor(labels), num_classes).float().t()[None, :, None, :] * 5


# ----------------------------------------------------------------------------------------------- filter
def test_filter_keeps_agreeing_pixels_and_fills_the_others_by_hand():
    # the fused label of pixel 2 equals the detail's, but context and detail disagree there
    fused = torch.tensor([[[0, 1, 1, 1]]])
    scales = dict(context=onehot_logits([0, 1, 0, 2]), detail=onehot_logits([0, 1, 1, 0]))
    offline = torch.tensor([[[2, 2, 2, 255]]])
    labels, agree = ScaleConsistencyFilter()(fused, scales, offline)
    assert torch.equal(agree, torch.tensor([[[True, True, False, False]]]))
    assert torch.equal(labels, torch.tensor([[[0, 1, 2, 255]]]))              # offline where they disagree
    labels, _ = ScaleConsistencyFilter(use_offline=False)(fused, scales)
    assert torch.equal(labels, torch.tensor([[[0, 1, 255, 255]]]))
    with pytest.raises(ValueError, match='use_offline=True\\) needs the offline pseudo-labels'):
        ScaleConsistencyFilter()(fused, scales)
    with pytest.raises(ValueError, match=r'offline labels \(1, 1, 3\) and pseudo-labels \(1, 1, 4\) differ'):
        ScaleConsistencyFilter()(fused, scales, offline[..., :3])
    with pytest.raises(ValueError, match="use_offline must be True or False, got 'yes'"):
        ScaleConsistencyFilter(use_offline='yes')


def build_pcpr_dacs(**uda):
    """The tiny PCPR demo's DACS (tiny MIC shrinking) without its masked stage, with ``uda`` overrides."""
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile('tests/fixtures/tiny_mic.py'))
    cfg.model.model.update(type='PCPREncoderDecoder', detail_crop='class_aware')
    cfg.model.model.decode_head.type = 'PCPRHead'
    cfg.model.update(dict(masking=None, stages=None,
                          label_filter=dict(type='ScaleConsistencyFilter', use_offline=True)), **uda)
    cfg.model.model.data_preprocessor.size = None
    return MODELS.build(cfg.model)


def test_dacs_filters_the_teacher_labels_with_its_scales_and_the_offline_labels(tmp_path):
    root = write_tree(tmp_path)                              # offline labels: 0 on the left, 13 on the right
    uda = UDADataset(source=SyntheticDrivingDataset(style='source', num_samples=2, img_size=(32, 16), seed=3,
                                                    pipeline=[PackSegInputs()]),
                     target=target(root, [dict(type='LoadImageFromFile'), dict(type='LoadPseudoLabels'),
                                          dict(type='PackSegInputs')]))
    algo = build_pcpr_dacs()
    context = torch.zeros(2, 19, 16, 32)
    context[:, 5] = 1                                        # the context says pole everywhere
    detail = torch.zeros(2, 19, 16, 32)
    detail[:, 5, :8] = 1                                 # the detail agrees on the top half, says car below
    detail[:, 13, 8:] = 1
    fused = detail + context
    algo.ema_model.encode_decode_scales = lambda x: dict(fused=fused, context=context, detail=detail)
    batch = algo.data_preprocessor(pseudo_collate([uda[0], uda[1]]), True)
    state = algo.iteration_state(batch)
    labels = state['pseudo_labels']
    expected = torch.full((16, 32), 5)
    expected[8:, :16], expected[8:, 16:] = 0, 13             # disagreement -> offline label (0 | 13)
    assert torch.equal(labels[0], expected) and torch.equal(labels[1], expected)
    assert state['scale_agreement'].float().mean() == 0.5
    # the batch weight q stays that of the fused teacher prediction: max softmax of [2 or 1, 1 or 0, 0, ...]
    assert torch.allclose(state['pseudo_weights'], torch.zeros(2, 16, 32))   # no pixel reaches 0.968


def test_dacs_refuses_a_filter_it_cannot_serve():
    with pytest.raises(ValueError, match='reads the teacher.s context and detail predictions; the segmentor '
                                         'HRDAEncoderDecoder has none'):
        register_all_modules()
        cfg = compose_uda_model(Config.fromfile('tests/fixtures/tiny_mic.py'))
        cfg.model.update(label_filter=dict(type='ScaleConsistencyFilter'))
        MODELS.build(cfg.model)
    with pytest.raises(ValueError, match='cannot be combined with target_crop ClassBalancedCrop'):
        build_pcpr_dacs(target_crop=dict(type='ClassBalancedCrop', crop_size=(8, 16)))


# ----------------------------------------------------------------------------------------------- prototypes
def reference_sinkhorn(sim, labels, valid, num_classes, epsilon=0.05, iters=3):
    """ProtoSeg's loop written per class on (K, n) matrices of the class's valid pixels."""
    out = torch.zeros(len(labels), dtype=torch.long)
    for c in range(num_classes):
        idx = torch.nonzero((labels == c) & (valid > 0)).flatten()
        if len(idx) == 0:
            continue
        q = torch.exp(sim[idx].double() / epsilon).t()          # (K, n)
        k, n = q.shape
        q /= q.sum()
        for _ in range(iters):
            q /= q.sum(dim=1, keepdim=True)
            q /= k
            q /= q.sum(dim=0, keepdim=True)
            q /= n
        out[idx] = q.argmax(dim=0)
    return out


def test_sinkhorn_balances_the_prototypes_of_a_class_by_hand():
    # all four pixels prefer prototype 0 (plain argmax would assign them all to it); the balanced assignment
    # gives the two pixels with the smallest preference margin to prototype 1
    sim = torch.tensor([[0.9, 0.5], [0.8, 0.4], [0.6, 0.55], [0.5, 0.48]])
    labels, valid = torch.zeros(4, dtype=torch.long), torch.ones(4)
    assert torch.equal(sinkhorn_assign(sim, labels, valid, 1), torch.tensor([0, 0, 1, 1]))


def test_sinkhorn_matches_the_per_class_reference_with_invalid_pixels():
    torch.manual_seed(0)
    sim = F.normalize(torch.randn(300, 4), dim=1)
    labels = torch.randint(0, 5, (300,))
    valid = (torch.rand(300) > 0.3).float()
    ours = sinkhorn_assign(sim, labels, valid, 5)
    ref = reference_sinkhorn(sim, labels, valid, 5)
    assert torch.equal(ours[valid > 0], ref[valid > 0])
    assert len(set(ours[valid > 0].tolist())) == 4


def test_momentum_update_and_means_by_hand():
    prototypes = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])         # C = 1, K = 2
    feats = torch.tensor([[0.0, 1.0], [0.0, 3.0], [5.0, 5.0]])
    labels, assign = torch.zeros(3, dtype=torch.long), torch.tensor([0, 0, 1])
    valid = torch.tensor([1.0, 1.0, 0.0])                          # the third pixel is ignored
    sums, counts = assigned_means(feats, labels, assign, valid, 1, 2)
    assert torch.equal(sums, torch.tensor([[0.0, 4.0], [0.0, 0.0]]))
    assert torch.equal(counts, torch.tensor([2.0, 0.0]))
    new = momentum_update(prototypes, sums, counts, momentum=0.5)
    # prototype 0: normalise(0.5 [1, 0] + 0.5 [0, 1]) = [0.7071, 0.7071]; prototype 1 has no pixel: unchanged
    assert torch.allclose(new, torch.tensor([[[math.sqrt(0.5), math.sqrt(0.5)], [0.0, 1.0]]]))


def test_contrast_and_consistency_losses_by_hand():
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0]])                # C = 2, K = 1, tau folded in
    labels, assign = torch.tensor([0, 0]), torch.zeros(2, dtype=torch.long)
    weights = torch.tensor([0.5, 0.0])                              # pixel 2 invalid
    expected = 0.5 * math.log(1 + math.exp(-1))                     # CE([1, 0], 0), weighted, one valid pixel
    loss = prototype_contrast_loss(logits, labels, assign, weights, 1)
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)
    # K = 2: target index = c * K + k
    wide = torch.tensor([[0.0, 2.0, 0.0, 0.0]])
    loss = prototype_contrast_loss(wide, torch.tensor([0]), torch.tensor([1]), torch.ones(1), 2)
    assert math.isclose(loss.item(), -math.log(math.exp(2) / (math.exp(2) + 3)), rel_tol=1e-6)
    # KL(p_hr || p_lr): p_hr = [.5, .5], p_lr = [.75, .25]
    lr, hr = torch.tensor([[math.log(3.0), 0.0]]), torch.zeros(1, 2)
    kl = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert math.isclose(prototype_consistency_loss(lr, hr).item(), kl, rel_tol=1e-5)
    lr.requires_grad_(True), hr.requires_grad_(True)
    prototype_consistency_loss(lr, hr).backward()
    assert hr.grad is None or (hr.grad == 0).all()                  # the detail side is the fixed target
    assert lr.grad.abs().sum() > 0


class FakeHead:
    output_stride = 4


class FakeModel:
    decode_head = FakeHead()


def stage_ctx(stage='source', weights=None, detail_value=3.0):
    """A 1 x 8 x 8 input whose PCPRHead outputs are known: context features 1, detail features
    ``detail_value`` at the top-left feature position; the crop box covers the whole 2 x 2 feature grid."""
    torch.manual_seed(0)
    context = torch.ones(1, 4, 2, 2, requires_grad=True)
    detail = torch.zeros(1, 4, 2, 2)
    detail[:, :, :1, :1] = detail_value
    hrda = dict(context_features=context, detail_features=detail,
                detail_mask=torch.tensor([[[[1.0]]]]), feature_weight=torch.full((1, 1, 2, 2), 0.25))
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    return StageContext(stage, torch.zeros(1, 3, 8, 8), [], [], None, labels, weights, 0,
                        dict(hrda=hrda, crop_box=(0, 8, 0, 8)), FakeModel())


def build_objective(**kw):
    register_all_modules()
    torch.manual_seed(0)
    return MultiPrototypeContrast(num_classes=2, num_prototypes=2, in_channels=4, proj_channels=3, **kw)


def test_objective_fuses_features_with_the_weighter_inside_the_crop():
    objective = build_objective()
    ctx = stage_ctx()
    fused = objective.fused_features(ctx.extras['hrda'])
    # the 1 x 1 context-grid mask covers the whole 2 x 2 grid here; F = 1 + 1 * 0.25 * (detail - 1)
    expected = torch.full((1, 4, 2, 2), 0.75)
    expected[:, :, 0, 0] = 1 + 0.25 * 2
    assert torch.allclose(fused, expected)
    assert torch.equal(build_objective(feature_weighting=False).fused_features(ctx.extras['hrda']),
                       ctx.extras['hrda']['context_features'])


def test_objective_losses_gradients_and_prototype_updates():
    objective = build_objective()
    before = objective.prototypes.clone()
    losses = objective(stage_ctx('mixed'))
    assert set(losses) == {'loss_proto_contrast', 'loss_proto_consistency'}
    assert torch.equal(objective.prototypes, before)                     # mixed: no update (source only)
    ctx = stage_ctx('source')
    losses = objective(ctx)
    (losses['loss_proto_contrast'] + losses['loss_proto_consistency']).backward()
    assert objective.projection_head.proj[0].weight.grad.abs().sum() > 0
    assert ctx.extras['hrda']['context_features'].grad.abs().sum() > 0
    moved = (objective.prototypes - before).abs().sum(dim=-1)
    assert (moved[0] > 0).any() and (moved[1] == 0).all()               # class 0 pixels only
    assert torch.allclose(objective.prototypes.norm(dim=-1), torch.ones(2, 2))
    only = build_objective(consistency_weight=0.0)
    assert only.loss_names == ('loss_proto_contrast',) and set(only(stage_ctx())) == {'loss_proto_contrast'}


def test_objective_weights_and_ignored_labels_reach_the_contrast():
    objective = build_objective(consistency_weight=0.0)
    zero = objective(stage_ctx('mixed', weights=torch.zeros(1, 8, 8)))['loss_proto_contrast']
    assert zero == 0                                                    # every pixel weighted 0
    full = objective(stage_ctx('mixed', weights=torch.ones(1, 8, 8)))['loss_proto_contrast']
    half = objective(stage_ctx('mixed', weights=torch.full((1, 8, 8), 0.5)))['loss_proto_contrast']
    assert full > 0 and torch.allclose(half, full / 2)


def test_objective_configuration_errors_are_named():
    with pytest.raises(ValueError, match='must be >= 0 and not both 0'):
        build_objective(contrast_weight=0.0, consistency_weight=0.0)
    with pytest.raises(ValueError, match=r"update_stages \['target'\] are not among its stages"):
        build_objective(update_stages=('target',))
    ctx = stage_ctx()
    ctx.extras.pop('hrda')
    with pytest.raises(KeyError, match="stage 'source' has no PCPRHead decoder features"):
        build_objective()(ctx)
    ctx = stage_ctx()
    ctx.labels = torch.zeros(1, 8, 9, dtype=torch.long)
    with pytest.raises(ValueError, match=r'labels of size \(8, 9\) are not a multiple of the feature grid'):
        build_objective()(ctx)
    with pytest.raises(ValueError, match='in_channels=256, num_classes=19, but the decode head has '
                                         'channels=128, num_classes=19'):
        build_pcpr_dacs(objectives=[dict(type='MultiPrototypeContrast', in_channels=256)])
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile('tests/fixtures/tiny_mic.py'))
    cfg.model.objectives = [dict(type='MultiPrototypeContrast', in_channels=16)]
    with pytest.raises(ValueError, match='reads the decoder features of PCPRHead; the segmentor '
                                         'HRDAEncoderDecoder has HRDAHead'):
        MODELS.build(cfg.model)
