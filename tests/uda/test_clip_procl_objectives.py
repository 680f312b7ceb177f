"""CLIP-ProCL objectives: alignment to detached text prototypes, prompt learning, CLIP distillation."""
import math

import pytest
import torch
import torch.nn.functional as F
from tiny_clip import EMBED, IMAGE, VIS_WIDTH, build_tiny_clip_segmentor

from mmseg_procl.models.losses import prototype_cross_entropy
from mmseg_procl.registry import MODELS
from mmseg_procl.uda.stage_context import StageContext


def test_prototype_cross_entropy_hand_computed():
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]).t().reshape(1, 2, 1, 3)
    protos = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([[[0, 0, 255]]])
    # position 0: logits (2, 0); position 1: logits (0, 2), both labelled 0; position 2 ignored
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(2))) / 2
    got = prototype_cross_entropy(emb, labels, protos, temperature=0.5)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    assert prototype_cross_entropy(emb, torch.full_like(labels, 255), protos).item() == 0.0
    weights = torch.tensor([[[1.0, 0.0, 1.0]]])
    assert prototype_cross_entropy(emb, labels, protos, 0.5, weights=weights).item() == \
        pytest.approx(math.log(1 + math.exp(-2)) / 2, rel=1e-6)


def stage(model, labels=None, seed=0):
    torch.manual_seed(seed)
    x = torch.randn(2, 3, IMAGE, IMAGE)
    labels = labels if labels is not None else torch.randint(0, 19, (2, IMAGE, IMAGE))
    feats, extras = model.extract_feat_with_extras(x)
    logits = model.decode_head(feats)
    return StageContext('source', x, [], feats, logits, labels, None, 0, extras, model)


def grads_of(model):
    return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def test_alignment_uses_detached_text_and_downscaled_labels():
    model = build_tiny_clip_segmentor().train()
    objective = MODELS.build(dict(type='PrototypeContrast', prototypes=dict(type='CLIPTextPrototypes'),
                                  temperature=1.0, scale_min_ratio=0.75))
    labels = torch.zeros(2, IMAGE, IMAGE, dtype=torch.long)
    labels[:, :, 32:] = 13
    labels[:, :8, :] = 255
    ctx = stage(model, labels)
    loss = objective(ctx)['loss_align']
    emb = model.auxiliary_head(ctx.feats)                           # (2, 32, 8, 8)
    small = labels[:, ::8, ::8]                                     # 8x8 windows are pure here
    text = model.text_embeddings().detach()
    expected = F.cross_entropy(torch.einsum('bdhw,cd->bchw', emb, text), small, ignore_index=255)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    touched = grads_of(model)
    assert 'prompt_learner.ctx' not in touched                      # detached text embedding
    assert 'auxiliary_head.convs.0.conv.weight' in touched and 'filter.weight' in touched
    assert 'backbone.convs.3.weight' in touched


def test_prompt_learning_value_and_gradient_reaches_only_ctx():
    model = build_tiny_clip_segmentor().train()
    objective = MODELS.build(dict(type='PromptLearning', loss_weight=0.5))
    ctx = stage(model)
    loss = objective(ctx)['loss_prompt']
    text = ctx.extras['text_embeddings']
    dense = F.normalize(model.clip.dense_embedding(ctx.extras['clip_feats']), dim=1)
    logits = F.interpolate(torch.einsum('bdhw,cd->bchw', dense, text), size=(IMAGE, IMAGE),
                           mode='bilinear', align_corners=True)
    torch.testing.assert_close(loss, 0.5 * F.cross_entropy(logits, ctx.labels))
    loss.backward()
    assert grads_of(model) == {'prompt_learner.ctx'}


def test_prompt_learning_needs_a_clip_segmentor():
    objective = MODELS.build(dict(type='PromptLearning'))
    ctx = StageContext('source', torch.zeros(1, 3, 8, 8), [], [], None, torch.zeros(1, 8, 8).long())
    with pytest.raises(KeyError, match='CLIPEncoderDecoder, or type=CLIPHRDAEncoderDecoder with an HRDAHead'):
        objective(ctx)
    prototypes = MODELS.build(dict(type='CLIPTextPrototypes'))
    ctx.model = torch.nn.Identity()
    with pytest.raises(TypeError, match=r'CLIPHRDAEncoderDecoder with an HRDAHead\), got Identity'):
        prototypes(ctx)


def test_clip_distillation_gradient_reaches_projection_and_backbone_not_clip():
    model = build_tiny_clip_segmentor(feature_fusion=False).train()
    objective = MODELS.build(dict(
        type='CLIPFeatureDistillation', in_channels=512, distance='cosine',
        clip_visual=dict(type='CLIPResNet', layers=(1, 1, 1, 1), width=VIS_WIDTH, output_dim=EMBED)))
    objective.train()
    assert not objective.clip.training
    ctx = stage(model)
    loss = objective(ctx)['loss_clip_feat_dist']
    student = objective.proj(ctx.feats[-1])
    with torch.no_grad():
        target = F.normalize(objective.clip.dense_embedding(objective.clip(ctx.inputs)[-1]), dim=1)
        target = F.normalize(F.interpolate(target, size=(8, 8), mode='bilinear'), dim=1)
    cos = (F.normalize(student, dim=1) * target).sum(1)
    torch.testing.assert_close(loss, (1 - cos).mean())
    loss.backward()
    assert objective.proj.weight.grad.abs().sum() > 0
    assert 'backbone.convs.3.weight' in grads_of(model)
    assert all(p.grad is None and not p.requires_grad for p in objective.clip.parameters())


def test_clip_distillation_class_mask_and_l2():
    model = build_tiny_clip_segmentor(feature_fusion=False)
    objective = MODELS.build(dict(
        type='CLIPFeatureDistillation', in_channels=512, distance='l2', classes=(13,),
        clip_visual=dict(type='CLIPResNet', layers=(1, 1, 1, 1), width=VIS_WIDTH, output_dim=EMBED)))
    labels = torch.zeros(2, IMAGE, IMAGE, dtype=torch.long)
    assert objective(stage(model, labels))['loss_clip_feat_dist'].item() == 0.0   # no class 13
    labels[:, :, :32] = 13
    ctx = stage(model, labels)
    student = objective.proj(ctx.feats[-1])
    target = objective.clip_targets(ctx.inputs, (8, 8))
    expected = (student - target).norm(dim=1)[:, :, :4].mean()
    torch.testing.assert_close(objective(ctx)['loss_clip_feat_dist'], expected)
    with pytest.raises(ValueError, match='distance'):
        MODELS.build(dict(type='CLIPFeatureDistillation', in_channels=512, distance='l1',
                          clip_visual=dict(type='CLIPResNet', arch='RN50')))
