"""ProCAContrast: prototypical contrast of source and target pixels at feature and output level.

ProCA (Jiang et al., "Prototypical Contrast Adaptation for Domain Adaptive Semantic Segmentation",
ECCV 2022; github.com/jiangzhengkai/ProCA ``train_proca.py``, ``core/utils/loss.py``
``PrototypeContrastiveLoss``; docs/methods.md §2.6).  Per iteration, with ``f`` the
backbone's last map (2048-d, stride 8) and ``o`` the classifier logits on the same grid:

    y_s = nearest-downsampled source ground truth
    y_t = argmax_c o_t, ignored where max_c o_t < delta      (raw logits, delta = 0.9)
    (a segmentor whose logits and last map lie on different grids, e.g. MiT + DAFormer head, gets the
    labels nearest-resized to each map's grid)
    feature estimator <- (f_t, y_t), then (f_s, y_s)         (exact class means, ClassMeanEstimator)
    output estimator  <- (o_t, y_t), then (o_s, y_s)
    PCL(P, x, y) = mean_valid CE( cos(x, P) / tau, y )       (tau = 50; prototypes detached)
    L = lambda_feat (PCL(P_f, f_s, y_s) + PCL(P_f, f_t, y_t))
      + lambda_out  (PCL(P_o, o_s, y_s) + PCL(P_o, o_t, y_t))

The two losses use the prototypes *after* this iteration's updates by both domains, so the objective
acts in the source stage (it keeps ``f_s``, ``o_s``, ``y_s`` with their graph) and computes
everything in the target stage; the algorithm must back-propagate once per iteration
(``SourceTarget``, ``backward='iteration'``).  The losses are logged as ``tgt.loss_feat`` and
``tgt.loss_out`` (both domains' terms).  ``output_source=None`` drops the output level
(``MULTI_LEVEL=False``).

Call graph::

    forward(ctx) in source_stage -> stage_outputs -> keep in the iteration state
    forward(ctx) in target_stage -> stage_outputs (+ target_labels) -> update estimators (t, s)
                                 -> contrast (prototype_cross_entropy on unit vectors) x 4
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from mmseg_procl.models.losses import prototype_cross_entropy
from mmseg_procl.models.utils import flat_pixels, nearest_labels
from mmseg_procl.registry import MODELS
from mmseg_procl.uda.stage_context import StageContext
from .base_objective import BaseObjective

STATE_KEY = 'proca_contrast:source'


def prototype_contrast_loss(x: torch.Tensor, labels: torch.Tensor, prototypes: torch.Tensor, tau: float,
                            ignore_index: int = 255) -> torch.Tensor:
    """ProCA's PCL: mean over valid positions of ``CE(cos(x, P) / tau, y)``; 0 without valid positions.

    ``x`` (B, A, h, w), ``labels`` (B, h, w) long, ``prototypes`` (C, A) (zero rows give cosine 0).
    """
    return prototype_cross_entropy(F.normalize(x, dim=1), labels, F.normalize(prototypes, dim=1).detach(),
                                   tau, ignore_index)


def confident_argmax(logits: torch.Tensor, threshold: float, ignore_index: int = 255) -> torch.Tensor:
    """(B, h, w) argmax of (B, C, h, w) raw logits, ``ignore_index`` where the maximum < threshold."""
    top, labels = logits.detach().max(dim=1)
    return torch.where(top < threshold, torch.full_like(labels, ignore_index), labels)


@MODELS.register_module()
class ProCAContrast(BaseObjective):
    """ProCA's feature- and output-level prototype contrast over both domains (see the module doc).

    Args:
        feature_source / output_source: names of the algorithm's ``ClassMeanEstimator`` prototype
            sources over backbone features / logits (``output_source=None``: feature level only).
        temperature: tau (``MODEL.CONTRAST.TAU`` = 50).
        threshold: delta, the minimum raw target logit (``SOLVER.DELTA`` = 0.9).
        feature_weight / output_weight: lambda_feat / lambda_out (1.0 each).
        feature_index: which backbone map is ``f`` (-1: the last).
        source_stage / target_stage: the algorithm's stages of the two domains (in this order).
    """

    def __init__(self, feature_source: str = 'proca_feat', output_source: Optional[str] = 'proca_out',
                 temperature: float = 50.0, threshold: float = 0.9, feature_weight: float = 1.0,
                 output_weight: float = 1.0, feature_index: int = -1, ignore_index: int = 255,
                 source_stage: str = 'source', target_stage: str = 'target', start_iter: int = 0) -> None:
        super().__init__((source_stage, target_stage), start_iter)
        if temperature <= 0:
            raise ValueError(f'ProCAContrast: temperature must be > 0, got {temperature}')
        self.feature_source, self.output_source = feature_source, output_source
        self.temperature, self.threshold = temperature, threshold
        self.feature_weight, self.output_weight = feature_weight, output_weight
        self.feature_index, self.ignore_index = feature_index, ignore_index
        self.source_stage, self.target_stage = source_stage, target_stage

    @property
    def loss_names(self) -> Tuple[str, ...]:
        """``loss_feat`` (and ``loss_out``)."""
        return ('loss_feat', 'loss_out') if self.output_source else ('loss_feat',)

    @property
    def prototype_source_names(self) -> Tuple[str, ...]:
        """The feature (and output) estimators."""
        return tuple(n for n in (self.feature_source, self.output_source) if n)

    def check_algorithm(self, algorithm) -> None:
        """At build time: one backward per iteration, the source stage before the target stage, and
        estimators this objective updates (``update_at='objective'``)."""
        if algorithm.backward_mode != 'iteration':
            raise ValueError("ProCAContrast combines the source and target stages in one loss; the algorithm "
                             f"needs backward='iteration', got {algorithm.backward_mode!r}")
        names = [s.name for s in algorithm.stages]
        if names.index(self.source_stage) > names.index(self.target_stage):
            raise ValueError(f'ProCAContrast: the stage {self.source_stage!r} must run before '
                             f'{self.target_stage!r}; the stages are {names}')
        for name in self.prototype_source_names:
            if getattr(algorithm.prototype_sources[name], 'update_at', None) != 'objective':
                raise ValueError(f'ProCAContrast updates the prototype source {name!r} itself; use a '
                                 "ClassMeanEstimator (update_at='objective')")

    def stage_outputs(self, ctx: StageContext) -> Tuple[torch.Tensor, torch.Tensor]:
        """(features, logits) of the stage on the feature grid, with gradients."""
        logits = ctx.logits if ctx.logits is not None else ctx.head_output('decode_head')
        return ctx.feats[self.feature_index], logits

    def forward(self, ctx: StageContext) -> Dict[str, torch.Tensor]:
        """Nothing in the source stage (its outputs are kept); both domains' losses in the target stage."""
        feats, logits = self.stage_outputs(ctx)
        if ctx.stage == self.source_stage:
            ctx.state.cached(STATE_KEY, lambda: (feats, logits, ctx.labels))
            return {}
        if not ctx.state.computed(STATE_KEY):
            raise RuntimeError(f'ProCAContrast: the {self.source_stage!r} stage did not run in this '
                               f'iteration before {self.target_stage!r}')
        src_feats, src_logits, src_labels = ctx.state[STATE_KEY]
        tgt_labels = confident_argmax(logits, self.threshold, self.ignore_index)
        losses = {'loss_feat': self.feature_weight * self.level_loss(
            ctx, self.feature_source, (feats, tgt_labels), (src_feats, src_labels))}
        if self.output_source:
            losses['loss_out'] = self.output_weight * self.level_loss(
                ctx, self.output_source, (logits, tgt_labels), (src_logits, src_labels))
        return losses

    def level_loss(self, ctx: StageContext, source_name: str, target, source) -> torch.Tensor:
        """Update the estimator with the target, then the source batch; the two contrast terms."""
        estimator = ctx.prototype_source(source_name)
        target, source = [(x, nearest_labels(labels, x.shape[2:])) for x, labels in (target, source)]
        for x, labels in (target, source):
            estimator.update(flat_pixels(x.detach().float()), labels.reshape(-1))
        prototypes = estimator.prototypes().clone()
        return sum(prototype_contrast_loss(x.float(), labels, prototypes, self.temperature, self.ignore_index)
                   for x, labels in (source, target))
