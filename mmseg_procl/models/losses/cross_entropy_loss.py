"""CrossEntropyLoss module (registered) around :func:`pixel_cross_entropy`."""
from typing import Dict, Optional, Sequence, Union

import torch
from torch import nn

from mmseg_procl.models.utils.class_prior import resolve_class_weight
from mmseg_procl.registry import MODELS
from .cross_entropy import pixel_cross_entropy


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """``loss_weight * pixel_cross_entropy(...)``; the name is the key in the loss dict.

    ``class_weight``: per-class weights (a list), or a log-frequency class prior
    ``dict(frequencies='dark_zurich', scale=0.05)`` (SePiCo's Dark Zurich variant; see
    ``models/utils/class_prior.py``).
    """

    def __init__(self, loss_weight: float = 1.0,
                 class_weight: Union[None, Sequence[float], Dict[str, object]] = None,
                 avg_non_ignore: bool = False, loss_name: str = 'loss_seg',
                 use_sigmoid: bool = False) -> None:
        super().__init__()
        if use_sigmoid:
            raise ValueError('CrossEntropyLoss: use_sigmoid=True is not supported (softmax CE only)')
        if not loss_name.startswith('loss_'):
            raise ValueError(f"CrossEntropyLoss: loss_name must start with 'loss_', got {loss_name!r}")
        self.loss_weight = loss_weight
        self.class_weight = resolve_class_weight(class_weight, 'CrossEntropyLoss.class_weight')
        self.avg_non_ignore = avg_non_ignore
        self.loss_name = loss_name

    def forward(self, logits: torch.Tensor, label: torch.Tensor,
                weight: Optional[torch.Tensor] = None, ignore_index: int = 255) -> torch.Tensor:
        """Weighted CE of (B, C, H, W) logits against (B, H, W) labels."""
        return self.loss_weight * pixel_cross_entropy(logits, label, weight, ignore_index,
                                                      self.class_weight, self.avg_non_ignore)
