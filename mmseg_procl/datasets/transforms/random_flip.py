"""RandomFlip: horizontal (or vertical) flip with probability ``prob`` (docs/methods.md §1.1 item 4).

The draw ``np.random.rand() < prob`` follows mmseg 0.16's ``RandomFlip``, which also keeps a decision
already present in the results (``flip`` / ``flip_direction``, set e.g. for SePiCo's Dark Zurich day
partner, which must be flipped like its night image; no draw is made then).
"""
from typing import Dict

import numpy as np

from mmseg_procl.registry import TRANSFORMS
from .base_transform import BaseTransform


@TRANSFORMS.register_module()
class RandomFlip(BaseTransform):
    """Flip ``img`` and every map in ``seg_fields`` together."""

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal') -> None:
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f"RandomFlip: direction must be 'horizontal' or 'vertical', got {direction!r}")
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'RandomFlip: prob must be in [0, 1], got {prob!r}')
        self.prob = prob
        self.direction = direction

    def transform(self, results: Dict) -> Dict:
        """Decide once (or keep a decision already in ``results``), then flip image and labels alike."""
        if 'flip' in results:                   # preset: e.g. a day image follows its night partner
            flip = bool(results['flip'])
            direction = results.get('flip_direction') or self.direction
        else:
            flip = bool(np.random.rand() < self.prob)
            direction = self.direction
        results['flip'] = flip
        results['flip_direction'] = direction if flip else None
        if flip:
            axis = 1 if direction == 'horizontal' else 0
            results['img'] = np.ascontiguousarray(np.flip(results['img'], axis=axis))
            for key in results.get('seg_fields', []):
                results[key] = np.ascontiguousarray(np.flip(results[key], axis=axis))
        return results
