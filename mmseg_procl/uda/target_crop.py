"""ClassBalancedCrop: SePiCo's class-balanced cropping (CBC) of the target image on its pseudo-label.

SePiCo (Xie et al., TPAMI 2023; github.com/BIT-DA/SePiCo ``mmseg/models/utils/ours_transforms.py``
``RandomCrop``, used by ``mmseg/models/uda/sepico.py``; docs/methods.md §2.2): the target image is
loaded uncropped; the teacher labels it; per image, ``num_candidates`` crop windows are drawn with
uniform offsets (numpy, the first one included) and scored on the pseudo-label:

    score = sum_k log(count_k)  over classes k (ignore excluded) with count_k > 1,
            if the window holds > 1 class and max_k count_k / sum_k count_k < cat_max_ratio, else 0

and the first window of highest score is kept (``prod=True``).  ``prod=False`` is the mmseg-style
rejection sampling instead (redraw until the check passes, at most ``num_candidates`` checks).  With
``regenerate=True`` (every released experiment) the teacher labels the crop again.
"""
from typing import List, Sequence, Tuple

import numpy as np
import torch

from mmseg_procl.registry import MODELS

Box = Tuple[int, int, int, int]      # y1, y2, x1, x2


def crop_box(height: int, width: int, crop_hw: Sequence[int]) -> Box:
    """A window of ``crop_hw`` with uniform offsets (numpy), clipped to the image."""
    margin_h, margin_w = max(height - crop_hw[0], 0), max(width - crop_hw[1], 0)
    y = np.random.randint(0, margin_h + 1)
    x = np.random.randint(0, margin_w + 1)
    return y, y + crop_hw[0], x, x + crop_hw[1]


def window_score(label: torch.Tensor, cat_max_ratio: float, ignore_index: int = 255) -> torch.Tensor:
    """CBC score of a (h, w) label window (a device scalar; 0 when the balance check fails).  The class
    histogram is a scatter-add (``torch.bincount`` reads the maximum on the host on a GPU)."""
    flat = label.reshape(-1).long()
    counts = torch.zeros(256, dtype=torch.long, device=label.device)
    counts.scatter_add_(0, flat, torch.ones_like(flat))
    counts[ignore_index] = 0
    present = counts > 0
    total = counts.sum().clamp(min=1)
    balanced = (present.sum() > 1) & (counts.max().float() / total.float() < cat_max_ratio)
    score = torch.where(counts > 1, counts.float().clamp(min=1).log(), torch.zeros_like(counts,
                                                                                       dtype=torch.float))
    return torch.where(balanced, score.sum(), torch.zeros((), device=label.device))


@MODELS.register_module()
class ClassBalancedCrop:
    """Target crop policy: choose each target image's crop window on its pseudo-label."""

    def __init__(self, crop_size: Sequence[int] = (640, 640), cat_max_ratio: float = 0.75,
                 num_candidates: int = 10, regenerate: bool = True, prod: bool = True,
                 ignore_index: int = 255) -> None:
        if len(crop_size) != 2 or min(crop_size) < 1:
            raise ValueError(f'ClassBalancedCrop: crop_size must be (h, w) > 0, got {crop_size!r}')
        if num_candidates < 1:
            raise ValueError(f'ClassBalancedCrop: num_candidates must be >= 1, got {num_candidates}')
        self.crop_size = tuple(int(v) for v in crop_size)
        self.cat_max_ratio, self.num_candidates = cat_max_ratio, num_candidates
        self.regenerate, self.prod, self.ignore_index = regenerate, prod, ignore_index

    def choose(self, label: torch.Tensor) -> Box:
        """The window of one (H, W) pseudo-label."""
        return self.choose_batch(label[None])[0]

    def _candidates(self, label: torch.Tensor) -> Tuple[List[Box], torch.Tensor]:
        """``num_candidates`` windows of one (H, W) pseudo-label (numpy draws) and their scores."""
        height, width = label.shape[-2:]
        boxes = [crop_box(height, width, self.crop_size) for _ in range(self.num_candidates)]
        return boxes, torch.stack([window_score(label[y1:y2, x1:x2], self.cat_max_ratio,
                                                self.ignore_index) for y1, y2, x1, x2 in boxes])

    def _rejection_sample(self, label: torch.Tensor) -> Box:
        """mmseg-style: redraw until the window passes the balance check (``prod=False``)."""
        height, width = label.shape[-2:]
        box = crop_box(height, width, self.crop_size)
        if self.cat_max_ratio >= 1:
            return box
        for _ in range(self.num_candidates):
            window = label[box[0]:box[1], box[2]:box[3]]
            if self._balanced(window):
                break
            box = crop_box(height, width, self.crop_size)
        return box

    def _balanced(self, window: torch.Tensor) -> bool:
        """Whether a window has > 1 class and no class reaching ``cat_max_ratio``."""
        counts = torch.bincount(window.reshape(-1).long(), minlength=256)
        counts[self.ignore_index] = 0
        return bool((counts > 0).sum() > 1) and \
            float(counts.max()) / max(float(counts.sum()), 1.0) < self.cat_max_ratio

    def choose_batch(self, labels: torch.Tensor) -> List[Box]:
        """One window per image of (B, H, W) pseudo-labels: the first highest-scoring candidate, as
        the reference (one host read of the best indices for the whole batch)."""
        if not self.prod:
            return [self._rejection_sample(label) for label in labels]
        candidates = [self._candidates(label) for label in labels]
        best = torch.stack([scores for _, scores in candidates]).argmax(dim=1).tolist()
        return [boxes[i] for (boxes, _), i in zip(candidates, best)]

    @staticmethod
    def crop(tensor: torch.Tensor, boxes: Sequence[Box]) -> torch.Tensor:
        """Crop every image of a (B, ...) tensor (last two axes spatial) with its own window."""
        return torch.stack([t[..., y1:y2, x1:x2] for t, (y1, y2, x1, x2) in zip(tensor, boxes)])
