"""Pixel-to-prototype cross entropy: the alignment / prototype-contrast loss of CLIP-ProCL and SePiCo.

CLIP-ProCL ``AlignmentLoss`` (github.com/bupt-ai-cz/CLIP-ProCL ``mmseg/models/losses/
alignment_loss.py``, docs/methods.md §2.1.5): unit-norm pixel embeddings ``f`` (B, D, h, w), labels at the
same resolution, prototypes ``P`` (C, D): ``logits = f . P^T / tau`` and the cross entropy averaged
over the positions whose label is not ignored.  SePiCo's ProtoCL (Xie et al., TPAMI 2023) has the
same form with its class-mean prototypes and tau = 100 (docs/methods.md §2.2).  No valid position gives
0 (the references produce NaN, docs/methods.md §3 item 10); the mean is formed without a host synchronisation.
"""
from typing import Optional

import torch
import torch.nn.functional as F


def prototype_cross_entropy(embeddings: torch.Tensor, labels: torch.Tensor, prototypes: torch.Tensor,
                            temperature: float = 1.0, ignore_index: int = 255,
                            weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean over valid positions of ``CE(f . P^T / tau, y)`` (optionally per-position weighted).

    ``embeddings`` (B, D, h, w), ``labels`` (B, h, w) long, ``prototypes`` (C, D), ``weights``
    (B, h, w) or None.
    """
    logits = torch.einsum('bdhw,cd->bchw', embeddings, prototypes.to(embeddings.dtype)) / temperature
    loss = F.cross_entropy(logits, labels, reduction='none', ignore_index=ignore_index)
    if weights is not None:
        loss = loss * weights.to(loss.dtype)
    valid = (labels != ignore_index).sum()
    return loss.sum() / valid.clamp(min=1).to(loss.dtype)
