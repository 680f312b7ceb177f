"""Pad: pad image (with ``pad_val``) and label maps (with ``seg_pad_val``) at the bottom and right.

Reference behaviour (docs/methods.md §1.1 item 1): mmseg 0.16 ``Pad(size=crop, pad_val=0, seg_pad_val=255)``.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from mmseg_procl.registry import TRANSFORMS
from .base_transform import BaseTransform


def pad_to(arr: np.ndarray, hw: Tuple[int, int], value: float) -> np.ndarray:
    """Pad ``arr`` at the bottom/right to at least ``hw`` with a constant ``value``."""
    pad_h, pad_w = max(hw[0] - arr.shape[0], 0), max(hw[1] - arr.shape[1], 0)
    if pad_h == 0 and pad_w == 0:
        return arr
    widths = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (arr.ndim - 2)
    return np.pad(arr, widths, mode='constant', constant_values=value)


@TRANSFORMS.register_module()
class Pad(BaseTransform):
    """Pad to a fixed ``size=(h, w)`` or to a multiple of ``size_divisor``."""

    def __init__(self, size: Optional[Sequence[int]] = None, size_divisor: Optional[int] = None,
                 pad_val: float = 0, seg_pad_val: int = 255) -> None:
        if (size is None) == (size_divisor is None):
            raise ValueError(f'Pad: give exactly one of size=(h, w) or size_divisor, got '
                             f'size={size!r}, size_divisor={size_divisor!r}')
        self.size = tuple(size) if size is not None else None
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def target_hw(self, h: int, w: int) -> Tuple[int, int]:
        """The padded (h, w) of an (h, w) image."""
        if self.size is not None:
            return self.size
        d = self.size_divisor
        return -(-h // d) * d, -(-w // d) * d

    def transform(self, results: Dict) -> Dict:
        """Pad image and label maps to the same size."""
        hw = self.target_hw(*results['img'].shape[:2])
        results['img'] = pad_to(results['img'], hw, self.pad_val)
        for key in results.get('seg_fields', []):
            value = 0 if key == 'valid_pseudo_mask' else self.seg_pad_val   # padding is never valid
            results[key] = pad_to(results[key], hw, value)
        results['pad_shape'] = results['img'].shape[:2]
        return results
