"""MultiPrototypeContrast: PCPR's prototype branch, several prototypes per class, contrast and consistency.

**A reconstruction, not the authors' code.**  PCPR (github.com/sunrui570-dev/PCPF; docs/methods.md §2.5)
withheld ``contrastive_loss.py`` / ``contrast_learning.py``.  The evidence this rests on:

- the released head (:class:`~mmseg_procl.models.decode_heads.pcpr_head.PCPRHead`) returns, for the
  training step only, the DAFormer decoder features of the context (upsampled) and of the detail crop
  (pasted), the crop mask and a one-channel ``sigmoid`` "feature weighter" map: inputs of a feature-level
  module;
- ``mmseg/models/segmentors/projection.py``: a ``convmlp`` projection (1x1 conv, BN, ReLU, 1x1 conv to 256,
  L2 normalisation);
- the framework figure: an ``h_proto`` branch, "feature denoising and enhancement", "prototype clustering"
  (several prototypes per class), losses ``L_cont`` and ``L_cons``;
- the unused ``new_hrda_head.py``: a region-prototype InfoNCE with temperature 0.1 added with weight 0.1.

What is chosen here (each number a guess with its source):

    F   = F_lr + m * w * (F_hr - F_lr)       fused decoder features: inside the detail crop m the feature
                                             weight w mixes detail into context features ("enhancement")
    z   = projection_head(F)                 (B, 256, H/4, W/4), unit norm
    y   = labels down-scaled by majority vote (ratio 0.75) to the feature grid; weights as the stage's
    k   = Sinkhorn assignment of each valid pixel to one of the K prototypes of its class (ProtoSeg:
          K = 10, epsilon 0.05, 3 iterations)
    L_cont = contrast_weight * mean_w CE(z . P^T / tau, y * K + k)      tau = 0.1, weight 0.1 (PatchLoss)
    L_cons = consistency_weight * mean KL(p(z_hr) || p(z_lr)) over the detail crop,
             p = softmax(z . P^T / tau), z_lr / z_hr the projected context / detail features of the
             crop, the detail side fixed
    P_ck  <- normalise(0.999 P_ck + 0.001 normalise(mean of the z assigned to it))   (ProtoSeg), after the
             losses, from the stages in ``update_stages`` (default the source stage: ground truth)

Switches: ``contrast_weight=0`` / ``consistency_weight=0`` drop a term (its key is not logged);
``feature_weighting=False`` replaces the weighted fusion by the context features alone.  The prototypes
are a buffer (``prototypes``, (C, K, D)) saved with the weights, so ``--resume`` continues them.

Call graph::

    forward(ctx) -> fused_features (hrda outputs) -> projection_head -> labels / weights on the grid
                 -> sinkhorn_assign -> prototype_contrast_loss
                 -> crop features -> projection_head (context, detail) -> prototype_consistency_loss
                 -> update (assigned_means, momentum_update) in update_stages
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mmseg_procl.models.decode_heads.hrda_head import scale_box
from mmseg_procl.models.decode_heads.pcpr_head import PCPRHead
from mmseg_procl.models.losses.multi_prototype import (assigned_means, momentum_update,
                                                       multi_prototype_logits, prototype_consistency_loss,
                                                       prototype_contrast_loss, sinkhorn_assign)
from mmseg_procl.registry import MODELS
from mmseg_procl.uda.stage_context import StageContext
from .base_objective import BaseObjective
from .feature_distance import downscale_label_ratio

HEAD_OUTPUTS = ('context_features', 'detail_features', 'detail_mask', 'feature_weight')


class ConvMLPProjection(nn.Module):
    """PCPR's ``convmlp`` projection: 1x1 conv, BN, ReLU, 1x1 conv to ``out_channels``, L2 normalised."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(in_channels, in_channels, 1), nn.BatchNorm2d(in_channels),
                                  nn.ReLU(inplace=True), nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, h, w) -> (B, out, h, w) unit vectors."""
        return F.normalize(self.proj(x), dim=1)


@MODELS.register_module()
class MultiPrototypeContrast(BaseObjective):
    """Contrast of projected fused decoder features with several prototypes per class, and LR / HR
    prototype consistency on the detail crop (module docstring; a reconstruction).

    Args:
        num_classes: C.  num_prototypes: K per class.  in_channels: decoder feature width (256).
        proj_channels: embedding width D.  temperature: tau.  momentum: prototype update momentum.
        sinkhorn_epsilon / sinkhorn_iters: the balanced assignment.
        contrast_weight / consistency_weight: loss weights (0 drops the term).
        feature_weighting: fuse detail into context features with the feature weighter (else context only).
        scale_min_ratio: majority ratio of the label down-scaling.  use_weights: weigh pixels by the
            stage's pseudo-label weights.  update_stages: stages whose pixels update the prototypes.
    """

    def __init__(self, num_classes: int = 19, num_prototypes: int = 10, in_channels: int = 256,
                 proj_channels: int = 256, temperature: float = 0.1, momentum: float = 0.999,
                 sinkhorn_epsilon: float = 0.05, sinkhorn_iters: int = 3, contrast_weight: float = 0.1,
                 consistency_weight: float = 0.1, feature_weighting: bool = True,
                 scale_min_ratio: float = 0.75, use_weights: bool = True, ignore_index: int = 255,
                 update_stages: Sequence[str] = ('source',), stages: Sequence[str] = ('source', 'mixed'),
                 start_iter: int = 0) -> None:
        super().__init__(stages, start_iter)
        if contrast_weight < 0 or consistency_weight < 0 or contrast_weight + consistency_weight == 0:
            raise ValueError(f'MultiPrototypeContrast: contrast_weight={contrast_weight} and '
                             f'consistency_weight={consistency_weight} must be >= 0 and not both 0 (drop the '
                             'objective instead)')
        if num_prototypes < 1 or temperature <= 0 or not 0 <= momentum < 1:
            raise ValueError(f'MultiPrototypeContrast: num_prototypes >= 1, temperature > 0 and momentum in '
                             f'[0, 1) expected, got {num_prototypes}, {temperature}, {momentum}')
        unknown = [s for s in update_stages if s not in self.stages]
        if unknown:
            raise ValueError(f'MultiPrototypeContrast: update_stages {unknown} are not among its stages '
                             f'{list(self.stages)}')
        self.num_classes, self.num_prototypes = num_classes, num_prototypes
        self.temperature, self.momentum = temperature, momentum
        self.sinkhorn_epsilon, self.sinkhorn_iters = sinkhorn_epsilon, sinkhorn_iters
        self.contrast_weight, self.consistency_weight = contrast_weight, consistency_weight
        self.feature_weighting, self.scale_min_ratio = feature_weighting, scale_min_ratio
        self.use_weights, self.ignore_index = use_weights, ignore_index
        self.update_stages = tuple(update_stages)
        self.projection_head = ConvMLPProjection(in_channels, proj_channels)
        init = torch.nn.init.trunc_normal_(torch.empty(num_classes, num_prototypes, proj_channels), std=0.02)
        self.register_buffer('prototypes', F.normalize(init, dim=-1))

    @property
    def loss_names(self):
        """The keys of the terms with a non-zero weight."""
        return tuple(name for name, weight in (('loss_proto_contrast', self.contrast_weight),
                                               ('loss_proto_consistency', self.consistency_weight)) if weight)

    def check_algorithm(self, algorithm) -> None:
        """The student must return PCPR's decoder features (``PCPREncoderDecoder``) of ``in_channels``
        channels for ``num_classes`` classes."""
        head = getattr(algorithm.model, 'decode_head', None)
        if not isinstance(head, PCPRHead):
            raise ValueError(f'MultiPrototypeContrast reads the decoder features of PCPRHead; the segmentor '
                             f'{type(algorithm.model).__name__} has {type(head).__name__} (use '
                             'PCPREncoderDecoder with a PCPRHead)')
        channels = self.projection_head.proj[0].in_channels
        if head.head.channels != channels or head.num_classes != self.num_classes:
            raise ValueError(f'MultiPrototypeContrast: in_channels={channels}, num_classes={self.num_classes}, '
                             f'but the decode head has channels={head.head.channels}, num_classes='
                             f'{head.num_classes}')

    def head_outputs(self, ctx: StageContext) -> Dict[str, torch.Tensor]:
        """The student's PCPRHead training outputs of this stage."""
        out = ctx.extras.get('hrda')
        if out is None or any(k not in out for k in HEAD_OUTPUTS):
            raise KeyError(f"MultiPrototypeContrast: stage '{ctx.stage}' has no PCPRHead decoder features; "
                           'it needs a stage that trains the decode head of a PCPREncoderDecoder')
        return out

    def fused_features(self, out: Dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, channels, H', W'): context features, detail mixed in by the feature weight inside the crop."""
        lr, hr = out['context_features'], out['detail_features']
        if not self.feature_weighting:
            return lr
        mask = F.interpolate(out['detail_mask'], size=lr.shape[2:], mode='nearest')
        return lr + mask * out['feature_weight'] * (hr - lr)

    def grid_labels(self, ctx: StageContext, size) -> torch.Tensor:
        """(N,) labels on the feature grid (majority vote), flattened."""
        scale = ctx.labels.shape[-1] // size[-1]
        if tuple(ctx.labels.shape[-2:]) != (size[0] * scale, size[1] * scale):
            raise ValueError(f"MultiPrototypeContrast: stage '{ctx.stage}' labels of size "
                             f'{tuple(ctx.labels.shape[-2:])} are not a multiple of the feature grid '
                             f'{tuple(size)}; use crops divisible by the output stride')
        return downscale_label_ratio(ctx.labels, scale, self.scale_min_ratio, self.num_classes,
                                     self.ignore_index).reshape(-1)

    def grid_weights(self, ctx: StageContext, size, labels: torch.Tensor) -> torch.Tensor:
        """(N,) pixel weights on the feature grid: 0 on ignored labels, the stage's weights (nearest)."""
        valid = (labels != self.ignore_index).float()
        if not self.use_weights or ctx.weights is None:
            return valid
        small = F.interpolate(ctx.weights[:, None].float(), size=tuple(size), mode='nearest')
        return valid * small.reshape(-1)

    def forward(self, ctx: StageContext) -> Dict[str, torch.Tensor]:
        """``loss_proto_contrast`` and / or ``loss_proto_consistency``; updates the prototypes in
        ``update_stages``."""
        out = self.head_outputs(ctx)
        prototypes = self.prototypes.clone()        # the update below must not touch the autograd graph
        emb = self.projection_head(self.fused_features(out))
        flat = emb.permute(0, 2, 3, 1).reshape(-1, emb.shape[1])
        labels = self.grid_labels(ctx, emb.shape[2:])
        weights = self.grid_weights(ctx, emb.shape[2:], labels)
        safe_labels = torch.where(labels == self.ignore_index, torch.zeros_like(labels), labels)
        logits = multi_prototype_logits(flat, prototypes, self.temperature)
        own = logits.detach().view(-1, self.num_classes, self.num_prototypes)
        own = own[torch.arange(own.shape[0], device=own.device), safe_labels] * self.temperature
        assign = sinkhorn_assign(own, safe_labels, (weights > 0).float(), self.num_classes,
                                 self.sinkhorn_epsilon, self.sinkhorn_iters)
        losses = {}
        if self.contrast_weight:
            losses['loss_proto_contrast'] = self.contrast_weight * prototype_contrast_loss(
                logits, safe_labels, assign, weights, self.num_prototypes)
        if self.consistency_weight:
            consistency = self.consistency(ctx, out, prototypes)
            losses['loss_proto_consistency'] = self.consistency_weight * consistency
        if ctx.stage in self.update_stages:
            self.update(flat.detach(), safe_labels, assign, (weights > 0).float())
        return losses

    def consistency(self, ctx: StageContext, out: Dict[str, torch.Tensor],
                    prototypes: torch.Tensor) -> torch.Tensor:
        """KL of the context features' prototype distribution from the detail features' on the crop."""
        y1, y2, x1, x2 = scale_box(ctx.extras['crop_box'], ctx.model.decode_head.output_stride)
        lr = self.projection_head(out['context_features'][:, :, y1:y2, x1:x2])
        hr = self.projection_head(out['detail_features'][:, :, y1:y2, x1:x2])
        lr, hr = (z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]) for z in (lr, hr))
        return prototype_consistency_loss(multi_prototype_logits(lr, prototypes, self.temperature),
                                          multi_prototype_logits(hr, prototypes, self.temperature))

    @torch.no_grad()
    def update(self, feats: torch.Tensor, labels: torch.Tensor, assign: torch.Tensor,
               valid: torch.Tensor) -> None:
        """Momentum update of the assigned prototypes (summed over ranks first)."""
        sums, counts = assigned_means(feats.float(), labels, assign, valid, self.num_classes,
                                      self.num_prototypes)
        self.prototypes.copy_(momentum_update(self.prototypes, sums, counts, self.momentum))
