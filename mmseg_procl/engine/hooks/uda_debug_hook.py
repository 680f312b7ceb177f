"""UDADebugHook: every ``interval`` iterations write the self-training images of one step.

A row per image: source image, source label, target image, pseudo-label, pseudo-label weight,
mixed image, ClassMix mask, mixed label (DAFormer writes the same panels every 1000 iterations).  The
algorithm only keeps the tensors of the requested step (``debug_next`` / ``debug_output``); this hook
turns them into a PNG under ``<work_dir>/debug/`` and sends it to the visualizer backends
(TensorBoard when configured).
"""
import os
import os.path as osp
from typing import List

import cv2
import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmseg_procl.evaluation.prediction_export import colorize
from mmseg_procl.registry import HOOKS

PANELS = ('source_img', 'source_label', 'target_img', 'pseudo_label', 'pseudo_weight', 'mixed_img',
          'mix_mask', 'mixed_label')


def denormalize(img: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> np.ndarray:
    """(3, H, W) normalised RGB -> (H, W, 3) uint8 RGB."""
    out = img.float().cpu() * std.cpu().view(3, 1, 1) + mean.cpu().view(3, 1, 1)
    return out.clamp(0, 255).byte().permute(1, 2, 0).numpy()


def gray(values: torch.Tensor) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 grey."""
    v = (values.float().cpu().clamp(0, 1) * 255).byte().numpy()
    return np.repeat(v[..., None], 3, axis=2)


@HOOKS.register_module()
class UDADebugHook(Hook):
    """Write a panel image of one training step every ``interval`` iterations."""

    priority = 'LOW'

    def __init__(self, interval: int = 1000, max_images: int = 2) -> None:
        if interval < 1:
            raise ValueError(f'UDADebugHook: interval must be >= 1, got {interval}')
        self.interval, self.max_images = interval, max_images

    @staticmethod
    def _algorithm(runner):
        """The algorithm behind an optional model wrapper."""
        return getattr(runner.model, 'module', runner.model)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Ask the algorithm to keep this step's tensors when a panel is due."""
        model = self._algorithm(runner)
        if hasattr(model, 'debug_next') and (runner.iter + 1) % self.interval == 0:
            model.debug_next = True

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Render, write and publish the panel; then drop the tensors."""
        model = self._algorithm(runner)
        debug = getattr(model, 'debug_output', None)
        if not debug:
            return
        model.debug_output = {}
        if not is_main_process():
            return
        palette = np.asarray(runner.train_dataloader.dataset.metainfo['palette'], np.uint8)
        pre = model.data_preprocessor
        rows = [self._row(debug, i, pre.mean, pre.std, palette)
                for i in range(min(self.max_images, debug['source_img'].shape[0]))]
        panel = np.concatenate(rows, axis=0)
        out_dir = osp.join(runner.work_dir, 'debug')
        os.makedirs(out_dir, exist_ok=True)
        cv2.imwrite(osp.join(out_dir, f'iter_{runner.iter + 1:06d}.png'), panel[:, :, ::-1])
        runner.visualizer.add_image('uda_debug', panel, step=runner.iter + 1)

    @staticmethod
    def _row(debug: dict, i: int, mean, std, palette: np.ndarray) -> np.ndarray:
        """The eight panels of image ``i`` side by side."""
        tiles: List[np.ndarray] = []
        for name in PANELS:
            value = debug[name][i]
            if name.endswith('_img'):
                tiles.append(denormalize(value, mean, std))
            elif name in ('pseudo_weight', 'mix_mask'):
                tiles.append(gray(value))
            else:
                tiles.append(colorize(value, palette))
        return np.concatenate(tiles, axis=1)
