"""ClassMix masks and mixing of source into target (docs/methods.md §1.5 steps 6-7, 5.2).

References: ClassMix (Olsson et al., WACV 2021), as used by DACS (Tranheden et al., WACV 2021) and
DAFormer (Hoyer et al., CVPR 2022; ``get_class_masks`` / ``one_mix`` in
``mmseg/models/utils/dacs_transforms.py`` of github.com/lhoyer/DAFormer).  Reference semantics kept on
purpose: the candidate class set is the set of values of the WHOLE source label batch (255 included when
present), so an image may paste classes it does not contain; each image draws its own
``ceil(|K| / 2)`` distinct classes uniformly at random.

Implemented without host synchronisation: class presence is a fixed-size (256,) vector, the uniform
subset is the ``ceil(|K|/2)`` present classes with the smallest i.i.d. uniform scores (a uniformly random
subset of that size), and the mask is a gather of the chosen-class table through the label map.
"""
from typing import Optional

import torch

from mmseg_procl.registry import MODELS

NUM_LABEL_VALUES = 256  # label maps hold train ids 0..254 and the ignore value 255


def batch_class_presence(labels: torch.Tensor) -> torch.Tensor:
    """(256,) bool: which label values occur anywhere in ``labels`` (values must lie in [0, 255])."""
    flat = labels.reshape(-1)
    present = torch.zeros(NUM_LABEL_VALUES, dtype=torch.bool, device=labels.device)
    return present.index_fill_(0, flat, True)


def _check_labels(source_labels: torch.Tensor) -> torch.Tensor:
    """(B, H, W) long labels from (B, H, W) / (B, 1, H, W) integer ones, else a ValueError."""
    if source_labels.dim() == 4 and source_labels.shape[1] == 1:
        source_labels = source_labels[:, 0]
    if source_labels.dim() != 3:
        raise ValueError('class_mix_masks: source_labels must be (B, H, W) or (B, 1, H, W), got shape '
                         f'{tuple(source_labels.shape)}')
    if source_labels.is_floating_point() or source_labels.is_complex() \
            or source_labels.dtype == torch.bool:
        raise ValueError('class_mix_masks: source_labels must be an integer tensor (values 0..255), '
                         f'got {source_labels.dtype}')
    return source_labels.long()


def sample_mix_classes(source_labels: torch.Tensor,
                       generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """(B, 256) bool: per image, ceil(|K|/2) distinct values drawn uniformly from the batch's set K."""
    labels = _check_labels(source_labels)
    present = batch_class_presence(labels)
    num_chosen = (present.sum() + 1) // 2  # ceil(|K| / 2), a device scalar
    scores = torch.rand(labels.shape[0], NUM_LABEL_VALUES, generator=generator, device=labels.device)
    scores = torch.where(present, scores, torch.full_like(scores, 2.0))  # absent values rank last
    rank = torch.argsort(torch.argsort(scores, dim=1), dim=1)
    return present & (rank < num_chosen)


def class_mix_masks(source_labels: torch.Tensor,
                    generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """ClassMix masks (B, 1, H, W) float: 1 where image i's label is among its sampled classes.

    ``source_labels`` is (B, H, W) (or (B, 1, H, W)) integer with values in [0, 255]; ``generator``, if
    given, must live on the labels' device.
    """
    labels = _check_labels(source_labels)
    chosen = sample_mix_classes(labels, generator)
    masks = torch.gather(chosen, 1, labels.reshape(labels.shape[0], -1))
    return masks.reshape(labels.shape[0], 1, *labels.shape[1:]).float()


def one_mix(mask: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mask * source + (1 - mask) * target`` (broadcast); integer operands (labels) keep their dtype.

    ``mask`` is (B, 1, H, W) or (B, H, W); ``source``/``target`` are images (B, C, H, W), labels or
    weights (B, H, W) or (B, 1, H, W).  The mask's channel axis is dropped / added to match.
    """
    if source.shape != target.shape:
        raise ValueError(f'one_mix: source and target must have the same shape, got '
                         f'{tuple(source.shape)} and {tuple(target.shape)}')
    if mask.dim() == source.dim() + 1 and mask.shape[1] == 1:
        mask = mask[:, 0]
    elif mask.dim() == source.dim() - 1:
        mask = mask.unsqueeze(1)  # (B, H, W) mask over (B, C, H, W) images
    if mask.shape[0] != source.shape[0] or mask.dim() != source.dim():
        raise ValueError(f'one_mix: mask of shape {tuple(mask.shape)} does not broadcast per image over '
                         f'operands of shape {tuple(source.shape)}')
    if source.is_floating_point():
        mask = mask.to(source.dtype)
        return mask * source + (1 - mask) * target
    return torch.where(mask.bool(), source, target)


@MODELS.register_module()
class ClassMix:
    """Mixing policy: ClassMix masks from the source labels (built from ``mix=``)."""

    def masks(self, source_labels: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) float masks (1 = take the source pixel)."""
        return class_mix_masks(source_labels)

    @staticmethod
    def mix(masks: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``mask * source + (1 - mask) * target`` for images, labels or weights."""
        return one_mix(masks, source, target)
