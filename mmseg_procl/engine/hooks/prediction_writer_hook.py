"""PredictionWriterHook: write colourised predictions blended over the input image (``--show-dir``).

Blending as mmseg 0.16 ``show_result``: ``out = img * (1 - opacity) + palette[pred] * opacity``
(``opacity=1`` writes the pure colour map), one ``<image stem>.png`` per test image.
"""
import os
import os.path as osp
from typing import Sequence

import cv2
import numpy as np
from mmengine.hooks import Hook

from mmseg_procl.datasets.transforms.loading_image import read_image_bgr
from mmseg_procl.registry import HOOKS


def blend_prediction(img_bgr: np.ndarray, pred: np.ndarray, palette: np.ndarray,
                     opacity: float) -> np.ndarray:
    """Overlay the palette colours (RGB palette) of ``pred`` on a BGR image; ignore stays unpainted."""
    color = np.zeros_like(img_bgr)
    valid = pred < len(palette)
    color[valid] = palette[pred[valid]][:, ::-1]
    out = img_bgr.astype(np.float32) * (1 - opacity) + color.astype(np.float32) * opacity
    out[~valid] = img_bgr[~valid]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@HOOKS.register_module()
class PredictionWriterHook(Hook):
    """Write ``<out_dir>/<stem>.png`` for every test image."""

    priority = 'NORMAL'

    def __init__(self, out_dir: str, opacity: float = 0.5) -> None:
        if not 0.0 < opacity <= 1.0:
            raise ValueError(f'opacity must be in (0, 1], got {opacity!r}')
        self.out_dir = out_dir
        self.opacity = opacity

    def before_test(self, runner) -> None:
        """Create the output folder."""
        os.makedirs(self.out_dir, exist_ok=True)

    @staticmethod
    def _source_image(img_path: str, data_batch, index: int) -> np.ndarray:
        """The original image file, or (for in-memory datasets) the network input of the batch."""
        if osp.isfile(img_path):
            return read_image_bgr(img_path)
        return data_batch['inputs'][index].permute(1, 2, 0).cpu().numpy().astype(np.uint8)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Sequence = ()) -> None:
        """Blend and write each prediction of the batch."""
        palette = np.asarray(runner.test_dataloader.dataset.metainfo['palette'], np.uint8)
        for i, sample in enumerate(outputs):
            pred = sample.pred_sem_seg.data[0].cpu().numpy()
            img = self._source_image(sample.img_path, data_batch, i)
            if img.shape[:2] != pred.shape:
                img = cv2.resize(img, pred.shape[::-1], interpolation=cv2.INTER_LINEAR)
            stem = osp.splitext(osp.basename(sample.img_path))[0]
            cv2.imwrite(osp.join(self.out_dir, f'{stem}.png'),
                        blend_prediction(img, pred, palette, self.opacity))
