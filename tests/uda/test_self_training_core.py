"""The composable self-training core: stages on hand-built batches, the state, the policy parts, build
checks, backward modes, teacher evaluation.

The DACS values are pinned against hand-built inputs: a wrong mix direction, the student instead of
the teacher making the pseudo-labels, missing masked rows or a stage on the wrong images fail here.
"""
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from torch import nn

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.registry import MODELS
from mmseg_procl.structures import SegDataSample
from mmseg_procl.uda import EMATeacher, PseudoLabeller, StrongAugmentation
from mmseg_procl.uda.iteration_state import IterationState
from mmseg_procl.uda.teacher import disable_dropout
from mmseg_procl.utils import register_all_modules

TINY = 'tests/fixtures/tiny_dacs.py'
B, H, W = 2, 32, 64


def build_dacs(**uda):
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile(TINY))
    cfg.model.update(uda)
    torch.manual_seed(0)
    return MODELS.build(cfg.model), cfg


def hand_batch():
    """A preprocessed UDA batch: source images 1.0, target images -1.0, source labels by column."""
    src_labels = torch.zeros(B, H, W, dtype=torch.long)
    src_labels[:, :, W // 2:] = 13                                       # left road, right car
    meta = dict(img_shape=(H, W), pad_shape=(H, W), ori_shape=(H, W))
    samples = [SegDataSample(metainfo=meta, gt_sem_seg=PixelData(data=src_labels[i:i + 1]))
               for i in range(B)]
    return dict(source=dict(inputs=torch.ones(B, 3, H, W), data_samples=samples),
                target=dict(inputs=-torch.ones(B, 3, H, W),
                            data_samples=[SegDataSample(metainfo=meta) for _ in range(B)]))


def fixed_logits(label: int, confidence_logit: float):
    """encode_decode stand-in: every pixel predicts ``label`` with the given logit (others 0)."""
    def encode_decode(inputs, metas):
        logits = torch.zeros(inputs.shape[0], 19, *inputs.shape[2:])
        logits[:, label] = confidence_logit
        return logits
    return encode_decode


def dacs_state(algo):
    """A state over the hand batch with: teacher says 'sky' (10) confidently, student 'car' (13),
    the ClassMix mask takes the left half of image 0 and nothing of image 1, no augmentation."""
    algo.ema_model.encode_decode = fixed_logits(10, 20.0)
    algo.model.encode_decode = fixed_logits(13, 20.0)
    masks = torch.zeros(B, 1, H, W)
    masks[0, :, :, :W // 2] = 1
    algo.mixer.masks = lambda labels: masks
    state = algo.iteration_state(hand_batch())
    state._values['aug_switches'] = (False, False)
    return state, masks


def test_dacs_state_values_on_a_hand_built_batch():
    algo, _ = build_dacs(pseudo_labeller=dict(threshold=0.968, ignore_top=3, ignore_bottom=5))
    state, masks = dacs_state(algo)
    pl, pw = state['pseudo_labels'], state['pseudo_weights']
    assert torch.equal(pl, torch.full((B, H, W), 10))                  # the teacher labels the target
    q = 1.0                                                            # p(sky) = e^20/(e^20+18) > .968
    assert torch.allclose(pw[:, 3:-5], torch.full((B, H - 8, W), q))
    assert pw[:, :3].abs().sum() == 0 and pw[:, -5:].abs().sum() == 0  # masked rows of the crop
    mixed, labels, weights = state['mixed'], state['mixed_labels'], state['mixed_weights']
    assert torch.equal(mixed[0, :, :, :W // 2], torch.ones(3, H, W // 2))     # source pixels
    assert torch.equal(mixed[0, :, :, W // 2:], -torch.ones(3, H, W // 2))    # target pixels
    assert torch.equal(mixed[1], -torch.ones(3, H, W))
    assert torch.equal(labels[0, :, :W // 2], torch.zeros(H, W // 2, dtype=torch.long))   # road (src)
    assert torch.equal(labels[0, :, W // 2:], torch.full((H, W // 2), 10))    # pseudo sky
    assert torch.equal(labels[1], torch.full((H, W), 10))
    assert torch.equal(weights[0, :, :W // 2], torch.ones(H, W // 2))        # source weight 1, rows too
    assert torch.equal(weights[0, :, W // 2:], pw[0, :, W // 2:])
    assert torch.equal(weights[1], pw[1])


def test_batch_scalar_weight_is_the_confident_fraction():
    algo, _ = build_dacs(pseudo_labeller=dict(threshold=0.968, ignore_top=0, ignore_bottom=0))
    state, _ = dacs_state(algo)
    algo.ema_model.encode_decode = lambda x, m: torch.cat(
        [torch.zeros(1, 19, H, W), torch.zeros(1, 19, H, W).index_fill_(1, torch.tensor([10]), 20.0)])
    pw = state['pseudo_weights']                  # image 0 uniform (p = 1/19), image 1 confident
    assert torch.allclose(pw, torch.full((B, H, W), 0.5))


def test_stages_train_on_their_own_inputs_in_order():
    algo, cfg = build_dacs()
    state, _ = dacs_state(algo)
    seen = []
    real = algo.model.train_forward

    def spy(inputs, samples, loss_heads):
        seen.append((inputs.clone(), torch.stack([s.gt_sem_seg.data[0] for s in samples]),
                     None if 'seg_weight' not in samples[0] else
                     torch.stack([s.seg_weight.data[0] for s in samples]), tuple(loss_heads)))
        return real(inputs, samples, loss_heads)
    algo.model.train_forward = spy
    wrapper = build_optim_wrapper(algo, cfg.optim_wrapper)
    for stage in algo.stages:
        algo.run_stage(stage, state, wrapper)
    assert [s.name for s in algo.stages] == ['source', 'mixed']
    (src_in, src_lab, src_w, heads), (mix_in, mix_lab, mix_w, _) = seen
    assert torch.equal(src_in, torch.ones(B, 3, H, W)) and src_w is None
    assert torch.equal(src_lab, state['source_labels']) and heads == ('decode_head', 'auxiliary_head')
    assert torch.equal(mix_in, state['mixed']) and torch.equal(mix_lab, state['mixed_labels'])
    assert torch.equal(mix_w, state['mixed_weights'])


def test_state_computes_each_entry_once_and_names_unknown_entries():
    calls = []
    state = IterationState({'a': lambda s: calls.append('a') or 1,
                            'b': lambda s: s['a'] + 1})
    assert state['b'] == 2 and state['b'] == 2 and state['a'] == 1 and calls == ['a']
    with pytest.raises(KeyError, match="no entry 'c'; known entries: \\['a', 'b'\\]"):
        state['c']
    loop = IterationState({'x': lambda s: s['y'], 'y': lambda s: s['x']})
    with pytest.raises(RuntimeError, match='x -> y -> x'):
        loop['x']


def test_build_checks_name_the_stage_and_the_objectives():
    fd = dict(type='ImageNetFeatureDistance', lambda_fd=0.005, stages=('target', ))
    with pytest.raises(ValueError, match=r"ImageNetFeatureDistance acts in stages \['target'\] that the "
                                         r"algorithm does not run; its stages are \['source', 'mixed'\]"):
        build_dacs(objectives=[fd])
    twice = [dict(type='ImageNetFeatureDistance', lambda_fd=0.005, stages=('source', ))] * 2
    with pytest.raises(ValueError, match=r"stage 'source': the loss key 'loss_imnet_feat_dist' is produced "
                                         r'by both ImageNetFeatureDistance and ImageNetFeatureDistance'):
        build_dacs(objectives=twice)
    with pytest.raises(ValueError, match=r"stage 'mixed': inputs='mixd' is not an entry of the iteration "
                                         r'state'):
        build_dacs(stages=[dict(name='mixed', inputs='mixd', labels='mixed_labels')])
    contrast = dict(type='SemanticContrast', prototypes='stats', stages=('source', ))
    with pytest.raises(ValueError, match=r"SemanticContrast reads the prototype source 'stats', but the "
                                         r'algorithm has \[\]'):
        build_dacs(objectives=[contrast])


def test_per_iteration_backward_gives_the_per_stage_gradients():
    grads = {}
    for mode in ('stage', 'iteration'):
        algo, cfg = build_dacs(backward=mode)
        algo.train()
        state, _ = dacs_state(algo)
        wrapper = build_optim_wrapper(algo, cfg.optim_wrapper)
        algo.zero_grad()
        torch.manual_seed(1)
        losses = [algo.run_stage(stage, state, wrapper)[1] for stage in algo.stages]
        if mode == 'iteration':
            assert all(loss is not None for loss in losses)
            wrapper.backward(sum(losses))
        else:
            assert losses == [None, None]
        grads[mode] = [p.grad.clone() for p in algo.model.parameters() if p.grad is not None]
    assert len(grads['stage']) == len(grads['iteration']) > 10
    for a, b in zip(grads['stage'], grads['iteration']):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_predict_on_teacher_evaluates_the_ema_model():
    algo, _ = build_dacs(predict_on='teacher')
    algo.ema_model.forward = lambda *a, **k: 'teacher'
    algo.model.forward = lambda *a, **k: 'student'
    assert algo(torch.zeros(1), None, 'predict') == 'teacher'
    assert algo(torch.zeros(1), None, 'tensor') == 'student'


def test_teacher_policy_ramp_and_buffer_averaging():
    teacher, student = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    with torch.no_grad():
        student.weight.fill_(3.0)
        teacher.weight.fill_(1.0)
    student.running_mean.fill_(4.0)
    student.num_batches_tracked.fill_(9)
    EMATeacher(alpha=0.9, ramp=False, average_buffers=True).update(teacher, student, 5)
    assert torch.allclose(teacher.weight, torch.full((2, ), 0.9 * 1 + 0.1 * 3))     # constant alpha
    assert torch.allclose(teacher.running_mean, torch.full((2, ), 0.1 * 4))
    assert teacher.num_batches_tracked.item() == 9                                  # integers copied
    kept = nn.BatchNorm1d(2)
    EMATeacher(alpha=0.9).update(kept, student, 1)                                  # alpha_1 = 0.5
    assert torch.allclose(kept.weight, torch.full((2, ), 2.0)) and kept.running_mean.abs().sum() == 0


def test_pixel_weighting_keeps_only_confident_pixels():
    confidence = torch.tensor([[[0.99, 0.5], [0.97, 0.1]]])
    weights = PseudoLabeller(threshold=0.968, weighting='pixel').weights(confidence)
    assert torch.allclose(weights, torch.tensor([[[0.5, 0.0], [0.5, 0.0]]]))       # q = 2 / 4
    batch = PseudoLabeller(threshold=0.968, ignore_bottom=1).weights(confidence)
    assert torch.allclose(batch, torch.tensor([[[0.5, 0.5], [0.0, 0.0]]]))


def test_blur_sigmas_are_drawn_only_when_blur_applies():
    aug = StrongAugmentation()
    imgs, mean, std = torch.zeros(2, 3, 16, 16), torch.zeros(3), torch.ones(3)
    np.random.seed(3)
    aug(imgs, mean, std, (False, False))
    assert np.random.uniform() == np.random.RandomState(3).uniform()          # untouched stream
    np.random.seed(3)
    aug(imgs, mean, std, (False, True))
    expected = np.random.RandomState(3)
    expected.uniform(0.15, 1.15, size=2)
    assert np.random.uniform() == expected.uniform()                          # two sigmas drawn


def test_teacher_runs_without_attention_dropout():
    from mmseg_procl.models.backbones import mit_b0
    torch.manual_seed(0)
    net = mit_b0(attn_drop_rate=0.5, drop_rate=0.5, drop_path_rate=0.5).train()
    disable_dropout(net)
    x = torch.randn(1, 3, 64, 64)
    first, second = net(x)[-1], net(x)[-1]
    assert torch.equal(first, second)                          # no dropout left, BN/LN unchanged
    assert net.training                                        # the rest stays in train mode
