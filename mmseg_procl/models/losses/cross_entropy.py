"""Pixel-weighted cross entropy with the mmseg 0.16 averaging convention (docs/methods.md §1.1 item 5).

Per-pixel CE with ``reduction='none'`` (ignored pixels contribute 0), multiplied by an optional
per-pixel weight, then averaged over **all** B*H*W pixels including ignored ones, as
``mmseg/models/losses/cross_entropy_loss.py`` of mmseg 0.16 (used by DAFormer, CLIP-ProCL, SePiCo)
does.  ``avg_non_ignore=True`` averages over valid pixels instead (WDASS / ProCA convention,
docs/methods.md §3 item 7).
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F


def pixel_cross_entropy(logits: torch.Tensor, label: torch.Tensor,
                        weight: Optional[torch.Tensor] = None, ignore_index: int = 255,
                        class_weight: Optional[Sequence[float]] = None,
                        avg_non_ignore: bool = False) -> torch.Tensor:
    """Mean of ``weight * CE(logits, label)`` over all pixels (or over valid ones).

    ``logits`` (B, C, H, W), ``label`` (B, H, W) long, ``weight`` (B, H, W) or None.  A batch with
    no valid pixel gives 0 (not NaN) under ``avg_non_ignore``.
    """
    cw = None if class_weight is None else logits.new_tensor(class_weight)
    loss = F.cross_entropy(logits, label, weight=cw, reduction='none', ignore_index=ignore_index)
    if weight is not None:
        loss = loss * weight.to(loss.dtype)
    if not avg_non_ignore:
        return loss.mean()
    valid = (label != ignore_index).sum()
    return loss.sum() / valid.clamp(min=1).to(loss.dtype)
