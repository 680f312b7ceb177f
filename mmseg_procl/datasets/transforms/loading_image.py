"""LoadImageFromFile: decode an image with OpenCV into a BGR uint8 array (mmseg convention).

Reference behaviour: mmcv 1.3 ``LoadImageFromFile`` as used by mmseg 0.16 and the DAFormer family
(docs/methods.md §1.1 item 1): OpenCV decoding, BGR channel order, ``img_shape`` / ``ori_shape`` set.
"""
import os.path as osp
from typing import Dict

import cv2
import numpy as np

from mmseg_procl.registry import TRANSFORMS
from .base_transform import BaseTransform


def read_image_bgr(path: str) -> np.ndarray:
    """Read an image file as a BGR uint8 (H, W, 3) array or raise naming the file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'image file not found: {path}')
    buf = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if img is None:
        raise ValueError(f'could not decode image file {path}: expected a readable PNG/JPEG image '
                         f'(the file is corrupt or not an image)')
    return img


@TRANSFORMS.register_module()
class LoadImageFromFile(BaseTransform):
    """Load ``results['img_path']`` into ``results['img']`` (BGR, uint8 or float32)."""

    def __init__(self, to_float32: bool = False) -> None:
        self.to_float32 = to_float32

    def transform(self, results: Dict) -> Dict:
        """Decode the image and record its shape."""
        img = read_image_bgr(results['img_path'])
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
