"""RandomCrop with the category-ratio check of mmseg (``cat_max_ratio``).

Reference behaviour (docs/methods.md §1.1 item 3): uniform offsets; when ``cat_max_ratio < 1`` a crop is
accepted if its label has more than one valid class and the most frequent valid class covers less
than ``cat_max_ratio`` of the valid pixels; up to 10 crops are checked, and if all fail an 11th
crop is drawn and used unchecked.  Offsets come from ``np.random`` (seeded per data-loader worker).
"""
from typing import Dict, Sequence, Tuple

import numpy as np

from mmseg_procl.registry import TRANSFORMS
from .base_transform import BaseTransform

Box = Tuple[int, int, int, int]


def draw_crop_box(img_hw: Tuple[int, int], crop_hw: Tuple[int, int]) -> Box:
    """Random (y1, y2, x1, x2) box of at most ``crop_hw`` inside an image of ``img_hw``."""
    margin_h = max(img_hw[0] - crop_hw[0], 0)
    margin_w = max(img_hw[1] - crop_hw[1], 0)
    y1 = np.random.randint(0, margin_h + 1)
    x1 = np.random.randint(0, margin_w + 1)
    return y1, y1 + crop_hw[0], x1, x1 + crop_hw[1]


def crop_passes_ratio(label: np.ndarray, cat_max_ratio: float, ignore_index: int) -> bool:
    """True if >1 valid class is present and the largest covers < ``cat_max_ratio`` of valid pixels."""
    if label.dtype == np.uint8:         # a histogram: O(n), where np.unique sorts the crop (~6x slower)
        counts = np.bincount(label.ravel(), minlength=256)
        if 0 <= ignore_index < 256:
            counts[ignore_index] = 0
        counts = counts[counts > 0]
    else:
        values, counts = np.unique(label, return_counts=True)
        counts = counts[values != ignore_index]
    return len(counts) > 1 and counts.max() / counts.sum() < cat_max_ratio


@TRANSFORMS.register_module()
class RandomCrop(BaseTransform):
    """Crop ``img`` and all ``seg_fields`` to ``crop_size=(h, w)``."""

    max_checked = 10

    def __init__(self, crop_size: Sequence[int], cat_max_ratio: float = 1.0,
                 ignore_index: int = 255) -> None:
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(f'RandomCrop: crop_size must be a positive (h, w) pair, got {crop_size!r}')
        self.crop_size = tuple(crop_size)
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    def choose_box(self, results: Dict) -> Box:
        """Draw a crop box, re-drawing up to 10 times while the ratio check fails."""
        img_hw = results['img'].shape[:2]
        box = draw_crop_box(img_hw, self.crop_size)
        if self.cat_max_ratio >= 1.0 or 'gt_seg_map' not in results:
            return box
        for _ in range(self.max_checked):
            y1, y2, x1, x2 = box
            if crop_passes_ratio(results['gt_seg_map'][y1:y2, x1:x2], self.cat_max_ratio,
                                 self.ignore_index):
                break
            box = draw_crop_box(img_hw, self.crop_size)
        return box

    def transform(self, results: Dict) -> Dict:
        """Crop the image and label maps with one box."""
        y1, y2, x1, x2 = self.choose_box(results)
        results['img'] = results['img'][y1:y2, x1:x2, ...]
        for key in results.get('seg_fields', []):
            results[key] = results[key][y1:y2, x1:x2]
        results['img_shape'] = results['img'].shape[:2]
        results['crop_bbox'] = (y1, y2, x1, x2)
        return results
