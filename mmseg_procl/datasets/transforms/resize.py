"""Resize: rescale image and label maps, keeping the aspect ratio or to an exact size.

Reference behaviour (docs/methods.md §1.1 item 2): mmcv ``imrescale`` for ``keep_ratio=True`` with
``scale=(w_max, h_max)``: ``s = min(max(scale) / long_edge, min(scale) / short_edge)`` and the new
size is ``int(x * s + 0.5)``; images use bilinear, label maps nearest-neighbour interpolation.  Label
maps are resized to the image's final size (docs/methods.md §3 item 19: a few GTA5 labels differ in size from
their images).
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from PIL import Image

from mmseg_procl.registry import TRANSFORMS
from .base_transform import BaseTransform


INTERPOLATIONS = {'bilinear': cv2.INTER_LINEAR, 'bicubic': cv2.INTER_CUBIC, 'nearest': cv2.INTER_NEAREST}
PIL_FILTERS = {'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC, 'nearest': Image.NEAREST}
BACKENDS = ('cv2', 'pillow')


def rescale_size(old_wh: Tuple[int, int], scale: Sequence[int]) -> Tuple[Tuple[int, int], float]:
    """New (w, h) and factor for a keep-ratio rescale bounded by ``scale`` (mmcv ``rescale_size``)."""
    w, h = old_wh
    max_long, max_short = max(scale), min(scale)
    factor = min(max_long / max(h, w), max_short / min(h, w))
    return (int(w * float(factor) + 0.5), int(h * float(factor) + 0.5)), factor


def scaled_size(old_wh: Tuple[int, int], factor: Union[float, Sequence[float]]) -> Tuple[int, int]:
    """(w, h) multiplied by a scalar or per-axis factor with the reference rounding."""
    fw, fh = (factor, factor) if np.isscalar(factor) else factor
    return int(old_wh[0] * float(fw) + 0.5), int(old_wh[1] * float(fh) + 0.5)


@TRANSFORMS.register_module()
class Resize(BaseTransform):
    """Resize ``img`` (bilinear) and every map in ``seg_fields`` (nearest) to a target size.

    ``scale`` is ``(w, h)``; with ``keep_ratio`` it bounds the long and the short edge.  Alternatively
    ``scale_factor`` multiplies the current size.  ``interpolation`` (images): bilinear or bicubic;
    ``backend``: OpenCV (the mmcv default) or Pillow (``Image.resize``, as torchvision-based code bases such
    as ProCA resize).
    """

    def __init__(self, scale: Optional[Sequence[int]] = None,
                 scale_factor: Optional[Union[float, Sequence[float]]] = None,
                 keep_ratio: bool = False, interpolation: str = 'bilinear', backend: str = 'cv2') -> None:
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f'Resize: interpolation must be one of {sorted(INTERPOLATIONS)}, got '
                             f'{interpolation!r}')
        if backend not in BACKENDS:
            raise ValueError(f'Resize: backend must be one of {BACKENDS}, got {backend!r}')
        self.interpolation, self.backend = interpolation, backend
        if (scale is None) == (scale_factor is None):
            raise ValueError('Resize: give exactly one of scale=(w, h) or scale_factor, got '
                             f'scale={scale!r}, scale_factor={scale_factor!r}')
        if scale is not None and (len(scale) != 2 or min(scale) <= 0):
            raise ValueError(f'Resize: scale must be a positive (w, h) pair, got {scale!r}')
        self.scale = tuple(scale) if scale is not None else None
        self.scale_factor = scale_factor
        self.keep_ratio = keep_ratio

    def target_size(self, w: int, h: int) -> Tuple[int, int]:
        """The (w, h) an image of size (w, h) is resized to."""
        if self.scale_factor is not None:
            return scaled_size((w, h), self.scale_factor)
        if self.keep_ratio:
            return rescale_size((w, h), self.scale)[0]
        return self.scale

    def resize(self, array: np.ndarray, size: Tuple[int, int], interpolation: str) -> np.ndarray:
        """``array`` resized to ``size`` (w, h) with OpenCV, or with Pillow (``backend='pillow'``: PIL's
        resampling, which filters when shrinking; uint8 arrays only)."""
        if self.backend == 'cv2':
            return cv2.resize(array, size, interpolation=INTERPOLATIONS[interpolation])
        if array.dtype != np.uint8:
            raise TypeError(f"Resize(backend='pillow') resizes uint8 images and label maps, got "
                            f'{array.dtype}; load images without to_float32')
        return np.asarray(Image.fromarray(array).resize(size, PIL_FILTERS[interpolation]))

    def transform(self, results: Dict) -> Dict:
        """Resize the image, then the label maps to the image's new size."""
        img = results['img']
        h, w = img.shape[:2]
        new_w, new_h = self.target_size(w, h)
        results['img'] = self.resize(img, (new_w, new_h), self.interpolation)
        for key in results.get('seg_fields', []):
            results[key] = self.resize(results[key], (new_w, new_h), 'nearest')
        results['img_shape'] = (new_h, new_w)
        results['scale'] = (new_w, new_h)
        results['scale_factor'] = (new_w / w, new_h / h)
        results['keep_ratio'] = self.keep_ratio
        return results


@TRANSFORMS.register_module()
class RandomResize(Resize):
    """Resize by a random factor ``U(*ratio_range)`` of the current size (mmseg 1.x ``RandomResize`` with
    ``scale=None``; ProCA's / FADA's ``RandomScale(0.5, 1.5)`` of the whole image with bicubic images).

    The factor is drawn from numpy's global generator (seeded per item by the UDA sampler).
    """

    def __init__(self, ratio_range: Sequence[float] = (0.5, 1.5), interpolation: str = 'bilinear',
                 backend: str = 'cv2') -> None:
        low, high = ratio_range
        if not 0 < low <= high:
            raise ValueError(f'RandomResize: ratio_range must be (low, high) with 0 < low <= high, got '
                             f'{ratio_range!r}')
        super().__init__(scale_factor=1.0, interpolation=interpolation, backend=backend)
        self.ratio_range = (float(low), float(high))

    def transform(self, results: Dict) -> Dict:
        """Draw the factor, then resize image and label maps."""
        low, high = self.ratio_range
        self.scale_factor = low + (high - low) * np.random.random_sample()
        return super().transform(results)
