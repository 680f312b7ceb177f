"""SemanticContrast: SePiCo's pixel-to-semantic contrast (ProtoCL / BankCL / DistCL) + regulariser.

SePiCo (Xie et al., TPAMI 2023; github.com/BIT-DA/SePiCo ``mmseg/models/losses/contrastive_loss.py``
``ContrastiveLoss``, ``mmseg/models/uda/sepico.py``; docs/methods.md §2.2).  The student's projected
pixel embeddings of a stage (``auxiliary_head``, unit norm) are contrasted with the semantic
statistics of a named prototype source (``ClassFeatureStatistics``: class means, variances, memory
banks of teacher source embeddings):

    f, y = embeddings, labels down-scaled by majority vote (ratio 0.75; ignore excluded)
    L    = loss_weight * (L_variant(f, y) + reg_weight * L_reg(f))

with the variants and the regulariser of ``mmseg_procl.models.losses.semantic_contrast``
(temperature 100, every released experiment).  SePiCo acts from iteration 3000 (``start_iter``) in
the ``source`` stage (strongly augmented source, ground truth) and the ``target`` stage (augmented
target crop, pseudo-labels whose weight is 0 set to ignore, no decode loss).
"""
from typing import Dict, Sequence

import torch
from torch import nn

from mmseg_procl.models.losses.semantic_contrast import (bank_contrast, dist_contrast, proto_contrast,
                                                        proto_regulariser)
from mmseg_procl.registry import MODELS
from mmseg_procl.uda.prototypes.class_feature_statistics import contrast_preparations
from mmseg_procl.uda.stage_context import StageContext
from .base_objective import BaseObjective

VARIANTS = ('proto', 'bank', 'dist')


@MODELS.register_module()
class SemanticContrast(BaseObjective):
    """Contrast of projected pixels with class means (proto), memory banks (bank) or distributions (dist).

    Args:
        prototypes: name of the algorithm's ``ClassFeatureStatistics`` source.
        variant: ``'proto'`` (ProtoCL), ``'bank'`` (BankCL, needs ``memory_length > 0``),
            ``'dist'`` (DistCL).
        temperature: tau (a divisor; 100 in SePiCo).
        loss_weight: the term's weight; reg_weight: the regulariser's relative weight (0: off).
        dist_ratio: lambda of DistCL.
        scale_min_ratio / use_avg_pool: label down-scaling to the embedding grid.
        embedding_head: the student head producing the embeddings.
        loss_name: the logged key (``loss_contrast``).
        stages / start_iter: where and from when it acts.
    """

    def __init__(self, prototypes: str, variant: str = 'dist', temperature: float = 100.0,
                 loss_weight: float = 1.0, reg_weight: float = 1.0, dist_ratio: float = 1.0,
                 scale_min_ratio: float = 0.75, use_avg_pool: bool = True, num_classes: int = 19,
                 ignore_index: int = 255, embedding_head: str = 'auxiliary_head',
                 loss_name: str = 'loss_contrast', stages: Sequence[str] = ('source', 'target'),
                 start_iter: int = 0) -> None:
        super().__init__(stages, start_iter)
        if variant not in VARIANTS:
            raise ValueError(f'SemanticContrast: variant must be one of {VARIANTS}, got {variant!r}')
        if not isinstance(prototypes, str):
            raise TypeError('SemanticContrast: prototypes must name a prototype source of the '
                            f'algorithm (prototype_sources), got {prototypes!r}')
        if not loss_name.startswith('loss_'):
            raise ValueError(f"SemanticContrast: loss_name must start with 'loss_', got {loss_name!r}")
        self.source_name, self.variant = prototypes, variant
        self.temperature, self.loss_weight, self.reg_weight = temperature, loss_weight, reg_weight
        self.dist_ratio, self.scale_min_ratio, self.use_avg_pool = dist_ratio, scale_min_ratio, use_avg_pool
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.embedding_head, self.loss_name = embedding_head, loss_name

    @property
    def loss_names(self):
        """``(loss_name,)``."""
        return (self.loss_name,)

    @property
    def prototype_source_names(self):
        """The statistics source read by name."""
        return (self.source_name,)

    def check_algorithm(self, algorithm) -> None:
        """At build time: the embedding head exists; BankCL's source keeps a memory bank."""
        if not isinstance(getattr(algorithm.model, self.embedding_head, None), nn.Module):
            raise ValueError(f'SemanticContrast: embedding_head={self.embedding_head!r} is not a head of '
                             f'the segmentor {type(algorithm.model).__name__}')
        source = algorithm.prototype_sources[self.source_name]
        if self.variant == 'bank' and not getattr(source, 'memory_length', 0):
            raise ValueError(f"SemanticContrast(variant='bank'): the prototype source "
                             f'{self.source_name!r} has no memory bank; set its memory_length (SePiCo: 200)')

    def forward(self, ctx: StageContext) -> Dict[str, torch.Tensor]:
        """``{loss_name: loss_weight * (variant loss + reg_weight * regulariser)}``."""
        stats = ctx.prototype_source(self.source_name)
        feats, labels, valid = contrast_preparations(
            ctx.head_output(self.embedding_head), ctx.labels, self.use_avg_pool, self.scale_min_ratio,
            self.num_classes, self.ignore_index)
        tau = self.temperature
        if self.variant == 'proto':
            loss = proto_contrast(feats, labels, valid, stats.mean.detach(), tau)
        elif self.variant == 'dist':
            loss = dist_contrast(feats, labels, valid, stats.mean.detach(), stats.variance.detach(), tau,
                                 self.dist_ratio)
        else:
            loss = bank_contrast(feats, labels, valid, stats.bank.detach(), stats.bank_size, tau)
        if self.reg_weight:
            loss = loss + self.reg_weight * proto_regulariser(feats, valid, stats.mean.detach(), tau)
        return {self.loss_name: self.loss_weight * loss}
