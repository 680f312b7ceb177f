"""CLIPFeatureDistillation: the frozen CLIP image tower as a teacher of the segmentation features.

An image-prior objective in the spirit of CLIP-ProCL's "CLIP image features guide the segmentation
features" (docs/methods.md §2.1, paper abstract) and of DAFormer's ImageNet feature distance
(docs/methods.md §1.6).  The released CLIP-ProCL code realises the image prior through the fusion filter
only, so its configs keep this objective off; ``configs/clip_procl/*_imgdistill.py`` is the
ablation that turns it on.  Per stage:

    s = proj(feats[feature_index])                          learned 1x1 conv -> CLIP joint space
    z = normalize(MaskCLIP(clip(img)))                      frozen tower, eval mode, no grad
    z <- normalize(resize(z, size of s))
    L = loss_weight * mean_mask d(s, z)       d = 1 - cos(s, z)  or  ||s - z||_2

with the mask from the labels down-scaled by majority vote restricted to ``classes`` (as FD), or
every position when ``classes`` is None.  Gradients reach ``proj`` and the student backbone, never
CLIP.  The tower is the objective's own (so it works on any segmentor) and is loaded from
``clip_weights`` in ``init_weights``.
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mmseg_procl.models.backbones.clip_checkpoint import init_clip_towers
from mmseg_procl.models.utils import resize
from mmseg_procl.registry import MODELS
from mmseg_procl.uda.stage_context import StageContext
from mmseg_procl.uda.teacher import freeze
from .base_objective import BaseObjective
from .feature_distance import downscale_label_ratio, masked_feature_distance

DISTANCES = ('cosine', 'l2')


def masked_cosine_distance(f1: torch.Tensor, f2: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over masked positions of ``1 - cos(f1, f2)`` over channels (0 when the mask is empty)."""
    dist = 1.0 - F.cosine_similarity(f1, f2, dim=1)
    mask = mask.to(dist.dtype)
    return (dist * mask).sum() / mask.sum().clamp(min=1.0)


@MODELS.register_module()
class CLIPFeatureDistillation(BaseObjective):
    """Distance between projected student features and dense CLIP image embeddings."""

    def __init__(self, clip_visual: dict, in_channels: int, clip_weights: Optional[str] = None,
                 feature_index: int = -1, distance: str = 'cosine', loss_weight: float = 1.0,
                 classes: Optional[Sequence[int]] = None, scale_min_ratio: float = 0.75,
                 num_classes: int = 19, ignore_index: int = 255,
                 stages: Sequence[str] = ('source',), start_iter: int = 0) -> None:
        super().__init__(stages, start_iter)
        if distance not in DISTANCES:
            raise ValueError(f'CLIPFeatureDistillation: distance must be one of {DISTANCES}, '
                             f'got {distance!r}')
        self.clip = freeze(MODELS.build(clip_visual)).eval()
        self.proj = nn.Conv2d(in_channels, self.clip.embed_dim, kernel_size=1)
        self.clip_weights, self.feature_index = clip_weights, feature_index
        self.distance, self.loss_weight = distance, loss_weight
        self.restrict = classes is not None
        self.register_buffer('classes', torch.tensor(list(classes or ()), dtype=torch.long), False)
        self.scale_min_ratio, self.num_classes = scale_min_ratio, num_classes
        self.ignore_index = ignore_index

    @property
    def loss_names(self):
        """``('loss_clip_feat_dist',)``."""
        return ('loss_clip_feat_dist',)

    def init_weights(self) -> None:
        """Default init of ``proj``, CLIP weights into the tower."""
        super().init_weights()
        init_clip_towers(self.clip, None, self.clip_weights)

    def train(self, mode: bool = True) -> 'CLIPFeatureDistillation':
        """Keep the CLIP tower in eval mode whatever the runner asks."""
        super().train(mode)
        self.clip.eval()
        return self

    @torch.no_grad()
    def clip_targets(self, inputs: torch.Tensor, size) -> torch.Tensor:
        """Unit-norm dense CLIP embeddings resized to ``size``."""
        dense = F.normalize(self.clip.dense_embedding(self.clip(inputs)[-1]), dim=1)
        return F.normalize(resize(dense, size, align_corners=False), dim=1)

    def mask(self, ctx: StageContext, student: torch.Tensor) -> torch.Tensor:
        """Positions that count: labels of ``classes`` (majority down-scaled) or all."""
        if not self.restrict:
            return torch.ones_like(student[:, 0], dtype=torch.bool)
        scale = ctx.labels.shape[-1] // student.shape[-1]
        small = downscale_label_ratio(ctx.labels, scale, self.scale_min_ratio, self.num_classes,
                                      self.ignore_index)
        return (small[..., None] == self.classes).any(-1)

    def forward(self, ctx: StageContext) -> Dict[str, torch.Tensor]:
        """``{'loss_clip_feat_dist': loss_weight * masked distance}``."""
        student = self.proj(ctx.feats[self.feature_index])
        target = self.clip_targets(ctx.inputs, student.shape[2:])
        mask = self.mask(ctx, student)
        if self.distance == 'cosine':
            dist = masked_cosine_distance(student, target, mask)
        else:
            dist = masked_feature_distance(student, target, mask)
        return {'loss_clip_feat_dist': self.loss_weight * dist}
