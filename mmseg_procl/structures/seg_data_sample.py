"""SegDataSample: the per-image container passed between data pipeline, model and metric.

Same interface as MMSegmentation 1.x's ``SegDataSample`` (fields ``gt_sem_seg``, ``pred_sem_seg``,
``seg_logits``) plus ``seg_weight``, the per-pixel loss weight map used by self-training.
"""
from mmengine.structures import BaseDataElement, PixelData


class SegDataSample(BaseDataElement):
    """Holds the annotations and predictions of one image as PixelData fields."""

    @property
    def gt_sem_seg(self) -> PixelData:
        """Ground-truth label map, ``data`` of shape (1, H, W)."""
        return self._gt_sem_seg

    @gt_sem_seg.setter
    def gt_sem_seg(self, value: PixelData) -> None:
        self.set_field(value, '_gt_sem_seg', dtype=PixelData)

    @gt_sem_seg.deleter
    def gt_sem_seg(self) -> None:
        del self._gt_sem_seg

    @property
    def pred_sem_seg(self) -> PixelData:
        """Predicted label map, ``data`` of shape (1, H, W)."""
        return self._pred_sem_seg

    @pred_sem_seg.setter
    def pred_sem_seg(self, value: PixelData) -> None:
        self.set_field(value, '_pred_sem_seg', dtype=PixelData)

    @pred_sem_seg.deleter
    def pred_sem_seg(self) -> None:
        del self._pred_sem_seg

    @property
    def seg_logits(self) -> PixelData:
        """Class logits, ``data`` of shape (C, H, W)."""
        return self._seg_logits

    @seg_logits.setter
    def seg_logits(self, value: PixelData) -> None:
        self.set_field(value, '_seg_logits', dtype=PixelData)

    @seg_logits.deleter
    def seg_logits(self) -> None:
        del self._seg_logits

    @property
    def seg_weight(self) -> PixelData:
        """Per-pixel loss weight, ``data`` of shape (1, H, W)."""
        return self._seg_weight

    @seg_weight.setter
    def seg_weight(self, value: PixelData) -> None:
        self.set_field(value, '_seg_weight', dtype=PixelData)

    @seg_weight.deleter
    def seg_weight(self) -> None:
        del self._seg_weight
