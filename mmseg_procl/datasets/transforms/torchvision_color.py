"""Dataset-level colour augmentation of ProCA / WDASS / FADA-style code bases, run by torchvision.

ProCA (github.com/jiangzhengkai/ProCA ``core/datasets/transform.py`` and the ``INPUT`` section of
``configs/*/deeplabv2_r101_proca.yaml``; docs/methods.md §2.6) augments the source images with
torchvision's ``ColorJitter(0.5, 0.5, 0.5, 0.2)``, ``RandomGrayscale(0.2)`` and ``GaussianBlur(3,
sigma in [0.1, 2])``; WDASS uses ``ColorJitter(0.25, 0.25, 0.25, 0.25)``.  These transforms apply
torchvision's own implementations (``torchvision.transforms.v2``) to the pipeline's BGR uint8 image
(converted to RGB and back); labels are untouched.

Randomness: torchvision draws from torch's global generator; each call seeds a forked generator with
a draw from numpy's global generator, which the UDA sampler seeds per item, so an item's augmentation
is the same with any number of workers and torch's own stream is left as it was.
"""
from typing import Dict, Sequence, Union

import numpy as np
import torch
from torchvision.transforms import v2

from mmseg_procl.registry import TRANSFORMS
from .base_transform import BaseTransform


def apply_to_bgr(transform, img: np.ndarray) -> np.ndarray:
    """``transform`` on an (H, W, 3) BGR uint8 image as an RGB uint8 tensor, under a forked torch
    generator seeded from numpy's global generator."""
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'{type(transform).__name__}: expected an (H, W, 3) uint8 image, got {img.dtype} '
                         f'{img.shape}')
    seed = int(np.random.randint(0, 2**31 - 1))
    rgb = torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1])).permute(2, 0, 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = transform(rgb)
    return np.ascontiguousarray(out.permute(1, 2, 0).numpy()[:, :, ::-1])


class TorchvisionImageTransform(BaseTransform):
    """Base: apply ``self.op`` (a torchvision v2 transform) to ``results['img']``."""

    op = None

    def transform(self, results: Dict) -> Dict:
        """Augment the image in place."""
        results['img'] = apply_to_bgr(self.op, results['img'])
        return results

    def __repr__(self) -> str:
        """The wrapped torchvision transform."""
        return f'{type(self).__name__}({self.op!r})'


@TRANSFORMS.register_module()
class ColorJitter(TorchvisionImageTransform):
    """torchvision ``ColorJitter(brightness, contrast, saturation, hue)`` (factors as torchvision's)."""

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                 hue: float = 0.0) -> None:
        self.op = v2.ColorJitter(brightness, contrast, saturation, hue)


@TRANSFORMS.register_module()
class RandomGrayscale(TorchvisionImageTransform):
    """torchvision ``RandomGrayscale(p)`` (three equal channels)."""

    def __init__(self, prob: float = 0.1) -> None:
        self.op = v2.RandomGrayscale(p=prob)


@TRANSFORMS.register_module()
class GaussianBlur(TorchvisionImageTransform):
    """torchvision ``GaussianBlur(kernel_size, sigma)`` (sigma drawn uniformly from the range)."""

    def __init__(self, kernel_size: Union[int, Sequence[int]] = 3,
                 sigma: Sequence[float] = (0.1, 2.0)) -> None:
        self.op = v2.GaussianBlur(kernel_size, sigma=tuple(sigma))
