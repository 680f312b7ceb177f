"""ImageNetFeatureDistance: thing-class feature distance to a frozen ImageNet backbone (docs/methods.md §1.6).

DAFormer (Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer, ``mmseg/models/uda/dacs.py``
``calc_feat_dist`` and ``mmseg/utils/utils.py`` ``downscale_label_ratio``): the source label is
down-scaled to the last backbone stage by majority vote (a position keeps its majority class only if
it covers at least ``scale_min_ratio`` of the window; ignore counts as a class), positions of the thing
classes are kept, and ``lambda_fd * mean ||f_student - f_imagenet||_2`` over them is the loss.  With no
thing position the loss is 0 (the reference logs NaN; docs/methods.md §3 item 10).  The ImageNet backbone is a
frozen copy built from the segmentor's backbone config (so it loads the same pretrained weights) and
stays in eval mode.  It sees the image the student's features were computed on
(``segmentor.feature_input``: the image itself, or HRDA's 0.5-scale context image, docs/methods.md §2.3).
"""
from typing import Dict, Sequence

import torch
import torch.nn.functional as F

from mmseg_procl.registry import MODELS
from mmseg_procl.uda.stage_context import StageContext
from mmseg_procl.uda.teacher import freeze
from .base_objective import BaseObjective

THING_CLASSES = (6, 7, 11, 12, 13, 14, 15, 16, 17, 18)


def downscale_label_ratio(label: torch.Tensor, scale: int, min_ratio: float, num_classes: int,
                          ignore_index: int = 255) -> torch.Tensor:
    """Majority-vote down-scaling of (B, H, W) labels by ``scale``; weak majorities become ignore."""
    substitute = num_classes
    lab = torch.where(label == ignore_index, torch.full_like(label, substitute), label).long()
    classes = torch.arange(num_classes + 1, device=lab.device).view(1, -1, 1, 1)
    onehot = (lab[:, None] == classes).float()        # (B, C + 1, H, W); F.one_hot checks values on the host
    pooled = F.avg_pool2d(onehot, kernel_size=scale)
    ratio, out = pooled.max(dim=1)
    out = torch.where(out == substitute, torch.full_like(out, ignore_index), out)
    return torch.where(ratio < min_ratio, torch.full_like(out, ignore_index), out)


def masked_feature_distance(f1: torch.Tensor, f2: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over masked positions of the channel L2 distance (0 when the mask is empty)."""
    dist = torch.norm(f1 - f2, dim=1)
    mask = mask.to(dist.dtype)
    return (dist * mask).sum() / mask.sum().clamp(min=1.0)


@MODELS.register_module()
class ImageNetFeatureDistance(BaseObjective):
    """DAFormer's FD regulariser on the last backbone stage (source stage)."""

    uses_student_backbone = True   # the algorithm passes the student's backbone config

    def __init__(self, backbone: dict, lambda_fd: float = 0.005,
                 classes: Sequence[int] = THING_CLASSES, scale_min_ratio: float = 0.75,
                 num_classes: int = 19, ignore_index: int = 255,
                 stages: Sequence[str] = ('source',), start_iter: int = 0) -> None:
        super().__init__(stages, start_iter)
        self.imnet_backbone = freeze(MODELS.build(backbone)).eval()
        self.lambda_fd = lambda_fd
        self.register_buffer('classes', torch.tensor(list(classes), dtype=torch.long), False)
        self.scale_min_ratio = scale_min_ratio
        self.num_classes, self.ignore_index = num_classes, ignore_index

    @property
    def loss_names(self):
        """``('loss_imnet_feat_dist',)``."""
        return ('loss_imnet_feat_dist',)

    def train(self, mode: bool = True) -> 'ImageNetFeatureDistance':
        """Keep the ImageNet backbone in eval mode whatever the runner asks."""
        super().train(mode)
        self.imnet_backbone.eval()
        return self

    def forward(self, ctx: StageContext) -> Dict[str, torch.Tensor]:
        """``{'loss_imnet_feat_dist': lambda * masked distance}`` for the stage's inputs."""
        student = ctx.feats[-1]
        inputs = ctx.inputs if ctx.model is None else ctx.model.feature_input(ctx.inputs)
        with torch.no_grad():
            imnet = self.imnet_backbone(inputs)[-1]
        scale = ctx.labels.shape[-1] // student.shape[-1]
        small = downscale_label_ratio(ctx.labels, scale, self.scale_min_ratio, self.num_classes,
                                      self.ignore_index)
        mask = (small[..., None] == self.classes).any(-1)
        return {'loss_imnet_feat_dist': self.lambda_fd * masked_feature_distance(student, imnet, mask)}
