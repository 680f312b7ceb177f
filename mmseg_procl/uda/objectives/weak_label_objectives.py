"""Objectives of the weakly-supervised prototype method (WDASS): image-level loss, edge loss, prototype
contrast.

Das, Xian, Dai, Schiele, CVPR 2023 (github.com/anurag-198/WDASS ``train.py``, ``loss/image_label.py``,
``loss/edgeloss.py``, ``loss/contrast_loss.py``, ``loss/contrast_loss_intra.py``; docs/methods.md §2.7).
The loss functions are in :mod:`mmseg_procl.models.losses.weak_label`; these classes take their inputs
from the stages of the :class:`~mmseg_procl.uda.wdass.WDASS` algorithm:

* :class:`WeakImageLabelLoss` (``target`` stage): ``L_img`` of the student's full-resolution logits and,
  with a prototype source, of the prototype logits ``z_c(p) = f_p . P^R_c`` (student embeddings, no
  temperature), against the multi-hot classes of the crop's weak labels;
* :class:`SemanticEdgeLoss` (``source`` stage): the Gumbel-softmax edge loss of the full-resolution logits
  against the source labels (weight 10);
* :class:`WeakPrototypeContrast` (``target`` and ``source`` stages): ``0.25 L_intra^R`` (student target
  embeddings, weak labels merged over the student's own low-resolution predictions, vs P^R), ``0.25
  L_intra^S`` (student source embeddings, source labels merged over its predictions, vs P^S, which it
  updates first) and ``0.5 L_inter`` (student source anchors and teacher target anchors vs P^R, positives
  only across domains: the teacher's anchors carry no gradient, so the source is pulled to the target
  prototypes).  Anchors come from hard-anchor sampling, which reads values on the host (declared).
"""
from typing import Dict, Optional, Tuple

import torch

from mmseg_procl.models.losses.weak_label import (edge_loss, gumbel_noise, hard_anchor_sampling,
                                                  image_level_loss, merge_weak_labels,
                                                  prototype_pixel_contrast)
from mmseg_procl.models.utils import nearest_labels, resize
from mmseg_procl.registry import MODELS
from mmseg_procl.uda.stage_context import StageContext
from mmseg_procl.utils import host_values
from .base_objective import BaseObjective

SWITCH_ITER = 10001          # WDASS: cwt = im_wt = 1 for itern > 10000


def full_resolution_logits(ctx: StageContext) -> torch.Tensor:
    """The stage's decode-head logits bilinearly upsampled to the input size (the reference's ``out``)."""
    logits = ctx.logits if ctx.logits is not None else ctx.head_output('decode_head')
    return resize(logits, ctx.inputs.shape[2:], align_corners=ctx.model.align_corners)


def low_resolution_predictions(ctx: StageContext, grid) -> Tuple[torch.Tensor, torch.Tensor]:
    """(predictions, confidences) of the stage's decode-head logits (no gradient), which must lie on the
    embeddings' ``grid`` (as WDASS's ASPP output and representation head do)."""
    logits = ctx.logits if ctx.logits is not None else ctx.head_output('decode_head')
    if tuple(logits.shape[2:]) != tuple(grid):
        shape = tuple(logits.shape[2:])
        raise ValueError(f'WeakPrototypeContrast: the decode head predicts on a {shape} grid but the '
                         f'embeddings are {tuple(grid)}; the representation head must work at the decode '
                         "head's resolution")
    probs, preds = torch.softmax(logits.detach().float(), dim=1).max(dim=1)
    return preds, probs


def check_embedding_head(objective, algorithm) -> None:
    """Raise unless the objective reads the algorithm's representation head (``embedding_head``)."""
    expected = getattr(algorithm, 'embedding_head', None)
    if expected is not None and objective.embedding_head != expected:
        raise ValueError(f'{type(objective).__name__}: embedding_head={objective.embedding_head!r}, but the '
                         f'algorithm\'s prototypes come from {expected!r}')


def pixels(feats: torch.Tensor) -> torch.Tensor:
    """(B, D, h, w) -> (B, h*w, D)."""
    return feats.flatten(2).transpose(1, 2)


@MODELS.register_module()
class WeakImageLabelLoss(BaseObjective):
    """WDASS's image-level loss on the target (``--imloss``; ``--improto`` adds the prototype term).

    Args:
        prototype_source: name of the P^R source for the prototype logits, or None (logits only).
        embedding_head: the segmentor head of the embeddings.
        loss_weight: weight of both terms (``im_wt``).
        stage: the target stage; start_iter: first iteration (10001: the reference's 10k switch).
    """

    def __init__(self, prototype_source: Optional[str] = 'real_prototypes',
                 embedding_head: str = 'auxiliary_head', loss_weight: float = 1.0, stage: str = 'target',
                 start_iter: int = SWITCH_ITER) -> None:
        super().__init__((stage,), start_iter)
        self.prototype_source, self.embedding_head = prototype_source, embedding_head
        self.loss_weight = loss_weight

    def check_algorithm(self, algorithm) -> None:
        """At build time: the prototype logits use the algorithm's representation head."""
        if self.prototype_source:
            check_embedding_head(self, algorithm)

    @property
    def loss_names(self) -> Tuple[str, ...]:
        """``loss_image`` (and ``loss_image_proto``)."""
        return ('loss_image', 'loss_image_proto') if self.prototype_source else ('loss_image',)

    @property
    def prototype_source_names(self) -> Tuple[str, ...]:
        """P^R when the prototype term is on."""
        return (self.prototype_source,) if self.prototype_source else ()

    def forward(self, ctx: StageContext) -> Dict[str, torch.Tensor]:
        """BCE of the log-sum-exp-pooled logits (and prototype logits) against the crop's classes."""
        targets = ctx.state['image_labels']
        losses = {'loss_image': self.loss_weight * image_level_loss(full_resolution_logits(ctx), targets)}
        if self.prototype_source:
            embeddings = ctx.head_output(self.embedding_head)
            prototypes = ctx.prototype_source(self.prototype_source).prototypes()
            proto_logits = torch.einsum('bdhw,cd->bchw', embeddings.float(), prototypes)
            losses['loss_image_proto'] = self.loss_weight * image_level_loss(proto_logits, targets)
        return losses


@MODELS.register_module()
class SemanticEdgeLoss(BaseObjective):
    """WDASS's edge loss on the source (``--edge_wt 10``; Gumbel-softmax tau 0.5, fresh noise each call).

    Args:
        loss_weight: 10.
        tau: Gumbel-softmax temperature.
        stage: the source stage.
    """

    def __init__(self, loss_weight: float = 10.0, tau: float = 0.5, stage: str = 'source',
                 ignore_index: int = 255, start_iter: int = 0) -> None:
        super().__init__((stage,), start_iter)
        self.loss_weight, self.tau, self.ignore_index = loss_weight, tau, ignore_index

    @property
    def loss_names(self) -> Tuple[str, ...]:
        """``loss_edge``."""
        return ('loss_edge',)

    def forward(self, ctx: StageContext) -> Dict[str, torch.Tensor]:
        """The edge loss of the full-resolution logits against the stage's labels."""
        logits = full_resolution_logits(ctx)
        noise = gumbel_noise(logits.shape, device=logits.device)
        loss = edge_loss(logits, ctx.labels, noise, logits.shape[1], self.tau, self.ignore_index)
        return {'loss_edge': self.loss_weight * loss}


@MODELS.register_module()
class WeakPrototypeContrast(BaseObjective):
    """WDASS's intra- and inter-domain prototype contrast (``--use_contrast``).

    Args:
        real_source / synthetic_source: names of the P^R (target) and P^S (source) prototype sources
            (``AnchorWeightedPrototypes``).
        embedding_head: the segmentor head of the embeddings.
        inter_weight / real_weight / synthetic_weight: ``c_inter`` 0.5, ``c_real`` 0.25, ``c_syn`` 0.25 (times
            ``contrast_wt`` 1).
        temperature / base_temperature: 0.1 / 0.07.
        inter_samples / intra_samples: ``max_samples`` of the anchor sampling (512 / 256).
        inter_easy_threshold / intra_easy_threshold: confidence of "easy" anchors (0.95 / 0.96).
        max_views: anchors per class at most (20).
        target_stage / source_stage: the algorithm's stages (target first, as the reference).
        start_iter: first iteration of the losses (10001: the reference's 10k switch); P^S follows the
            source stage from iteration 0 (the reference recomputes it every iteration).
    """

    def __init__(self, real_source: str = 'real_prototypes', synthetic_source: str = 'synthetic_prototypes',
                 embedding_head: str = 'auxiliary_head', inter_weight: float = 0.5, real_weight: float = 0.25,
                 synthetic_weight: float = 0.25, temperature: float = 0.1, base_temperature: float = 0.07,
                 inter_samples: int = 512, intra_samples: int = 256, inter_easy_threshold: float = 0.95,
                 intra_easy_threshold: float = 0.96, max_views: int = 20, target_stage: str = 'target',
                 source_stage: str = 'source', start_iter: int = SWITCH_ITER) -> None:
        super().__init__((target_stage, source_stage), start_iter)
        for name, value in (('inter_easy_threshold', inter_easy_threshold),
                            ('intra_easy_threshold', intra_easy_threshold)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f'WeakPrototypeContrast: {name} must be a confidence in [0, 1], got '
                                 f'{value!r}')
        for name, value in (('inter_samples', inter_samples), ('intra_samples', intra_samples),
                            ('max_views', max_views)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'WeakPrototypeContrast: {name} must be an integer >= 1, got {value!r}')
        if temperature <= 0 or base_temperature <= 0:
            raise ValueError(f'WeakPrototypeContrast: temperatures must be > 0, got {temperature}, '
                             f'{base_temperature}')
        self.real_source, self.synthetic_source = real_source, synthetic_source
        self.embedding_head = embedding_head
        self.inter_weight, self.real_weight = inter_weight, real_weight
        self.synthetic_weight = synthetic_weight
        self.temperature, self.base_temperature = temperature, base_temperature
        self.inter_sampling = dict(max_samples=inter_samples, easy_threshold=inter_easy_threshold,
                                   max_views=max_views)
        self.intra_sampling = dict(max_samples=intra_samples, easy_threshold=intra_easy_threshold,
                                   max_views=max_views)
        self.target_stage, self.source_stage = target_stage, source_stage

    def acts_in(self, stage: str, iteration: int = 0) -> bool:
        """In the source stage from iteration 0 (P^S is updated every iteration; losses from
        ``start_iter``), in the target stage from ``start_iter``."""
        return stage == self.source_stage or super().acts_in(stage, iteration)

    @property
    def loss_names(self) -> Tuple[str, ...]:
        """``loss_intra_real`` (target stage), ``loss_intra_syn`` and ``loss_inter`` (source stage)."""
        return ('loss_intra_real', 'loss_intra_syn', 'loss_inter')

    @property
    def prototype_source_names(self) -> Tuple[str, ...]:
        """P^R and P^S."""
        return (self.real_source, self.synthetic_source)

    def check_algorithm(self, algorithm) -> None:
        """At build time: the algorithm provides the teacher's target outputs and P^S is updated here."""
        if 'teacher_target' not in algorithm.state_entries():
            raise ValueError('WeakPrototypeContrast reads the teacher embeddings of the WDASS algorithm; '
                             f'{type(algorithm).__name__} has none')
        check_embedding_head(self, algorithm)
        source = algorithm.prototype_sources[self.synthetic_source]
        if getattr(source, 'update_at', None) != 'objective' or not hasattr(source, 'update_members'):
            raise ValueError(f'WeakPrototypeContrast updates {self.synthetic_source!r} itself; use '
                             "AnchorWeightedPrototypes(domain='source')")

    def contrast(self, feats: torch.Tensor, labels: torch.Tensor, preds: torch.Tensor, probs: torch.Tensor,
                 domains: torch.Tensor, prototypes: torch.Tensor, sampling: dict,
                 cross_domain: bool) -> torch.Tensor:
        """Hard-anchor sampling (host reads, declared), then the anchors' contrast with ``prototypes``."""
        with host_values():
            anchors, anchor_labels, anchor_domains = hard_anchor_sampling(
                pixels(feats), labels.flatten(1), preds.flatten(1), probs.flatten(1), domains, **sampling)
        return prototype_pixel_contrast(anchors.float(), anchor_labels, prototypes,
                                        anchor_domains if cross_domain else None, self.temperature,
                                        self.base_temperature)

    def intra(self, ctx: StageContext, weak: torch.Tensor, source: str) -> Tuple[torch.Tensor, torch.Tensor]:
        """(embeddings, intra-domain loss): labels = ``weak`` merged over the student's own predictions."""
        embeddings = ctx.head_output(self.embedding_head)
        preds, probs = low_resolution_predictions(ctx, embeddings.shape[2:])
        labels = merge_weak_labels(preds, weak, embeddings.shape[2:])
        domains = torch.zeros(embeddings.shape[0], dtype=torch.long, device=embeddings.device)
        prototypes = ctx.prototype_source(source).prototypes()
        loss = self.contrast(embeddings, labels, preds, probs, domains, prototypes, self.intra_sampling,
                             cross_domain=False)
        return embeddings, loss

    def forward(self, ctx: StageContext) -> Dict[str, torch.Tensor]:
        """Target stage: L_intra^R; source stage: update P^S, L_intra^S, L_inter."""
        if ctx.stage == self.target_stage:
            _, loss = self.intra(ctx, ctx.state['weak_labels'], self.real_source)
            return {'loss_intra_real': self.real_weight * loss}
        grid = ctx.head_output(self.embedding_head).shape[2:]
        source_grid_labels = nearest_labels(ctx.labels, grid)
        ctx.prototype_source(self.synthetic_source).update_members(
            ctx.head_output(self.embedding_head).detach().float(), source_grid_labels)
        if ctx.iteration < self.start_iter:
            return {}
        embeddings, loss_syn = self.intra(ctx, ctx.labels, self.synthetic_source)
        return {'loss_intra_syn': self.synthetic_weight * loss_syn,
                'loss_inter': self.inter_weight * self.inter_loss(ctx, embeddings, source_grid_labels)}

    def inter_loss(self, ctx: StageContext, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Source anchors (student, source labels on the grid, own predictions) and target anchors (teacher,
        region labels L, its thresholded predictions) against P^R, positives across domains."""
        teacher = ctx.state['teacher_target']
        preds, probs = low_resolution_predictions(ctx, embeddings.shape[2:])
        feats = torch.cat([embeddings.float(), teacher['embeddings']])
        num_source = embeddings.shape[0]
        domains = (torch.arange(feats.shape[0], device=feats.device) >= num_source).long()   # 1: target
        prototypes = ctx.prototype_source(self.real_source).prototypes()
        return self.contrast(feats, torch.cat([labels, ctx.state['target_region_labels']]),
                             torch.cat([preds, teacher['labels']]), torch.cat([probs, teacher['probs']]),
                             domains, prototypes, self.inter_sampling, cross_domain=True)
