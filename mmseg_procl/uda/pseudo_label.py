"""Pseudo-labels of the DACS / DAFormer family from teacher logits (docs/methods.md §1.5 steps 4-5, 5.8, 5.9).

The label is the teacher's argmax; the weight is a single scalar per batch, the fraction of pixels of
the whole target batch whose maximum probability reaches ``threshold`` (0.968), applied uniformly,
with ``ignore_top`` / ``ignore_bottom`` rows of the crop set to 0 (15 / 120 in DAFormer).
"""
from typing import Optional, Tuple

import torch

from mmseg_procl.registry import MODELS


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


def confident_fraction(confidence: torch.Tensor, threshold: float) -> torch.Tensor:
    """The batch-scalar weight ``q``: share of all pixels whose confidence reaches ``threshold``."""
    return (confidence >= threshold).float().mean()


@MODELS.register_module()
class PseudoLabeller:
    """Pseudo-label policy: labels and pixel weights from teacher logits (built from ``pseudo_labeller=``).

    ``weighting='batch'`` (DAFormer family): one weight ``q`` for every target pixel, the fraction of
    the batch's pixels with confidence >= ``threshold``; ``'pixel'`` (WDASS): ``q`` where the pixel's
    confidence reaches the threshold, 0 elsewhere.  ``ignore_top`` / ``ignore_bottom`` rows of the
    label map get weight 0 (DAFormer: 15 / 120 rows of the crop).

    Call graph: ``__call__(logits) -> label (argmax, confidence) -> weights(labels, confidence)``; a
    class-balanced crop first labels the full image, crops, then weights the crop.
    """

    WEIGHTINGS = ('batch', 'pixel')

    def __init__(self, threshold: float = 0.968, ignore_top: int = 0, ignore_bottom: int = 0,
                 weighting: str = 'batch') -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
                or not 0 <= threshold <= 1:
            raise ValueError(f'PseudoLabeller: threshold must be a number in [0, 1], got {threshold!r}')
        for name, rows in (('ignore_top', ignore_top), ('ignore_bottom', ignore_bottom)):
            if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
                raise ValueError(f'PseudoLabeller: {name} must be an integer >= 0 (rows), got {rows!r}')
        if weighting not in self.WEIGHTINGS:
            raise ValueError(f'PseudoLabeller: weighting must be one of {self.WEIGHTINGS}, got '
                             f'{weighting!r}')
        self.threshold, self.weighting = threshold, weighting
        self.ignore_top, self.ignore_bottom = ignore_top, ignore_bottom

    @staticmethod
    def label(logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(labels (B,H,W) long, confidence (B,H,W)) = argmax / max of the softmax of (B,C,H,W) logits."""
        confidence, labels = torch.softmax(logits.detach().float(), dim=1).max(dim=1)
        return labels, confidence

    def weights(self, confidence: torch.Tensor, ratio: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, H, W) pixel weights from the confidence map (rows masked).

        ``ratio`` replaces the confident fraction of ``confidence`` (a crop that was not relabelled
        keeps the fraction of its full image, as SePiCo without regeneration does).
        """
        if ratio is None:
            ratio = confident_fraction(confidence, self.threshold)
        if self.weighting == 'batch':
            weights = ratio * torch.ones_like(confidence)
        else:
            weights = ratio * (confidence >= self.threshold).to(confidence.dtype)
        if self.ignore_top > 0:
            weights[:, :self.ignore_top, :] = 0
        if self.ignore_bottom > 0:
            weights[:, -self.ignore_bottom:, :] = 0
        return weights

    def __call__(self, logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(labels, weights) of teacher logits."""
        labels, confidence = self.label(logits)
        return labels, self.weights(confidence)
