"""SePiCo on the core: class statistics, the three contrasts and the regulariser against hand-computed
values, memory-bank eviction, class-balanced cropping, the target stage, exact resume of the state."""
import math
import os

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.models.losses.semantic_contrast import (bank_contrast, dist_contrast, proto_contrast,
                                                        proto_regulariser)
from mmseg_procl.registry import MODELS
from mmseg_procl.uda import ClassBalancedCrop
from mmseg_procl.uda import target_crop as target_crop_module
from mmseg_procl.uda.prototypes import ClassFeatureStatistics
from mmseg_procl.uda.stage_context import StageContext
from mmseg_procl.utils import register_all_modules
import tool_runs

TINY = os.path.join(tool_runs.REPO, 'tests', 'fixtures', 'tiny_sepico.py')

# three anchors in 2-d, two classes
F = torch.tensor([[0.6, 0.8], [1.0, 0.0], [0.0, 1.0]])
Y = torch.tensor([0, 1, 1])
MU = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
VAR = torch.tensor([[0.5, 0.1], [0.2, 0.4]])


def ce(logits, label):
    """Cross entropy of one row (python floats)."""
    return -logits[label] + math.log(sum(math.exp(v) for v in logits))


def test_proto_contrast_by_hand():
    tau = 2.0
    expected = np.mean([ce([float(F[i] @ MU[c]) / tau for c in range(2)], int(Y[i])) for i in range(3)])
    valid = torch.ones(3, dtype=torch.bool)
    assert proto_contrast(F, Y, valid, MU, tau).item() == pytest.approx(expected, rel=1e-6)
    partial = torch.tensor([True, False, True])       # invalid anchors do not count
    expected = np.mean([ce([float(F[i] @ MU[c]) / tau for c in range(2)], int(Y[i])) for i in (0, 2)])
    assert proto_contrast(F, Y, partial, MU, tau).item() == pytest.approx(expected, rel=1e-6)
    assert proto_contrast(F, Y, torch.zeros(3, dtype=torch.bool), MU, tau).item() == 0.0


def test_dist_contrast_by_hand():
    tau, lam = 2.0, 0.5
    total = []
    for i in range(3):
        f = F[i].numpy()
        logits = [f @ MU[c].numpy() / tau + lam / (2 * tau ** 2) * (f ** 2 @ VAR[c].numpy())
                  for c in range(2)]
        y = int(Y[i])
        total.append(ce(logits, y) + lam / (2 * tau ** 2) * (f ** 2 @ VAR[y].numpy()))
    value = dist_contrast(F, Y, torch.ones(3, dtype=torch.bool), MU, VAR, tau, lam).item()
    assert value == pytest.approx(np.mean(total), rel=1e-6)


def test_bank_contrast_by_hand():
    tau = 2.0
    banks = [np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [0.6, 0.8], [0.0, 0.0]])]
    losses = []
    for i in range(3):
        f, y = F[i].numpy(), int(Y[i])
        pos = banks[y] @ f / tau
        neg = sum(math.exp(float(np.mean(banks[k] @ f / tau))) for k in range(2) if k != y)
        losses.append(-np.mean([math.log(math.exp(p) / (math.exp(p) + neg)) for p in pos]))
    bank = torch.zeros(2, 4, 2)
    bank[0, :2] = torch.tensor(banks[0], dtype=torch.float)
    bank[1, :3] = torch.tensor(banks[1], dtype=torch.float)
    bank[0, 3] = 9.0                                        # unused slots do not count
    value = bank_contrast(F, Y, torch.ones(3, dtype=torch.bool), bank, torch.tensor([2, 3]), tau).item()
    assert value == pytest.approx(np.mean(losses), rel=1e-6)


def test_regulariser_by_hand():
    tau = 2.0
    mean_feat = F.mean(0).numpy()
    logits = np.array([mean_feat @ MU[c].numpy() / tau for c in range(2)])
    expected = np.sum(logits - np.log(np.exp(logits).sum())) / (2 * math.log(2))
    value = proto_regulariser(F, torch.ones(3, dtype=torch.bool), MU, tau).item()
    assert value == pytest.approx(expected, rel=1e-6) and value < 0
    assert proto_regulariser(F, torch.zeros(3, dtype=torch.bool), MU, tau).item() == 0.0


def test_statistics_are_the_exact_cumulative_mean_and_variance():
    torch.manual_seed(0)
    stats = ClassFeatureStatistics(num_classes=3, feature_dim=4)
    batches = [(torch.randn(7, 4), torch.tensor([0, 0, 1, 1, 1, 2, 0])),
               (torch.randn(5, 4), torch.tensor([1, 1, 0, 2, 2])),
               (torch.randn(3, 4), torch.tensor([2, 1, 2]))]
    valid_masks = [torch.ones(7, dtype=torch.bool), torch.tensor([True, True, True, False, True]),
                   torch.ones(3, dtype=torch.bool)]
    for (f, y), v in zip(batches, valid_masks):
        stats.update_statistics(f, y, v)
    feats = torch.cat([f[v] for (f, _), v in zip(batches, valid_masks)])
    labels = torch.cat([y[v] for (_, y), v in zip(batches, valid_masks)])
    for c in range(3):
        x = feats[labels == c]
        assert stats.count[c].item() == len(x)
        torch.testing.assert_close(stats.mean[c], x.mean(0), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(stats.variance[c], x.var(0, unbiased=False), rtol=1e-5, atol=1e-6)


def _two_rank_update(rank, init_file, batches, out):
    """One rank of a gloo process group: update statistics with its own batches, save the state."""
    torch.distributed.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                                         world_size=2)
    stats = ClassFeatureStatistics(num_classes=3, feature_dim=4, memory_length=4)
    for feats, labels in batches[rank]:
        stats.update_statistics(feats, labels, torch.ones(len(labels), dtype=torch.bool))
    torch.save(stats.state_dict(), f'{out}.{rank}')
    torch.distributed.destroy_process_group()


def test_two_ranks_hold_the_statistics_of_the_union_of_their_batches(tmp_path):
    torch.manual_seed(1)
    batches = [[(torch.randn(6, 4), torch.tensor([0, 0, 1, 1, 1, 0])),
                (torch.randn(3, 4), torch.tensor([2, 2, 0]))],
               [(torch.randn(4, 4), torch.tensor([1, 2, 2, 2])),
                (torch.randn(2, 4), torch.tensor([1, 1]))]]
    torch.multiprocessing.spawn(_two_rank_update, args=(str(tmp_path / 'init'), batches,
                                                        str(tmp_path / 'state')), nprocs=2)
    one = ClassFeatureStatistics(num_classes=3, feature_dim=4, memory_length=4)
    for (f0, y0), (f1, y1) in zip(*batches):
        one.update_statistics(torch.cat([f0, f1]), torch.cat([y0, y1]), torch.ones(len(y0) + len(y1),
                                                                                    dtype=torch.bool))
    for rank in (0, 1):
        state = torch.load(f'{tmp_path / "state"}.{rank}', weights_only=True)
        for key, value in one.state_dict().items():
            torch.testing.assert_close(state[key], value, rtol=1e-5, atol=1e-6, msg=key)


def test_first_update_by_hand_and_untouched_absent_class():
    stats = ClassFeatureStatistics(num_classes=3, feature_dim=2)
    stats.update_statistics(torch.tensor([[1.0, 2.0], [3.0, 6.0]]), torch.tensor([1, 1]),
                            torch.ones(2, dtype=torch.bool))
    assert stats.mean[1].tolist() == [2.0, 4.0] and stats.variance[1].tolist() == [1.0, 4.0]
    assert stats.count.tolist() == [0.0, 2.0, 0.0]
    assert stats.mean[0].abs().sum() == 0 and stats.mean[2].abs().sum() == 0


def test_memory_bank_starts_with_zero_and_evicts_the_oldest():
    stats = ClassFeatureStatistics(num_classes=2, feature_dim=1, memory_length=3)
    assert stats.bank_size.tolist() == [1, 1]
    for value in (1.0, 2.0, 3.0):
        stats.update_statistics(torch.tensor([[value]]), torch.tensor([0]), torch.ones(1, dtype=torch.bool))
    # class 0: the zero vector was evicted by the third append; class 1 untouched
    assert sorted(stats.bank[0, :, 0].tolist()) == [1.0, 2.0, 3.0] and stats.bank_size.tolist() == [3, 1]
    stats.update_statistics(torch.tensor([[4.0]]), torch.tensor([0]), torch.ones(1, dtype=torch.bool))
    assert sorted(stats.bank[0, :, 0].tolist()) == [2.0, 3.0, 4.0]
    assert stats.bank[1, 0, 0].item() == 0.0 and stats.bank_size[1].item() == 1


def test_class_balanced_crop_keeps_the_first_best_window(monkeypatch):
    label = torch.full((4, 12), 255, dtype=torch.long)
    label[:, 0:4] = 1                                   # window A (cols 0-3): one class
    label[:, 4:6] = 2                                   # window B (cols 4-7): 8 x 2, 6 x 3, 2 ignore
    label[0:3, 6:8] = 3
    label[:, 8:10] = torch.tensor([[4, 4], [4, 4], [4, 5], [5, 5]])   # window C: 5 x 4, 3 x 5,
    label[:, 10:12] = 6                                               # 8 x 6
    boxes = iter([(0, 4, 0, 4), (0, 4, 4, 8), (0, 4, 8, 12), (0, 4, 4, 8)])
    monkeypatch.setattr(target_crop_module, 'crop_box', lambda h, w, size: next(boxes))
    crop = ClassBalancedCrop(crop_size=(4, 4), cat_max_ratio=0.75, num_candidates=4)
    # A: one class -> 0; B: max share 8/14 -> log 8 + log 6 = 3.87; C: log 5 + log 3 + log 8 = 4.79
    assert crop.choose(label) == (0, 4, 8, 12)
    scores = [target_crop_module.window_score(label[:, a:b], 0.75).item()
              for a, b in ((0, 4), (4, 8), (8, 12))]
    assert scores == pytest.approx([0.0, math.log(8) + math.log(6),
                                    math.log(5) + math.log(3) + math.log(8)])
    label[:, 8:10] = 6                                  # C: 12 x 6 of 16 = 0.75 -> unbalanced, 0
    assert target_crop_module.window_score(label[:, 8:12], 0.75).item() == 0.0
    twins = torch.cat([label[:, 4:8], label[:, 4:8]], dim=1)       # two windows, equal scores
    boxes = iter([(0, 4, 4, 8), (0, 4, 0, 4)])
    first = ClassBalancedCrop(crop_size=(4, 4), num_candidates=2)
    assert first.choose(twins) == (0, 4, 4, 8)                      # the first of the best


def build_tiny_sepico():
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile(TINY))
    torch.manual_seed(0)
    return MODELS.build(cfg.model), cfg


def build_with(edit):
    """The tiny SePiCo algorithm built after ``edit(cfg.model)``."""
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile(TINY))
    edit(cfg.model)
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('edit, message', [
    (lambda m: m.prototype_sources.source_stats.update(images='sorce'),
     r"prototype source 'source_stats' \(ClassFeatureStatistics\): images='sorce' is not an entry"),
    (lambda m: m.prototype_sources.source_stats.update(head='auxilary_head'),
     r"head='auxilary_head' is not a head of the segmentor EncoderDecoder"),
    (lambda m: m.prototype_sources.source_stats.update(feature_dim=32),
     r'feature_dim=32, but auxiliary_head produces 64-channel embeddings'),
    (lambda m: m.prototype_sources.source_stats.update(num_classes=7),
     r'num_classes=7, but the segmentor predicts 19 classes'),
    (lambda m: m.objectives[0].update(variant='bank'),
     r"SemanticContrast\(variant='bank'\): the prototype source 'source_stats' has no memory bank"),
    (lambda m: m.objectives[0].update(embedding_head='proj'),
     r"SemanticContrast: embedding_head='proj' is not a head"),
    (lambda m: m.stages[1].update(metas='tgt'),
     r"stage 'target': metas='tgt' has no data samples in the iteration state; expected one of "
     r"\['source', 'target'\]"),
    (lambda m: m.stages[1].update(ignore_unweigted=True),
     r"stages\[1\]: unknown key 'ignore_unweigted'; did you mean 'ignore_unweighted'\?"),
    (lambda m: m.stages[1].update(loss_heads='decode_head'),
     r"stages\[1\]: loss_heads='decode_head' must be a tuple"),
    (lambda m: m.stages[1].update(prefix='src'),
     r"stages 'source' and 'target' both log as 'src.'"),
])
def test_build_refuses_inconsistent_sepico_parts(edit, message):
    with pytest.raises(ValueError, match=message):
        build_with(edit)


def test_teacher_statistics_need_a_teacher():
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile(TINY)).model
    source_only = dict(type='SourceOnly', model=cfg.model, prototype_sources=cfg.prototype_sources)
    with pytest.raises(ValueError, match=r"features='teacher', but SourceOnly has no teacher"):
        MODELS.build(source_only)


def test_target_stage_ignores_unweighted_pixels_and_trains_no_decode_loss():
    algo, _ = build_tiny_sepico()
    target = [s for s in algo.stages if s.name == 'target'][0]
    assert target.loss_heads == () and target.inputs == 'target_strong'
    labels = torch.tensor([[[1, 2], [3, 4]]])
    weights = torch.tensor([[[0.5, 0.0], [0.5, 0.0]]])
    from mmseg_procl.uda.iteration_state import IterationState
    state = IterationState({}, dict(target_strong=torch.zeros(1, 3, 2, 2), pseudo_labels=labels,
                                    pseudo_weights=weights))
    _, out, w = algo.stage_data(target, state)
    assert out.tolist() == [[[1, 255], [3, 255]]] and torch.equal(w, weights)


def test_semantic_contrast_objective_value():
    algo, _ = build_tiny_sepico()
    stats = algo.prototype_sources['source_stats']
    torch.manual_seed(1)
    stats.mean.copy_(torch.nn.functional.normalize(torch.randn_like(stats.mean), dim=1))
    stats.variance.uniform_(0, 0.5)
    emb = torch.nn.functional.normalize(torch.randn(1, 64, 2, 2, requires_grad=True), dim=1)
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    labels[:, :, 4:] = 3
    model = type('M', (), {'head_forward': lambda self, head, feats: emb})()
    ctx = StageContext('source', None, [], [], None, labels, None, 0, {}, model, None,
                       algo.prototype_sources)
    out = algo.objectives[0](ctx)['loss_contrast']
    feats = emb.permute(0, 2, 3, 1).reshape(4, 64)
    y = torch.tensor([0, 3, 0, 3])
    valid = torch.ones(4, dtype=torch.bool)
    expected = dist_contrast(feats, y, valid, stats.mean, stats.variance, 100.0) + \
        proto_regulariser(feats, valid, stats.mean, 100.0)
    torch.testing.assert_close(out, expected)


def test_class_balanced_target_crop_relabels_the_crop():
    algo, _ = build_tiny_sepico()
    calls = []
    real = algo.teacher_logits
    algo.teacher_logits = lambda x: calls.append(tuple(x.shape[2:])) or real(x)
    from mmengine.dataset import pseudo_collate
    from mmseg_procl.registry import DATASETS
    cfg = Config.fromfile(TINY)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    np.random.seed(0)
    state = algo.iteration_state(algo.data_preprocessor(pseudo_collate([dataset[0], dataset[3]]), True))
    assert tuple(state['target'].shape[2:]) == (32, 32) and calls == [(32, 64), (32, 32)]
    assert tuple(state['pseudo_labels'].shape) == (2, 32, 32)
    assert tuple(state['mixed'].shape) == (2, 3, 32, 32)          # clean source mixed into the crop


def train(work_dir, *extra):
    return tool_runs.train(TINY, work_dir, *extra)


def logged(work_dir):
    return tool_runs.logged_rows(work_dir, 'src.loss_contrast')


def test_resume_continues_the_statistics_exactly(tmp_path):
    full, part = tmp_path / 'full', tmp_path / 'part'
    train(full)
    train(part, '--cfg-options', 'train_cfg.max_iters=2')
    train(part, '--resume', str(part / 'iter_2.pth'))
    rows = logged(full)
    assert sorted(rows) == [1, 2, 3, 4] and logged(part) == rows
    assert all(rows[i]['tgt.loss_contrast'] > 0 for i in rows)          # the target stage trains
    a = torch.load(full / 'iter_4.pth', map_location='cpu', weights_only=True)['state_dict']
    b = torch.load(part / 'iter_4.pth', map_location='cpu', weights_only=True)['state_dict']
    keys = [k for k in a if k.startswith('prototype_sources.source_stats.')]
    assert sorted(k.split('.')[-1] for k in keys) == ['bank', 'bank_next', 'bank_size', 'count', 'mean',
                                                      'variance']
    assert a['prototype_sources.source_stats.count'].sum() > 0
    for key in keys:
        assert torch.equal(a[key], b[key]), key
