"""PrototypeContrast: pull the projected pixel embeddings towards their class prototype.

The alignment loss of CLIP-ProCL (github.com/bupt-ai-cz/CLIP-ProCL ``AlignmentLoss``,
docs/methods.md §2.1.5) with the prototype source ``CLIPTextPrototypes``; the prototype source is a
config entry, so SePiCo's / ProCA's class-mean prototypes plug in the same way.  Per stage:

    f = embedding head(feats)                          (B, D, h, w), unit norm (ProjHead)
    y = downscale_label_ratio(labels, H / h, r)        majority label, weak majorities ignored
    L = loss_weight * mean_valid CE(f . P^T / tau, y)  P = prototypes(ctx), detached

CLIP-ProCL: tau = 1.0, r = 0.75, stages source and mixed, **no** pseudo-label weights on mixed
images (``use_weights=False``; the reference never passes them, docs/methods.md §3 item 1).
"""
from typing import Dict, Sequence, Union

import torch
import torch.nn.functional as F

from mmseg_procl.models.losses import prototype_cross_entropy
from mmseg_procl.registry import MODELS
from mmseg_procl.uda.stage_context import StageContext
from .base_objective import BaseObjective
from .feature_distance import downscale_label_ratio


@MODELS.register_module()
class PrototypeContrast(BaseObjective):
    """Cross entropy of embedding-prototype similarities over the stage's (pseudo-)labels."""

    def __init__(self, prototypes: Union[str, dict], temperature: float = 1.0,
                 scale_min_ratio: float = 0.75, loss_weight: float = 1.0, num_classes: int = 19,
                 ignore_index: int = 255, embedding_head: str = 'auxiliary_head',
                 use_weights: bool = False, loss_name: str = 'loss_align',
                 stages: Sequence[str] = ('source', 'mixed'), start_iter: int = 0) -> None:
        super().__init__(stages, start_iter)
        if not loss_name.startswith('loss_'):
            raise ValueError(f"PrototypeContrast: loss_name must start with 'loss_', got {loss_name!r}")
        # a stateless source built here (CLIP text embeddings) or the name of one the algorithm owns
        self.source_name = prototypes if isinstance(prototypes, str) else None
        self.prototypes = None if self.source_name else MODELS.build(prototypes)
        self.temperature, self.scale_min_ratio = temperature, scale_min_ratio
        self.loss_weight, self.loss_name = loss_weight, loss_name
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.embedding_head, self.use_weights = embedding_head, use_weights

    @property
    def loss_names(self):
        """``(loss_name,)``."""
        return (self.loss_name,)

    @property
    def prototype_source_names(self):
        """The algorithm's prototype source read by name, if any."""
        return (self.source_name,) if self.source_name else ()

    def class_prototypes(self, ctx: StageContext) -> torch.Tensor:
        """(C, D) prototypes without gradient: the inline source's, or the named source's means."""
        if self.prototypes is not None:
            return self.prototypes(ctx)
        return ctx.prototype_source(self.source_name).prototypes().detach()

    def embeddings(self, ctx: StageContext) -> torch.Tensor:
        """The embedding head's output for the stage's features (computed once per stage)."""
        return ctx.head_output(self.embedding_head)

    def small_labels(self, ctx: StageContext, size) -> torch.Tensor:
        """Labels down-scaled by majority vote to the embedding resolution."""
        scale = ctx.labels.shape[-1] // size[-1]
        return downscale_label_ratio(ctx.labels, scale, self.scale_min_ratio, self.num_classes,
                                     self.ignore_index)

    def small_weights(self, ctx: StageContext, size):
        """Pseudo-label weights at the embedding resolution (nearest), or None."""
        if not self.use_weights or ctx.weights is None:
            return None
        return F.interpolate(ctx.weights[:, None].float(), size=tuple(size), mode='nearest')[:, 0]

    def forward(self, ctx: StageContext) -> Dict[str, torch.Tensor]:
        """``{loss_name: loss_weight * prototype cross entropy}``."""
        emb = self.embeddings(ctx)
        labels = self.small_labels(ctx, emb.shape[2:])
        loss = prototype_cross_entropy(emb, labels, self.class_prototypes(ctx), self.temperature,
                                       self.ignore_index, self.small_weights(ctx, emb.shape[2:]))
        return {self.loss_name: self.loss_weight * loss}
