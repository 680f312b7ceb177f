"""SegDataSample: the per-image container passed between data pipeline, model and metric.

Same interface as MMSegmentation 1.x's ``SegDataSample`` (fields ``gt_sem_seg``, ``pred_sem_seg``,
``seg_logits``) plus ``seg_weight``, the per-pixel loss weight map used by self-training.
"""
from mmengine.structures import BaseDataElement, PixelData


def _pixel_field(name: str, doc: str) -> property:
    """A PixelData-typed data field stored as ``_<name>`` (get / set / delete)."""
    private = f'_{name}'

    def getter(self) -> PixelData:
        return getattr(self, private)

    def setter(self, value: PixelData) -> None:
        self.set_field(value, private, dtype=PixelData)

    def deleter(self) -> None:
        delattr(self, private)

    return property(getter, setter, deleter, doc)


class SegDataSample(BaseDataElement):
    """Holds the annotations and predictions of one image as PixelData fields."""

    gt_sem_seg = _pixel_field('gt_sem_seg', 'Ground-truth label map, data of shape (1, H, W).')
    pred_sem_seg = _pixel_field('pred_sem_seg', 'Predicted label map, data of shape (1, H, W).')
    seg_logits = _pixel_field('seg_logits', 'Class logits, data of shape (C, H, W).')
    seg_weight = _pixel_field('seg_weight', 'Per-pixel loss weight, data of shape (1, H, W).')
