"""Lovász-softmax loss (Berman, Rannen Triki, Blaschko, "The Lovász-Softmax loss: a tractable surrogate
for the optimization of the intersection-over-union measure in neural networks", CVPR 2018;
github.com/bermanmaxim/LovaszSoftmax ``pytorch/lovasz_losses.py``), as ProCA trains its source-only stage
with it (``L = CE + 0.75 * Lovasz(softmax(up(logits)), y)``, classes present, one image set per batch;
github.com/jiangzhengkai/ProCA ``train_src.py`` with its copy ``core/utils/lovasz_loss.py``).  Where that
code returns an empty tensor (only ignored pixels) or a Python 0 (no class present), this returns a
0-valued scalar that keeps the graph.

For each class ``c`` with pixel errors ``e_i = |[y_i = c] - p_ic|`` sorted in decreasing order, the loss is
``sum_i e_(i) * g_i`` where ``g`` is the discrete derivative of the Jaccard loss ``1 - |I| / |U|`` along the
sorted foreground indicators; the result is averaged over the classes present in the labels
(``classes='present'``) or over all classes (``'all'``).

Our implementation sorts all classes in one ``torch.sort`` call and keeps every shape static: ignored
pixels enter with error 0 and no foreground (they sort last and contribute nothing, so the value is the
reference's, which removes them), and absent classes are masked out of the mean instead of skipped by a
Python ``if`` (no host synchronisation).  No maintained library in our dependency set provides it
(segmentation_models_pytorch's version would add timm and loops over classes with host reads).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from mmseg_procl.registry import MODELS

CLASS_MODES = ('present', 'all')


def lovasz_softmax(probs: torch.Tensor, labels: torch.Tensor, classes: str = 'present',
                   per_image: bool = False, ignore_index: int = 255) -> torch.Tensor:
    """Lovász-softmax of class probabilities (B, C, H, W) against labels (B, H, W) (a scalar).

    ``per_image``: the loss of every image separately, then their mean (the reference's option; ProCA uses
    False: all pixels of the batch as one set).  A set without valid pixels (or, with ``'present'``, without
    any class) gives 0 with a gradient path.

    Raises:
        ValueError: ``classes`` not in ('present', 'all'), or shapes that do not match.
    """
    if classes not in CLASS_MODES:
        raise ValueError(f'lovasz_softmax: classes must be one of {CLASS_MODES}, got {classes!r}')
    if probs.dim() != 4 or labels.shape != (probs.shape[0], ) + probs.shape[2:]:
        raise ValueError(f'lovasz_softmax: expected probs (B, C, H, W) and labels (B, H, W), got '
                         f'{tuple(probs.shape)} and {tuple(labels.shape)}')
    if per_image:
        return torch.stack([_lovasz_flat(p[None], l[None], classes, ignore_index)
                            for p, l in zip(probs, labels)]).mean()
    return _lovasz_flat(probs, labels, classes, ignore_index)


def _lovasz_flat(probs: torch.Tensor, labels: torch.Tensor, classes: str, ignore_index: int) -> torch.Tensor:
    """The loss over all pixels of (B, C, H, W) / (B, H, W) as one set."""
    num_classes = probs.shape[1]
    flat = probs.permute(0, 2, 3, 1).reshape(-1, num_classes)                       # (P, C)
    labels = labels.reshape(-1)
    valid = labels != ignore_index
    class_ids = torch.arange(num_classes, device=labels.device)
    foreground = ((labels[:, None] == class_ids) & valid[:, None]).to(flat.dtype)  # (P, C)
    errors = (foreground - flat).abs() * valid[:, None].to(flat.dtype)
    errors_sorted, order = torch.sort(errors, dim=0, descending=True)
    loss_per_class = (errors_sorted * _lovasz_grad(torch.gather(foreground, 0, order))).sum(0)   # (C,)
    if classes == 'present':
        weights = (foreground.sum(0) > 0).to(flat.dtype)
    else:
        weights = torch.ones(num_classes, dtype=flat.dtype, device=flat.device)
    weights = weights * valid.any().to(flat.dtype)
    return (loss_per_class * weights).sum() / weights.sum().clamp(min=1.0)


def _lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Per column of sorted 0/1 foreground indicators (P, C): the Jaccard loss increments (P, C)."""
    total = gt_sorted.sum(0, keepdim=True)
    intersection = total - gt_sorted.cumsum(0)
    union = total + (1.0 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union.clamp(min=1e-12)
    return torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]], dim=0)


@MODELS.register_module()
class LovaszLoss(nn.Module):
    """``loss_weight * lovasz_softmax(softmax(logits), labels)`` (mmseg's ``LovaszLoss`` names, multi-class).

    Args:
        loss_type: 'multi_class' (the only one; binary Lovász hinge is not implemented).
        classes: 'present' or 'all'.
        per_image: loss per image, then the mean.
        loss_weight: factor (ProCA: 0.75).
        loss_name: key in the loss dict (starts with ``loss_``).

    Raises:
        ValueError: another ``loss_type``, ``classes`` or ``loss_name``.
    """

    def __init__(self, loss_type: str = 'multi_class', classes: str = 'present', per_image: bool = False,
                 loss_weight: float = 1.0, loss_name: str = 'loss_lovasz') -> None:
        super().__init__()
        if loss_type != 'multi_class':
            raise ValueError(f"LovaszLoss: loss_type must be 'multi_class' (softmax), got {loss_type!r}")
        if classes not in CLASS_MODES:
            raise ValueError(f'LovaszLoss: classes must be one of {CLASS_MODES}, got {classes!r}')
        if not loss_name.startswith('loss_'):
            raise ValueError(f"LovaszLoss: loss_name must start with 'loss_', got {loss_name!r}")
        self.classes, self.per_image = classes, per_image
        self.loss_weight, self.loss_name = loss_weight, loss_name

    def forward(self, logits: torch.Tensor, label: torch.Tensor, weight: Optional[torch.Tensor] = None,
                ignore_index: int = 255) -> torch.Tensor:
        """Loss of (B, C, H, W) logits against (B, H, W) labels; per-pixel ``weight`` is not supported."""
        if weight is not None:
            raise ValueError('LovaszLoss: per-pixel weights are not defined for the Lovász extension; '
                             'use it on labelled (source) stages without seg_weight')
        probs = F.softmax(logits.float(), dim=1)
        return self.loss_weight * lovasz_softmax(probs, label, self.classes, self.per_image, ignore_index)
