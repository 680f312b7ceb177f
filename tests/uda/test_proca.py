"""ProCA on the core: the prototype contrast and the target labels against hand values, the exact running
class means (ProCA's estimator) and its file, the objective's order (estimators updated with the target,
then the source, before both losses), the algorithm checks, the percentile thresholds and the offline
pseudo-labels, the prototype initialisation over a source set."""
import math
import os

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmseg_procl.apis import proca
from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.errors import CheckpointError
from mmseg_procl.registry import MODELS
from mmseg_procl.uda.iteration_state import IterationState
from mmseg_procl.uda.objectives.proca_contrast import (ProCAContrast, confident_argmax,
                                                       prototype_contrast_loss)
from mmseg_procl.uda.prototypes import ClassMeanEstimator
from mmseg_procl.uda.stage_context import StageContext
from mmseg_procl.utils import register_all_modules
import tool_runs

register_all_modules()
DEMO = os.path.join(tool_runs.REPO, 'configs', 'demo', 'proca_synthetic.py')


def ce(logits, label):
    """Cross entropy of one row (python floats)."""
    return -logits[label] + math.log(sum(math.exp(v) for v in logits))


def test_prototype_contrast_by_hand():
    # pixels (1, 0), (0, 3) and an ignored one; prototypes (2, 0) and (1, 1): unit vectors inside the loss
    x = torch.tensor([[1.0, 0.0, 5.0], [0.0, 3.0, 5.0]]).view(1, 2, 1, 3)
    labels = torch.tensor([[[0, 1, 255]]])
    protos = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    r = 1 / math.sqrt(2)
    tau = 0.5
    expected = (ce([1 / tau, r / tau], 0) + ce([0.0, r / tau], 1)) / 2
    assert prototype_contrast_loss(x, labels, protos, tau).item() == pytest.approx(expected, rel=1e-6)
    # a prototype of zeros (a class never seen) gives cosine 0, as the reference's F.normalize
    zero = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    expected = (ce([1 / tau, 0.0], 0) + ce([0.0, 0.0], 1)) / 2
    assert prototype_contrast_loss(x, labels, zero, tau).item() == pytest.approx(expected, rel=1e-6)
    none = torch.full_like(labels, 255)
    assert prototype_contrast_loss(x, none, protos, tau).item() == 0.0


def test_target_labels_threshold_the_raw_logits():
    logits = torch.tensor([[0.95, 0.1], [0.2, 0.85], [-3.0, -1.0]]).T.reshape(1, 2, 1, 3)
    # raw logits, not probabilities: 0.95 passes, 0.85 and -1.0 (softmax 0.88) do not
    assert confident_argmax(logits, 0.9).tolist() == [[[0, 255, 255]]]


def test_class_mean_estimator_is_the_exact_running_mean(tmp_path):
    est = ClassMeanEstimator(num_classes=3, feature_dim=2)
    est.update(torch.tensor([[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]), torch.tensor([0, 0, 255]))
    assert est.mean[0].tolist() == [2.0, 3.0] and est.count.tolist() == [2.0, 0.0, 0.0]
    est.update(torch.tensor([[5.0, 6.0], [1.0, 1.0]]), torch.tensor([0, 2]))
    assert est.mean.tolist() == [[3.0, 4.0], [0.0, 0.0], [1.0, 1.0]]     # (1 + 3 + 5) / 3, class 1 unseen
    assert est.count.tolist() == [3.0, 0.0, 1.0]
    path = str(tmp_path / 'p.pth')
    est.save(path)
    saved = torch.load(path, weights_only=True)
    assert sorted(saved) == ['Amount', 'Proto'] and saved['Proto'].tolist() == est.mean.tolist()
    again = ClassMeanEstimator(3, 2, init_file=path)
    assert torch.equal(again.mean, est.mean) and torch.equal(again.count, est.count)


def test_class_mean_estimator_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='proca_prototype_init.py'):
        ClassMeanEstimator(3, 2, init_file=str(tmp_path / 'missing.pth'))
    wrong = tmp_path / 'wrong.pth'
    torch.save({'Proto': torch.zeros(3, 4), 'Amount': torch.zeros(3)}, wrong)
    with pytest.raises(CheckpointError, match=r'expected \(3, 2\)'):
        ClassMeanEstimator(3, 2, init_file=str(wrong))
    keys = tmp_path / 'keys.pth'
    torch.save({'mean': torch.zeros(3, 2)}, keys)
    with pytest.raises(CheckpointError, match='Proto'):
        ClassMeanEstimator(3, 2, init_file=str(keys))
    corrupt = tmp_path / 'corrupt.pth'
    corrupt.write_bytes(b'not a checkpoint')
    with pytest.raises(CheckpointError, match='corrupt.pth'):
        ClassMeanEstimator(3, 2, init_file=str(corrupt))


def stage_ctx(stage, feats, logits, labels, state, sources):
    return StageContext(stage, torch.zeros(1, 3, 2, 2), [], [feats], logits if stage == 'source' else None,
                        labels, None, 0, {}, FakeSegmentor(logits), state, sources)


class FakeSegmentor:
    """The decode head's output of the target stage (``head_output('decode_head')``)."""

    def __init__(self, logits):
        self.logits = logits

    def head_forward(self, head, feats):
        assert head == 'decode_head'
        return self.logits


def test_objective_updates_both_domains_before_the_losses_and_weighs_the_levels():
    torch.manual_seed(0)
    sources = dict(proca_feat=ClassMeanEstimator(2, 3), proca_out=ClassMeanEstimator(2, 2))
    sources['proca_feat'].update(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), torch.tensor([0, 1]))
    sources['proca_out'].update(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1]))
    objective = ProCAContrast(temperature=0.5, feature_weight=2.0, output_weight=3.0)
    state = IterationState({})
    f_s = torch.randn(1, 3, 2, 2, requires_grad=True)
    o_s = torch.randn(1, 2, 2, 2, requires_grad=True)
    y_s = torch.tensor([[[0, 1], [255, 1]]])
    f_t = torch.randn(1, 3, 2, 2, requires_grad=True)
    o_t = torch.tensor([[[2.0, 0.1], [0.3, 0.5]], [[0.0, 1.5], [0.2, 0.1]]]).unsqueeze(0).requires_grad_()
    assert objective(stage_ctx('source', f_s, o_s, y_s, state, sources)) == {}
    assert sources['proca_feat'].count.tolist() == [1.0, 1.0]          # nothing updated by the source stage
    losses = objective(stage_ctx('target', f_t, o_t, torch.full((1, 2, 2), 255), state, sources))
    y_t = torch.tensor([[[0, 1], [255, 255]]])          # max logits 2.0, 1.5 pass; 0.3, 0.5 do not
    # by hand: class means of everything seen (the initial pixel, the target and the source pixels; exact
    # running means do not depend on the order, which is the reference's target-then-source)
    expected_counts = [1.0 + 1 + 1, 1.0 + 1 + 2]
    assert sources['proca_feat'].count.tolist() == expected_counts
    levels = (('proca_feat', f_s, f_t, torch.eye(3)[:2]), ('proca_out', o_s, o_t, torch.eye(2)))
    for name, x_s, x_t, init in levels:
        flat_s, flat_t = (x.detach().permute(0, 2, 3, 1).reshape(4, -1) for x in (x_s, x_t))
        means = torch.stack([
            (init[0] + flat_t[0] + flat_s[0]) / 3,
            (init[1] + flat_t[1] + flat_s[1] + flat_s[3]) / 4])
        assert torch.allclose(sources[name].mean, means, atol=1e-6)
    protos = sources['proca_feat'].mean
    expected = prototype_contrast_loss(f_s, y_s, protos, 0.5) + prototype_contrast_loss(f_t, y_t, protos, 0.5)
    assert losses['loss_feat'].item() == pytest.approx(2.0 * expected.item(), rel=1e-6)
    protos = sources['proca_out'].mean
    expected = prototype_contrast_loss(o_s, y_s, protos, 0.5) + prototype_contrast_loss(o_t, y_t, protos, 0.5)
    assert losses['loss_out'].item() == pytest.approx(3.0 * expected.item(), rel=1e-6)
    (losses['loss_feat'] + losses['loss_out']).backward()
    assert f_s.grad.abs().sum() > 0 and o_s.grad.abs().sum() > 0      # source terms reach the source graph


def build_demo(**uda):
    cfg = compose_uda_model(Config.fromfile(DEMO))
    for source in cfg.model.prototype_sources.values():
        source.init_file = None
    cfg.model.update(uda)
    return MODELS.build(cfg.model)


def test_algorithm_checks():
    algo = build_demo()
    assert type(algo).__name__ == 'SourceTarget' and algo.backward_mode == 'iteration'
    with pytest.raises(ValueError, match="backward='iteration'"):
        build_demo(backward='stage')
    with pytest.raises(ValueError, match="'source' must run before 'target'"):
        build_demo(stages=[dict(name='target', inputs='target', labels=None, loss_heads=(), metas='target'),
                           dict(name='source', inputs='source', labels='source_labels')])
    with pytest.raises(ValueError, match='labels=None'):
        build_demo(stages=[dict(name='source', inputs='source', labels='source_labels'),
                           dict(name='target', inputs='target', labels=None, metas='target')])


def test_thresholds_from_histogram_by_hand():
    bins = proca.HIST_BINS
    hist = torch.zeros(3, bins, dtype=torch.long)
    # class 0: confidences 0.5, 0.7, 0.8, 0.95, 0.99 -> position round(5 * 0.6) = 3 -> 0.95 -> clipped to 0.9
    # class 1: 0.3, 0.4 -> position round(1.2) = 1 -> 0.4;  class 2: never predicted -> 0
    for c, values in ((0, (0.5, 0.7, 0.8, 0.95, 0.99)), (1, (0.3, 0.4))):
        for v in values:
            hist[c, int(v * bins)] += 1
    thr = proca.thresholds_from_histogram(hist, 0.6, 0.9)
    assert thr[0] == 0.9 and thr[1] == pytest.approx(0.4, abs=1.0 / bins) and thr[1] <= 0.4 and thr[2] == 0
    one = torch.zeros(1, bins, dtype=torch.long)
    one[0, int(0.6 * bins)] = 1                     # a single pixel: position round(0.6) = 1 is clipped to 0
    assert proca.thresholds_from_histogram(one, 0.6, 0.9)[0] == pytest.approx(0.6, abs=1.0 / bins)


class ConstantModel(torch.nn.Module):
    """A 'segmentor' whose logits are given per image (the test controls every confidence)."""

    align_corners = False

    def __init__(self, logits):
        super().__init__()
        self.logits = logits
        self.decode_head = type('Head', (), {'num_classes': logits.shape[1], 'forward': lambda _, f: f})()

    def data_preprocessor(self, data, training):
        return dict(inputs=torch.stack(data['inputs']).float(), data_samples=data['data_samples'])

    def extract_feat(self, inputs):
        return self.logits


def test_pseudo_labels_keep_confident_pixels_and_write_train_ids(tmp_path):
    from mmseg_procl.datasets import CityscapesDataset
    root = tmp_path / 'cs'
    os.makedirs(root / 'leftImg8bit' / 'train' / 'aachen')
    cv2.imwrite(str(root / 'leftImg8bit' / 'train' / 'aachen' / 'aachen_000000_000019_leftImg8bit.png'),
                np.zeros((2, 4, 3), np.uint8))
    classes = ('road', 'sky', 'bicycle')                       # a 3-class model: ids 0, 10, 18 when written
    dataset = CityscapesDataset(data_root=str(root), data_prefix=dict(img_path='leftImg8bit/train'),
                                metainfo=dict(classes=classes),
                                pipeline=[dict(type='LoadImageFromFile'), dict(type='PackSegInputs')])
    probs = torch.tensor([[0.8, 0.5, 0.6, 0.2], [0.1, 0.3, 0.3, 0.7], [0.1, 0.2, 0.1, 0.1]])
    logits = probs.log().reshape(3, 1, 4).expand(3, 2, 4).unsqueeze(0).contiguous()
    model = ConstantModel(logits)
    thr = proca.percentile_thresholds(model, dataset, percent=0.6, max_threshold=0.9)
    # class 0 (road): 6 pixels 0.8, 0.5, 0.6 (x2 rows) -> sorted .5 .5 .6 .6 .8 .8, round(3.6) = 4 -> 0.8
    # class 1 (sky): 0.7 x2 -> round(1.2) = 1 -> 0.7; class 2 never predicted -> 0
    assert thr[0] == pytest.approx(0.8, abs=1e-6) and thr[1] == pytest.approx(0.7, abs=1e-6) and thr[2] == 0
    out = tmp_path / 'pl'
    assert proca.write_pseudo_labels(model, dataset, thr, str(out)) == 1
    path = out / 'aachen' / 'aachen_000000_000019_gtFine_labelTrainIds.png'
    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert label.tolist() == [[0, 255, 255, 10]] * 2      # road 0.8 kept, 0.5 / 0.6 dropped, sky 0.7 kept
    with pytest.raises(FileExistsError, match='--overwrite'):
        proca.write_pseudo_labels(model, dataset, thr, str(out))
