"""Pseudo-labels of the DACS / DAFormer family from teacher logits (docs/methods.md §1.5 steps 4-5, 5.8, 5.9).

The label is the teacher's argmax; the weight is a single scalar per batch, the fraction of pixels of
the whole target batch whose maximum probability reaches ``threshold`` (0.968), applied uniformly,
with ``ignore_top`` / ``ignore_bottom`` rows of the crop set to 0 (15 / 120 in DAFormer).
"""
from typing import Tuple

import torch


def pseudo_label_and_weight(logits: torch.Tensor, threshold: float, ignore_top: int = 0,
                            ignore_bottom: int = 0) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(labels (B,H,W) long, weights (B,H,W) float, max probabilities (B,H,W)) from logits (B,C,H,W)."""
    probs = torch.softmax(logits.detach().float(), dim=1)
    confidence, labels = probs.max(dim=1)
    ratio = (confidence >= threshold).float().mean()
    weights = ratio * torch.ones_like(confidence)
    if ignore_top > 0:
        weights[:, :ignore_top, :] = 0
    if ignore_bottom > 0:
        weights[:, -ignore_bottom:, :] = 0
    return labels, weights, confidence
