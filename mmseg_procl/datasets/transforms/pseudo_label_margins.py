"""PseudoLabelMargins: the validity mask of the pseudo-labels, made on the full image before any crop.

HRDA's "pseudo-label cropping v2" (Hoyer et al., ECCV 2022; github.com/lhoyer/MIC ``seg/mmseg/datasets/
cityscapes.py`` ``crop_pseudo_margins``; docs/methods.md §2.3): pseudo-labels near the borders of a
Cityscapes frame (rectification artefacts at the top, the ego vehicle at the bottom) are not trusted.
Unlike DAFormer's rows of the *crop* (15 / 120), the margins are those of the *original image*, so a
training crop only loses them where it touches the image border.  The mask (uint8, 1 = valid) is added
as a label map (``seg_fields``): Resize (nearest), RandomCrop and RandomFlip treat it like the labels,
Pad fills it with 0, PackSegInputs packs it as ``valid_pseudo_mask``, the data preprocessor pads it with
0 and the self-training algorithm multiplies it into the pseudo-label weights.

Place it right after ``LoadImageFromFile`` in the target pipeline.  The reference builds the mask at a
fixed 1024 x 2048 (the Cityscapes frame); here it has the loaded image's size, which is the same for
Cityscapes and stays right for other frame sizes.
"""
from typing import Dict, Sequence

import numpy as np

from mmseg_procl.registry import TRANSFORMS
from .base_transform import BaseTransform

MASK_KEY = 'valid_pseudo_mask'


def margin_mask(height: int, width: int, margins: Sequence[int]) -> np.ndarray:
    """(height, width) uint8 mask: 0 in the ``(top, bottom, left, right)`` margins, 1 elsewhere."""
    top, bottom, left, right = margins
    mask = np.ones((height, width), dtype=np.uint8)
    mask[:top, :] = 0
    if bottom > 0:            # [-0:] would select everything
        mask[-bottom:, :] = 0
    mask[:, :left] = 0
    if right > 0:
        mask[:, -right:] = 0
    return mask


@TRANSFORMS.register_module()
class PseudoLabelMargins(BaseTransform):
    """Add ``valid_pseudo_mask`` (1 inside, 0 in the image margins) as a label map."""

    def __init__(self, margins: Sequence[int] = (30, 240, 30, 30)) -> None:
        """``margins``: (top, bottom, left, right) in pixels of the loaded image (HRDA: 30, 240, 30, 30)."""
        if len(margins) != 4 or any(not isinstance(m, int) or m < 0 for m in margins):
            raise ValueError(f'PseudoLabelMargins: margins must be four integers >= 0 (top, bottom, left, '
                             f'right), got {margins!r}')
        self.margins = tuple(margins)

    def transform(self, results: Dict) -> Dict:
        """Add the mask of the image's size and register it as a label map."""
        height, width = results['img'].shape[:2]
        if self.margins[0] + self.margins[1] >= height or self.margins[2] + self.margins[3] >= width:
            raise ValueError(f'PseudoLabelMargins: margins {self.margins} leave nothing of the '
                             f'{height} x {width} image {results.get("img_path", "")}')
        results[MASK_KEY] = margin_mask(height, width, self.margins)
        results.setdefault('seg_fields', [])
        if MASK_KEY not in results['seg_fields']:
            results['seg_fields'].append(MASK_KEY)
        return results
