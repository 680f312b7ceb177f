"""Pseudo-labels of the DACS / DAFormer family from teacher logits (docs/methods.md §1.5 steps 4-5, 5.8, 5.9).

The label is the teacher's argmax; the weight is a single scalar per batch, the fraction of pixels of
the whole target batch whose maximum probability reaches ``threshold`` (0.968), applied uniformly,
with ``ignore_top`` / ``ignore_bottom`` rows of the crop set to 0 (15 / 120 in DAFormer).
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch

from mmseg_procl.models.utils.class_prior import resolve_class_weight
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
    uses_day_partner = False        # DayNightPseudoLabeller: labels from a night image and its day partner

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


@MODELS.register_module()
class DayNightPseudoLabeller(PseudoLabeller):
    """Pseudo-labels of a night image fused with its daytime partner (SePiCo's Dark Zurich variant).

    SePiCo (github.com/BIT-DA/SePiCo ``mmseg/models/uda/sepico_dark.py``, ``mix_day_night_probs`` after
    DANNet; docs/methods.md §2.2.6): with the teacher's softmax ``P_d`` of the day image and ``P_n`` of the
    night image, a per-pixel, per-class weight

        w_c = day_ratio       if c is shift-insensitive and P_d,c > day_confidence
              1 - day_ratio   if c is shift-insensitive otherwise
              0               for the other classes

    gives ``P = (w * P_d + (1 - w) * P_n) * cw`` (``cw``: the class weights, SePiCo's log-frequency prior
    with scale 0.05; None for none); the label is ``argmax P`` and the confidence ``max P`` (used for the
    batch weight ``q`` as in :class:`PseudoLabeller`).  Shift-insensitive classes default to SePiCo's
    ``[0, 5)`` and ``[8, 11)``: road, sidewalk, building, wall, fence, vegetation, terrain, sky.

    Call graph: ``label(night_logits, day_logits) -> fuse -> argmax / max``; ``weights`` as the parent.
    """

    uses_day_partner = True

    def __init__(self, threshold: float = 0.968, ignore_top: int = 0, ignore_bottom: int = 0,
                 weighting: str = 'batch', day_ratio: float = 0.8, day_confidence: float = 0.4,
                 shift_insensitive_classes: Sequence[Sequence[int]] = ((0, 5), (8, 11)),
                 class_weight: Union[None, Sequence[float], Dict[str, object]] = None) -> None:
        super().__init__(threshold, ignore_top, ignore_bottom, weighting)
        for name, value in (('day_ratio', day_ratio), ('day_confidence', day_confidence)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f'DayNightPseudoLabeller: {name} must be a number in [0, 1], got {value!r}')
        ranges = [tuple(r) for r in shift_insensitive_classes]
        if any(len(r) != 2 or not 0 <= r[0] < r[1] for r in ranges):
            raise ValueError(f'DayNightPseudoLabeller: shift_insensitive_classes must be [start, end) class '
                             f'ranges, got {shift_insensitive_classes!r}')
        self.day_ratio, self.day_confidence, self.class_ranges = day_ratio, day_confidence, ranges
        self.class_weight = resolve_class_weight(class_weight, 'DayNightPseudoLabeller.class_weight')

    def fuse(self, night_probs: torch.Tensor, day_probs: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) fused, class-weighted probabilities of night / day softmax maps."""
        mix = torch.zeros_like(night_probs)
        for start, end in self.class_ranges:
            day = day_probs[:, start:end]
            mix[:, start:end] = torch.where(day > self.day_confidence, self.day_ratio, 1 - self.day_ratio)
        fused = mix * day_probs + (1 - mix) * night_probs
        if self.class_weight is not None:
            if len(self.class_weight) != fused.shape[1]:
                raise ValueError(f'DayNightPseudoLabeller: {len(self.class_weight)} class weights for '
                                 f'{fused.shape[1]} classes')
            fused = fused * fused.new_tensor(self.class_weight).view(1, -1, 1, 1)
        return fused

    def label(self, logits: torch.Tensor, day_logits: Optional[torch.Tensor] = None
              ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(labels, confidence) of the fused probabilities of night ``logits`` and ``day_logits``."""
        if day_logits is None:
            raise ValueError('DayNightPseudoLabeller needs the day partner of every target image; set '
                             "day_partners=dict() in the UDADataset (Dark Zurich corresp/train/night/*.csv)")
        night = torch.softmax(logits.detach().float(), dim=1)
        day = torch.softmax(day_logits.detach().float(), dim=1)
        confidence, labels = self.fuse(night, day).max(dim=1)
        return labels, confidence
