"""PhotoMetricDistortion: random brightness, contrast, saturation and hue on a BGR uint8 image.

Reference behaviour: mmseg 0.16 ``PhotoMetricDistortion`` (github.com/open-mmlab/mmsegmentation,
v0.16 ``mmseg/datasets/pipelines/transforms.py``): each op fires with probability 1/2 (``randint(2)``);
brightness adds ``U(-delta, delta)``; contrast multiplies by ``U(lower, upper)`` and runs either
before saturation (mode 1) or after hue (mode 0); saturation scales the S channel of OpenCV's uint8
HSV; hue adds ``randint(-delta, delta)`` (upper bound exclusive) modulo 180.  Every op clips to
[0, 255] and rounds down to uint8.  Not used by the UDA loaders (docs/methods.md §1.3), provided for
supervised configs.
"""
from typing import Dict, Sequence

import cv2
import numpy as np

from mmseg_procl.registry import TRANSFORMS
from .base_transform import BaseTransform


def affine_uint8(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """``clip(img * alpha + beta, 0, 255)`` truncated to uint8."""
    out = img.astype(np.float32) * alpha + beta
    return np.clip(out, 0, 255).astype(np.uint8)


@TRANSFORMS.register_module()
class PhotoMetricDistortion(BaseTransform):
    """Apply the four photometric ops in mmseg's random order."""

    def __init__(self, brightness_delta: int = 32, contrast_range: Sequence[float] = (0.5, 1.5),
                 saturation_range: Sequence[float] = (0.5, 1.5), hue_delta: int = 18) -> None:
        self.brightness_delta = brightness_delta
        self.contrast_lower, self.contrast_upper = contrast_range
        self.saturation_lower, self.saturation_upper = saturation_range
        self.hue_delta = hue_delta

    def brightness(self, img: np.ndarray) -> np.ndarray:
        """Add a random offset with probability 1/2."""
        if np.random.randint(2):
            delta = np.random.uniform(-self.brightness_delta, self.brightness_delta)
            return affine_uint8(img, beta=delta)
        return img

    def contrast(self, img: np.ndarray) -> np.ndarray:
        """Multiply by a random factor with probability 1/2."""
        if np.random.randint(2):
            return affine_uint8(img, alpha=np.random.uniform(self.contrast_lower, self.contrast_upper))
        return img

    def saturation(self, img: np.ndarray) -> np.ndarray:
        """Scale the HSV saturation with probability 1/2."""
        if np.random.randint(2):
            hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
            factor = np.random.uniform(self.saturation_lower, self.saturation_upper)
            hsv[:, :, 1] = affine_uint8(hsv[:, :, 1], alpha=factor)
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        return img

    def hue(self, img: np.ndarray) -> np.ndarray:
        """Rotate the HSV hue with probability 1/2."""
        if np.random.randint(2):
            hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
            shift = np.random.randint(-self.hue_delta, self.hue_delta)
            hsv[:, :, 0] = (hsv[:, :, 0].astype(int) + shift) % 180
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        return img

    def transform(self, results: Dict) -> Dict:
        """brightness -> [contrast] -> saturation -> hue -> [contrast]."""
        img = results['img']
        if img.dtype != np.uint8:
            raise TypeError(f'PhotoMetricDistortion expects a uint8 BGR image, got {img.dtype} '
                            f'({results.get("img_path", "unknown file")})')
        img = self.brightness(img)
        mode = np.random.randint(2)
        if mode == 1:
            img = self.contrast(img)
        img = self.hue(self.saturation(img))
        if mode == 0:
            img = self.contrast(img)
        results['img'] = img
        return results
