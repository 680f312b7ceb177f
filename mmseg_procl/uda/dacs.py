"""DACS: self-training with an EMA teacher, ClassMix and strong augmentation (DAFormer's core).

DACS (Tranheden et al., WACV 2021) as implemented by DAFormer (Hoyer et al., CVPR 2022,
github.com/lhoyer/DAFormer ``mmseg/models/uda/dacs.py``), step for step as docs/methods.md §1.5 / §1.9:
EMA teacher update at the start of the iteration, supervised source stage, pseudo-labels from the
teacher (train mode, Dropout / DropPath off) with a batch-scalar confidence weight and masked crop
rows, ClassMix with classes drawn from the whole source batch, colour jitter (kornia-0.5 semantics)
and Gaussian blur, a weighted mixed stage, one optimizer step.  The teacher lives under
``ema_model.`` and keeps its own BatchNorm statistics.

Call graph::

    train_step -> data_preprocessor
               -> update_teacher          (copy at t = 0, EMA with alpha_t afterwards)
               -> source_stage            (SourceOnly: CE + objectives, backward)
               -> pseudo_label_stage      (teacher logits -> labels, weights)
               -> mix_stage               (ClassMix masks, mixed image / label / weight, strong aug.)
               -> mixed_stage             (weighted CE + objectives, backward)
               -> step_optimizer
"""
import random
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.optim import OptimWrapper

from mmseg_procl.models.utils import resize
from mmseg_procl.registry import MODELS
from .mix import class_mix_masks, one_mix
from .pseudo_label import pseudo_label_and_weight
from .source_only import SourceOnly, prefixed, require_branches
from .strong_aug import strong_transform
from .teacher import copy_parameters, disable_dropout, ema_alpha, ema_update, freeze


def check_fraction(name: str, value) -> None:
    """Raise ``ValueError`` unless ``value`` is a number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f'DACS: {name} must be a number in [0, 1], got {value!r}')


@MODELS.register_module()
class DACS(SourceOnly):
    """Mean-teacher self-training with ClassMix (the self-training core of the DAFormer family)."""

    def __init__(self, model: dict, alpha: float = 0.99, pseudo_threshold: float = 0.968,
                 pseudo_weight_ignore_top: int = 0, pseudo_weight_ignore_bottom: int = 0,
                 mix: str = 'class', blur: bool = True, color_jitter_strength: float = 0.2,
                 color_jitter_probability: float = 0.2, objectives: Sequence[dict] = (),
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        if mix != 'class':
            raise ValueError(f"DACS: only mix='class' (ClassMix) is implemented, got {mix!r}")
        check_fraction('alpha', alpha)
        check_fraction('pseudo_threshold', pseudo_threshold)
        check_fraction('color_jitter_probability', color_jitter_probability)
        for name, rows in (('pseudo_weight_ignore_top', pseudo_weight_ignore_top),
                           ('pseudo_weight_ignore_bottom', pseudo_weight_ignore_bottom)):
            if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
                raise ValueError(f'DACS: {name} must be an integer >= 0 (crop rows), got {rows!r}')
        super().__init__(model, objectives, data_preprocessor, init_cfg)
        self.ema_model = freeze(MODELS.build(model))
        self.alpha = alpha
        self.pseudo_threshold = pseudo_threshold
        self.ignore_top, self.ignore_bottom = pseudo_weight_ignore_top, pseudo_weight_ignore_bottom
        self.blur = blur
        self.jitter_strength = color_jitter_strength
        self.jitter_probability = color_jitter_probability
        self.debug_next = False          # set by the visualisation hook for the next iteration
        self.debug_output: Dict[str, torch.Tensor] = {}

    def train_step(self, data: dict, optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """One DACS iteration (see the call graph)."""
        data = self.data_preprocessor(data, True)
        require_branches(data, ('source', 'target'), type(self).__name__)
        source, target = data['source'], data['target']
        optim_wrapper.zero_grad()
        self.update_teacher()
        log_vars = self.source_stage(source, optim_wrapper)
        pl_labels, pl_weights = self.pseudo_label_stage(target['inputs'])
        mixed = self.mix_stage(source, target['inputs'], pl_labels, pl_weights)
        log_vars.update(self.mixed_stage(mixed, source['data_samples'], optim_wrapper))
        self._record_debug(source, target['inputs'], pl_labels, pl_weights, mixed)
        return self.step_optimizer(optim_wrapper, log_vars)

    def update_teacher(self) -> None:
        """t = 0: teacher <- student; t > 0: EMA with ``min(1 - 1/(t+1), alpha)``."""
        if self.local_iter == 0:
            copy_parameters(self.ema_model, self.model)
        else:
            ema_update(self.ema_model, self.model, ema_alpha(self.local_iter, self.alpha))

    @torch.no_grad()
    def pseudo_label_stage(self, target_inputs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Teacher labels and batch-scalar weights (rows masked) at the crop size."""
        disable_dropout(self.ema_model)
        hw = target_inputs.shape[2:]
        metas = [dict(img_shape=tuple(hw), pad_shape=tuple(hw))] * target_inputs.shape[0]
        logits = self.ema_model.encode_decode(target_inputs, metas)
        logits = resize(logits, hw, align_corners=self.ema_model.align_corners)
        labels, weights, _ = pseudo_label_and_weight(logits, self.pseudo_threshold, self.ignore_top,
                                                     self.ignore_bottom)
        return labels, weights

    def mix_stage(self, source: dict, target_inputs: torch.Tensor, pl_labels: torch.Tensor,
                  pl_weights: torch.Tensor) -> Dict[str, torch.Tensor]:
        """ClassMix of source into target, then the strong augmentation of the mixed images."""
        src_labels = torch.stack([s.gt_sem_seg.data[0] for s in source['data_samples']]).long()
        masks = class_mix_masks(src_labels)
        images = one_mix(masks, source['inputs'], target_inputs)
        labels = one_mix(masks[:, 0], src_labels, pl_labels)
        weights = one_mix(masks[:, 0], torch.ones_like(pl_weights), pl_weights)
        apply_jitter = random.uniform(0, 1) > self.jitter_probability
        apply_blur = self.blur and random.uniform(0, 1) > 0.5
        pre = self.data_preprocessor
        images = strong_transform(images, pre.mean.flatten(), pre.std.flatten(), apply_jitter,
                                  apply_blur, strength=self.jitter_strength,
                                  sigmas=self._blur_sigmas(images.shape[0]))
        return dict(inputs=images, labels=labels, weights=weights, masks=masks)

    @staticmethod
    def _blur_sigmas(batch: int) -> np.ndarray:
        """Per-image blur sigma ~ U(0.15, 1.15), drawn on the host as the reference does."""
        return np.random.uniform(0.15, 1.15, size=batch)

    def mixed_stage(self, mixed: Dict[str, torch.Tensor], source_samples: list,
                    optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """Weighted CE (+ objectives) on the mixed images, then backward."""
        losses, _ = self.supervised_stage('mixed', mixed['inputs'], source_samples, mixed['labels'],
                                          mixed['weights'], optim_wrapper)
        return prefixed(losses, 'mix')

    def _record_debug(self, source: dict, target_inputs: torch.Tensor, pl_labels: torch.Tensor,
                      pl_weights: torch.Tensor, mixed: Dict[str, torch.Tensor]) -> None:
        """Keep this iteration's tensors for the visualisation hook when it asked for them."""
        if not self.debug_next:
            return
        self.debug_next = False
        self.debug_output = dict(
            source_img=source['inputs'].detach(), target_img=target_inputs.detach(),
            mixed_img=mixed['inputs'].detach(), pseudo_label=pl_labels, pseudo_weight=pl_weights,
            source_label=torch.stack([s.gt_sem_seg.data[0] for s in source['data_samples']]),
            mixed_label=mixed['labels'], mix_mask=mixed['masks'][:, 0])
