"""WDASS on the DACS core: the label merge, the real / synthetic prototypes against a step-by-step
transcription of the method (docs/methods.md §2.7), the algorithm's state entries (teacher pass, weak
labels, pseudo-label overwrite and weights), the objectives' wiring (which features, labels, predictions and
prototypes each term reads; gradients only where the method puts them), and a training step without host
reads beyond the declared anchor sampling."""
import random
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import PixelData

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.models.losses.weak_label import (image_level_loss, merge_weak_labels, multi_hot,
                                                  prototype_pixel_contrast, upsampled_class_centres)
from mmseg_procl.models.utils import resize
from mmseg_procl.registry import MODELS
from mmseg_procl.structures import SegDataSample
from mmseg_procl.uda import WDASS
from mmseg_procl.uda.iteration_state import IterationState
from mmseg_procl.uda.objectives import SemanticEdgeLoss, WeakImageLabelLoss, WeakPrototypeContrast
from mmseg_procl.uda.prototypes import AnchorWeightedPrototypes
from mmseg_procl.uda.stage_context import StageContext
from mmseg_procl.utils import forbid_host_sync, register_all_modules

DEMO = 'configs/demo/wdass_point_synthetic.py'


def nearest(labels, size):
    return F.interpolate(labels[:, None].float(), size=size, mode='nearest')[:, 0].long()


def oracle_prototypes(feats, weak, teacher_labels, teacher_probs, kind, previous, threshold=0.95):
    """The real prototypes as the method describes them, class by class with boolean masks."""
    h, w = feats.shape[2:]
    pseudo = teacher_labels.clone()
    pseudo[teacher_probs < threshold] = 255
    gt = weak if kind == 'point' else nearest(weak, (h, w))
    merged = nearest(pseudo, gt.shape[1:])
    merged[gt != 255] = gt[gt != 255]
    members_map = nearest(merged, (h, w))
    anchors_map = members_map if kind == 'image' else gt
    feat = feats.permute(0, 2, 3, 1)
    anchor_feat = feat if kind != 'point' else F.interpolate(
        feats, size=tuple(gt.shape[1:]), mode='bilinear', align_corners=False).permute(0, 2, 3, 1)
    out = previous.clone()
    for c in torch.unique(anchors_map):
        if c == 255:
            continue
        centre = anchor_feat[anchors_map == c].mean(0)
        members = feat[members_map == c]
        weights = members @ centre
        out[c] = (weights[:, None] / weights.sum() * members).sum(0)
    return out, members_map


def test_merge_weak_labels_by_hand():
    low = torch.tensor([[[1, 2], [3, 255]]])                             # a 2x2 grid, labels of a 4x4 image
    weak = torch.full((1, 4, 4), 255)
    weak[0, 0, 0], weak[0, 2, 3], weak[0, 1, 1] = 7, 9, 5                 # (1, 1) is not a sampled position
    assert merge_weak_labels(low, weak, (2, 2)).tolist() == [[[7, 2], [3, 255]]]
    assert merge_weak_labels(low, weak, (4, 4))[0, 2].tolist() == [3, 3, 255, 9]


def test_upsampled_class_centres_equal_the_upsampled_features():
    torch.manual_seed(0)
    feats, labels = torch.randn(2, 5, 3, 4), torch.randint(0, 4, (2, 12, 10))
    labels[0, :3] = 255
    centres, count = upsampled_class_centres(feats, labels, 6)
    up = F.interpolate(feats, size=(12, 10), mode='bilinear', align_corners=False).permute(0, 2, 3, 1)
    for c in range(4):
        assert torch.allclose(centres[c], up[labels == c].mean(0), atol=1e-5)
        assert count[c] == (labels == c).sum()
    assert count[4:].tolist() == [0, 0] and centres[4:].abs().max() == 0


def teacher_state(feats, weak, teacher_labels, teacher_probs, weak_label='point'):
    """An iteration state holding a teacher pass and weak labels, with WDASS's region-label provider."""
    labels = torch.where(teacher_probs < 0.95, torch.full_like(teacher_labels, 255), teacher_labels)
    algorithm = SimpleNamespace(weak_label=weak_label)
    providers = {'target_region_labels': lambda s: WDASS.provide_target_region_labels(algorithm, s)}
    return IterationState(providers, dict(
        weak_labels=weak, teacher_target=dict(embeddings=feats, labels=labels, probs=teacher_probs)))


@pytest.mark.parametrize('kind,size', [('point', (16, 24)), ('coarse', (16, 24)), ('image', (16, 24)),
                                       ('coarse', (14, 20))])
def test_real_prototypes_follow_the_method(kind, size):
    torch.manual_seed(1)
    feats = F.normalize(torch.randn(2, 6, 4, 6), dim=1) + 0.5           # positive dot products
    teacher_labels, teacher_probs = torch.randint(0, 4, (2, 4, 6)), torch.rand(2, 4, 6) * 0.1 + 0.9
    weak = torch.full((2, *size), 255)
    if kind == 'point':
        weak[0, 3, 5], weak[0, 8, 9], weak[1, 12, 20], weak[1, 1, 2] = 2, 4, 4, 1
    elif kind == 'coarse':
        weak[:, : size[0] // 2] = torch.randint(0, 5, (2, size[0] // 2, size[1]))
    previous = torch.randn(6, 6)
    source = AnchorWeightedPrototypes(num_classes=6, feature_dim=6, domain='target', weak_label=kind)
    source.value.copy_(previous)
    state = teacher_state(feats, weak, teacher_labels, teacher_probs, kind)
    source.update(state, None)
    expected, members = oracle_prototypes(feats, weak, teacher_labels, teacher_probs, kind, previous)
    # the contrast's L (merged at full resolution) is the same map unless the size is no multiple of the grid
    if weak.shape[1] % 4 == 0 or kind == 'point':
        assert torch.equal(state['target_region_labels'], members)
    else:
        assert not torch.equal(state['target_region_labels'], members)
    assert torch.allclose(source.prototypes(), expected, atol=1e-5)
    assert torch.equal(source.prototypes()[5], previous[5])             # an absent class is kept


def test_synthetic_prototypes_use_the_labels_as_anchors_and_members():
    torch.manual_seed(2)
    feats, labels = torch.rand(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    labels[0, 0] = 255
    source = AnchorWeightedPrototypes(num_classes=4, feature_dim=3, domain='source')
    assert source.update_at == 'objective'
    source.update_members(feats, labels)
    flat = feats.permute(0, 2, 3, 1)
    for c in range(3):
        members = flat[labels == c]
        weights = members @ members.mean(0)
        expected = (weights[:, None] * members).sum(0) / weights.sum()
        assert torch.allclose(source.prototypes()[c], expected, atol=1e-6)
    assert source.prototypes()[3].abs().max() == 0


def prototype_source_errors():
    with pytest.raises(ValueError, match="weak_label must be one of"):
        AnchorWeightedPrototypes(weak_label='scribble')
    with pytest.raises(ValueError, match="domain must be one of"):
        AnchorWeightedPrototypes(domain='night')


def test_prototype_source_and_algorithm_errors():
    prototype_source_errors()
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile(DEMO)).model
    with pytest.raises(ValueError, match="weak_label='coarse' but the algorithm trains with weak_label="):
        MODELS.build(dict(cfg, prototype_sources=dict(cfg.prototype_sources, real_prototypes=dict(
            cfg.prototype_sources.real_prototypes, weak_label='coarse'))))
    with pytest.raises(ValueError, match='target_crop is not part of the method'):
        MODELS.build(dict(cfg, target_crop=dict(type='ClassBalancedCrop')))
    with pytest.raises(ValueError, match="representation head 'auxiliary_head'"):
        MODELS.build(dict(cfg, model=dict(cfg.model, auxiliary_head=None)))
    with pytest.raises(ValueError, match='weak_label must be one of'):
        MODELS.build(dict(cfg, weak_label='points'))
    with pytest.raises(ValueError, match='prototype_threshold must be a confidence in'):
        MODELS.build(dict(cfg, prototype_threshold=95))
    image_sources = dict(real_prototypes=dict(cfg.prototype_sources.real_prototypes, weak_label='image'),
                         synthetic_prototypes=cfg.prototype_sources.synthetic_prototypes)
    with pytest.raises(ValueError, match=r"weak_label='image' discards the dense weak labels, but stages "
                                         r"\['target'\]"):
        MODELS.build(dict(cfg, weak_label='image', prototype_sources=image_sources))
    with pytest.raises(ValueError, match="feature_dim=256, but the decode head predicts 19 classes and the "
                                         "representation head gives 128-d"):
        MODELS.build(dict(cfg, prototype_sources=dict(cfg.prototype_sources, synthetic_prototypes=dict(
            cfg.prototype_sources.synthetic_prototypes, feature_dim=256))))
    contrast = dict(cfg.objectives[2], embedding_head='decode_head')
    with pytest.raises(ValueError, match="embedding_head='decode_head', but the algorithm's prototypes come "
                                         "from 'auxiliary_head'"):
        MODELS.build(dict(cfg, objectives=[cfg.objectives[0], cfg.objectives[1], contrast]))
    for bad in (dict(inter_easy_threshold=95), dict(intra_samples=0), dict(max_views=2.5)):
        with pytest.raises(ValueError, match=f'WeakPrototypeContrast: {next(iter(bad))} must be'):
            WeakPrototypeContrast(**bad)


# ---------------------------------------------------------------- the algorithm's state entries
def demo_algorithm(**options):
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile(DEMO)).model
    cfg.update(options)
    torch.manual_seed(0)
    algorithm = MODELS.build(cfg)
    algorithm.init_weights()
    return algorithm.train()


def batch(weak, size=(32, 64)):
    """A preprocessed UDA batch of two source and two target images with the given weak labels."""
    metas = dict(img_shape=size, pad_shape=size, ori_shape=size)
    source = [SegDataSample(metainfo=metas, gt_sem_seg=PixelData(data=torch.randint(0, 19, (1, *size))))
              for _ in range(2)]
    target = []
    for i in range(2):
        sample = SegDataSample(metainfo=metas, gt_sem_seg=PixelData(data=torch.full((1, *size), 255)))
        sample.pseudo_label = PixelData(data=weak[i:i + 1])
        target.append(sample)
    return dict(source=dict(inputs=torch.randn(2, 3, *size), data_samples=source),
                target=dict(inputs=torch.randn(2, 3, *size), data_samples=target))


@pytest.mark.parametrize('kind', ['point', 'image'])
def test_state_entries_of_a_teacher_pass(kind):
    source = dict(type='AnchorWeightedPrototypes', feature_dim=128)
    sources = dict(real_prototypes=dict(source, weak_label=kind),
                   synthetic_prototypes=dict(source, domain='source'))
    stages = None if kind != 'image' else [
        dict(name='target', inputs='target', labels=None, loss_heads=(), metas='target'),
        dict(name='source', inputs='source', labels='source_labels'),
        dict(name='mixed', inputs='mixed', labels='mixed_labels', weights='mixed_weights')]
    algorithm = demo_algorithm(weak_label=kind, overwrite_pseudo_labels=kind != 'image',
                               prototype_sources=sources, stages=stages)
    algorithm.update_teacher()
    weak = torch.full((2, 32, 64), 255)
    weak[0, 5, 7], weak[1, 20, 30], weak[1, 0:2, 0:3] = 3, 11, 17
    state = algorithm.iteration_state(batch(weak))
    teacher = state['teacher_target']
    with torch.no_grad():
        feats = algorithm.ema_model.extract_feat(state['target_full'])
        logits = algorithm.ema_model.decode_head(feats)
        embeddings = algorithm.ema_model.auxiliary_head(feats)
    assert teacher['logits'].shape == (2, 19, 8, 16) and teacher['embeddings'].shape == (2, 128, 8, 16)
    assert torch.allclose(teacher['embeddings'], embeddings, atol=1e-5)          # teacher in train mode: BN
    assert torch.allclose(teacher['logits'], logits, atol=1e-4)                   # batch statistics
    probs, labels = torch.softmax(teacher['logits'], 1).max(1)
    assert torch.equal(teacher['labels'], torch.where(probs < 0.95, torch.full_like(labels, 255), labels))
    assert state['image_labels'].tolist() == multi_hot(weak, 19).tolist()
    assert state['image_labels'][1].nonzero().flatten().tolist() == [11, 17]
    full = resize(teacher['logits'], (32, 64), align_corners=False)
    confidence, pseudo = torch.softmax(full, 1).max(1)
    q = (confidence >= 0.968).float().mean()
    weights = q * (confidence >= 0.968).float()
    weights[:, :4], weights[:, -16:] = 0, 0                                  # the demo's rows
    assert torch.allclose(state['pseudo_weights'], weights)
    if kind == 'image':                                                      # dense labels discarded
        assert (state['weak_labels'] == 255).all() and torch.equal(state['pseudo_labels'], pseudo)
    else:                                                                    # --use_wl: weak labels win
        assert torch.equal(state['weak_labels'], weak)
        assert torch.equal(state['pseudo_labels'], torch.where(weak != 255, weak, pseudo))


# ---------------------------------------------------------------- objectives
class StubSegmentor:
    """Fixed embeddings for the representation head; align_corners of the demo's head."""

    align_corners = False

    def __init__(self, embeddings):
        self.embeddings = embeddings

    def head_forward(self, head, feats):
        assert head == 'auxiliary_head'
        return self.embeddings


def context(stage, inputs, logits, embeddings, labels, state, sources, iteration=20000):
    return StageContext(stage, inputs, [], [], logits, labels, None, iteration, {}, StubSegmentor(embeddings),
                        state, sources)


def test_image_level_loss_reads_the_crop_classes_and_the_real_prototypes():
    torch.manual_seed(3)
    logits = torch.randn(2, 5, 4, 4, requires_grad=True)
    embeddings = F.normalize(torch.randn(2, 3, 4, 4), dim=1).requires_grad_()
    real = AnchorWeightedPrototypes(num_classes=5, feature_dim=3)
    real.value.copy_(torch.randn(5, 3))
    targets = torch.tensor([[1., 0, 1, 0, 0], [0, 0, 0, 1, 1]])
    state = IterationState({}, dict(image_labels=targets))
    objective = WeakImageLabelLoss()
    assert not objective.acts_in('target', 10000) and objective.acts_in('target', 10001)   # itern > 10000
    ctx = context('target', torch.zeros(2, 3, 16, 16), logits, embeddings, None, state,
                  {'real_prototypes': real})
    losses = objective(ctx)
    up = F.interpolate(logits, size=(16, 16), mode='bilinear', align_corners=False)
    assert torch.allclose(losses['loss_image'], image_level_loss(up, targets))
    proto_logits = torch.einsum('bdhw,cd->bchw', embeddings, real.value)
    assert torch.allclose(losses['loss_image_proto'], image_level_loss(proto_logits, targets))
    losses['loss_image_proto'].backward()
    assert embeddings.grad.abs().sum() > 0


def test_edge_loss_on_full_resolution_logits_with_weight_10():
    torch.manual_seed(4)
    logits, labels = torch.randn(1, 3, 2, 2), torch.randint(0, 3, (1, 8, 8))
    ctx = context('source', torch.zeros(1, 3, 8, 8), logits, None, labels, None, {})
    torch.manual_seed(5)
    loss = SemanticEdgeLoss()(ctx)['loss_edge']
    from mmseg_procl.models.losses.weak_label import edge_loss, gumbel_noise
    torch.manual_seed(5)
    up = F.interpolate(logits, size=(8, 8), mode='bilinear', align_corners=False)
    assert torch.allclose(loss, 10 * edge_loss(up, labels, gumbel_noise(up.shape), 3, 0.5))


def region(labels, rows, value):
    labels[:, rows] = value
    return labels


def test_contrast_terms_read_the_right_anchors_and_prototypes():
    """Each class region has exactly n_view = 20 misclassified pixels and no confident correct ones, so the
    sampled anchors are known; the three terms are then the contrast of those anchors."""
    torch.manual_seed(6)
    grid = (8, 8)                                           # 64 pixels: rows 0-3 class 1, rows 4-7 class 2
    src_gt = torch.full((1, 8, 8), 2)
    src_gt[:, :4] = 1
    src_logits = torch.zeros(1, 4, *grid)
    src_logits[:, 3, :, :5] = 2.0                             # 20 pixels of each class predicted as class 3
    src_logits[:, 1, :4, 5:] = 0.5                            # the others predicted correctly, p < 0.96
    src_logits[:, 2, 4:, 5:] = 0.5
    emb_src = F.normalize(torch.randn(1, 5, *grid), dim=1).requires_grad_()
    emb_tgt_student = F.normalize(torch.randn(1, 5, *grid), dim=1).requires_grad_()
    emb_teacher = F.normalize(torch.randn(1, 5, *grid), dim=1)
    region_labels = src_gt.clone()                            # L: class 1 / class 3 halves, so that class 2
    region_labels[region_labels == 2] = 3                     # (source) and 3 (target) have no positives
    teacher_labels = torch.full((1, *grid), 255)              # nothing confident: every pixel of L is "hard"
    teacher_labels[:, :, 5:] = region_labels[:, :, 5:]        # 12 correct per class, probability 0.9 < 0.95
    state = IterationState({}, dict(teacher_target=dict(embeddings=emb_teacher, labels=teacher_labels,
                                                         probs=torch.full((1, *grid), 0.9)),
                                    target_region_labels=region_labels,
                                    weak_labels=torch.full((1, 8, 8), 255)))
    real = AnchorWeightedPrototypes(num_classes=4, feature_dim=5)
    real.value.copy_(F.normalize(torch.randn(4, 5), dim=1))
    synthetic = AnchorWeightedPrototypes(num_classes=4, feature_dim=5, domain='source')
    sources = {'real_prototypes': real, 'synthetic_prototypes': synthetic}
    objective = WeakPrototypeContrast()
    # before the switch: P^S follows the source (every iteration, as the reference), no losses
    assert objective.acts_in('source', 0) and not objective.acts_in('target', 10000)
    early = objective(context('source', torch.zeros(1, 3, 8, 8), src_logits, emb_src, src_gt, state, sources,
                              iteration=5))
    assert early == {} and synthetic.prototypes().abs().sum() > 0
    synthetic.value.zero_()

    source_losses = objective(context('source', torch.zeros(1, 3, 8, 8), src_logits, emb_src, src_gt, state,
                                      sources))
    expected_syn = AnchorWeightedPrototypes(num_classes=4, feature_dim=5, domain='source')
    expected_syn.update_members(emb_src.detach(), src_gt)
    assert torch.allclose(synthetic.prototypes(), expected_syn.prototypes())     # P^S updated first
    hard = src_logits.argmax(1) == 3                                              # the sampled source pixels
    src_anchors = emb_src.permute(0, 2, 3, 1)[hard]
    src_labels = src_gt[hard]
    assert torch.allclose(source_losses['loss_intra_syn'], 0.25 * prototype_pixel_contrast(
        src_anchors, src_labels, synthetic.prototypes()))
    tgt_hard = (teacher_labels == 255)                                            # teacher's anchors of L
    anchors = torch.cat([src_anchors, emb_teacher.permute(0, 2, 3, 1)[tgt_hard]])
    labels = torch.cat([src_labels, region_labels[tgt_hard]])
    domains = torch.cat([torch.zeros(len(src_labels)), torch.ones(int(tgt_hard.sum()))]).long()
    assert torch.allclose(source_losses['loss_inter'],
                          0.5 * prototype_pixel_contrast(anchors, labels, real.prototypes(), domains))
    assert source_losses['loss_inter'] > 0
    emb_src.grad = None
    source_losses['loss_inter'].backward()
    assert emb_src.grad.abs().sum() > 0                                           # the source is pulled

    tgt_logits = src_logits.clone()                           # the student's target predictions
    target_losses = objective(context('target', torch.zeros(1, 3, 8, 8), tgt_logits, emb_tgt_student,
                                      None, state, sources))
    # no weak labels: labels = own predictions, so nothing is "hard"; easy needs p > 0.96: no anchors
    assert target_losses['loss_intra_real'] == 0
    with pytest.raises(ValueError, match=r'predicts on a \(4, 4\) grid but the embeddings are \(8, 8\)'):
        objective(context('target', torch.zeros(1, 3, 8, 8), tgt_logits[:, :, ::2, ::2], emb_tgt_student,
                          None, state, sources))
    weak = region(torch.full((1, 8, 8), 255), slice(0, 4), 1)
    weak = region(weak, slice(4, 8), 2)                       # weak labels = the regions
    state._values['weak_labels'] = weak
    target_losses = objective(context('target', torch.zeros(1, 3, 8, 8), tgt_logits, emb_tgt_student,
                                      None, state, sources))
    assert torch.allclose(target_losses['loss_intra_real'], 0.25 * prototype_pixel_contrast(
        emb_tgt_student.permute(0, 2, 3, 1)[hard], src_gt[hard], real.prototypes()))


def test_training_step_reads_nothing_on_the_host_but_the_declared_sampling(monkeypatch):
    algorithm = demo_algorithm()
    for objective in algorithm.objectives:
        objective.start_iter = 0
    from mmengine.optim import build_optim_wrapper
    wrapper = build_optim_wrapper(algorithm, compose_uda_model(Config.fromfile(DEMO)).optim_wrapper)
    weak = torch.full((2, 32, 64), 255)
    weak[:, 10:20, 10:40] = 0
    data = batch(weak)
    data['source']['data_samples'][0].gt_sem_seg.data[:, :16] = 0
    monkeypatch.setattr(algorithm.data_preprocessor, 'forward', lambda d, training=False: d)   # preprocessed
    random.seed(0), torch.manual_seed(0)
    for _ in range(2):
        with forbid_host_sync():
            log_vars = algorithm.train_step(data, wrapper)
    assert algorithm.local_iter == 2 and all(torch.isfinite(v) for v in log_vars.values())
    for key in ('tgt.decode.loss_seg', 'tgt.loss_image', 'tgt.loss_image_proto', 'tgt.loss_intra_real',
                'src.decode.loss_seg', 'src.loss_edge', 'src.loss_intra_syn', 'src.loss_inter',
                'mix.decode.loss_seg'):
        assert key in log_vars
    assert algorithm.prototype_sources.real_prototypes.value.abs().sum() > 0
    assert algorithm.prototype_sources.synthetic_prototypes.value.abs().sum() > 0
