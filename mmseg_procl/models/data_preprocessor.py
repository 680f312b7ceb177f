"""SegDataPreProcessor: BGR->RGB, normalisation (0-255 mean / std) and padding into a batch.

Interface of MMSegmentation 1.x's ``SegDataPreProcessor``; the order (channel flip, normalise, then
pad image with ``pad_val`` and labels with ``seg_pad_val`` at the bottom / right) reproduces the
mmseg 0.16 pipeline ``Normalize(to_rgb=True) -> Pad`` used by the DAFormer family (docs/methods.md §1.1
item 1).  The padded size is recorded as ``pad_shape`` in every sample's meta information.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import PixelData

from mmseg_procl.registry import MODELS

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def batch_target_size(sizes: Sequence[Tuple[int, int]], size: Optional[Sequence[int]],
                      size_divisor: Optional[int]) -> Tuple[int, int]:
    """(H, W) to pad a batch to: ``size`` if given, else the max size rounded up to ``size_divisor``."""
    h = max(s[0] for s in sizes)
    w = max(s[1] for s in sizes)
    if size is not None:
        h, w = max(h, size[0]), max(w, size[1])
    if size_divisor:
        h = -(-h // size_divisor) * size_divisor
        w = -(-w // size_divisor) * size_divisor
    return h, w


def pad_bottom_right(x: torch.Tensor, hw: Tuple[int, int], value: float) -> torch.Tensor:
    """Pad the last two dims of ``x`` at the bottom / right to ``hw``."""
    pad_h, pad_w = hw[0] - x.shape[-2], hw[1] - x.shape[-1]
    if pad_h == 0 and pad_w == 0:
        return x
    return F.pad(x, (0, pad_w, 0, pad_h), value=value)


@MODELS.register_module()
class SegDataPreProcessor(BaseDataPreprocessor):
    """Turn ``dict(inputs=[uint8 (3,H,W)], data_samples=[...])`` into a normalised, padded batch."""

    CONFIG_DICT_KEYS = dict(test_cfg=('size', 'size_divisor'))

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 bgr_to_rgb: bool = True, pad_val: float = 0, seg_pad_val: int = 255,
                 size: Optional[Sequence[int]] = None, size_divisor: Optional[int] = None,
                 test_cfg: Optional[dict] = None) -> None:
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)
        self.bgr_to_rgb = bgr_to_rgb
        self.pad_val, self.seg_pad_val = pad_val, seg_pad_val
        self.size, self.size_divisor = size, size_divisor
        self.test_cfg = test_cfg or {}
        unknown = sorted(set(self.test_cfg) - set(self.CONFIG_DICT_KEYS['test_cfg']))
        if unknown:
            raise KeyError(f'SegDataPreProcessor: test_cfg has unknown keys {unknown}; it reads '
                           f"{list(self.CONFIG_DICT_KEYS['test_cfg'])}")

    def normalize(self, img: torch.Tensor) -> torch.Tensor:
        """One (3, H, W) image: channel flip, float, ``(x - mean) / std``."""
        if self.bgr_to_rgb:
            img = img[[2, 1, 0], ...]
        return (img.float() - self.mean) / self.std

    def forward(self, data: dict, training: bool = False) -> Dict:
        """Normalise and pad a collated batch; pad label maps consistently."""
        data = self.cast_data(data)
        inputs: List[torch.Tensor] = [self.normalize(x) for x in data['inputs']]
        samples = data.get('data_samples')
        size = self.size if training else self.test_cfg.get('size')
        divisor = self.size_divisor if training else self.test_cfg.get('size_divisor')
        hw = batch_target_size([x.shape[-2:] for x in inputs], size, divisor)
        batch = torch.stack([pad_bottom_right(x, hw, self.pad_val) for x in inputs])
        if samples is not None:
            for sample in samples:
                self._pad_sample(sample, hw)
        return dict(inputs=batch, data_samples=samples)

    def _pad_sample(self, sample, hw: Tuple[int, int]) -> None:
        """Pad ``gt_sem_seg`` and ``pseudo_label`` (255), ``seg_weight`` and ``valid_pseudo_mask`` (0) of one
        sample; record
        ``pad_shape``."""
        for name in ('gt_sem_seg', 'pseudo_label'):         # labels and offline pseudo-labels: 255
            if name in sample:
                setattr(sample, name, PixelData(
                    data=pad_bottom_right(getattr(sample, name).data, hw, self.seg_pad_val)))
        for name in ('seg_weight', 'valid_pseudo_mask'):
            if name in sample:
                setattr(sample, name, PixelData(data=pad_bottom_right(getattr(sample, name).data, hw, 0.0)))
        sample.set_metainfo(dict(batch_input_shape=hw, pad_shape=hw))
