"""PCPREncoderDecoder: HRDA's segmentor with PCPR's released helpers (class-aware detail crop, entropy map)
and the per-scale teacher outputs PCPR's pseudo-label filtering reads.

PCPR (github.com/sunrui570-dev/PCPF ``mmseg/models/segmentors/hrda_encoder_decoder.py``; docs/methods.md
§2.5).  What is the authors' and what is this project's:

- **Class-aware detail crop** (authors' helper ``get_inst_crop_bbox``, ``crop_classes = [5, 6, 7, 11, 12,
  17, 18]``: pole, traffic light, traffic sign, person, rider, motorcycle, bicycle): among the small
  classes present in the batch's labels one is drawn uniformly, then one of its pixels uniformly; the
  ``hr_crop_size`` window is centred there and shifted inside the image; without such a pixel, HRDA's random
  crop.  Deviations, on purpose: the reference reads the pixel's (row, column) into (x, y) and so centres the
  window on the transposed position; here it is centred on the pixel.  Its offsets are rounded down to
  multiples of ``crop_coord_divisible`` (8), which HRDA's fusion needs and the reference helper omits.  The
  released code defines the helper but never calls it (its withheld ``is_mix`` path returns a
  ``max_ent_crop``), so *when* PCPR used it is unknown: here ``detail_crop='class_aware'`` uses it for every training pass of the segmentor (a switch; ``'random'`` is
  HRDA).  Placing the window reads the small classes' pixel counts and one pixel index on the host (two
  small transfers per training pass); the draws use numpy's generator (the reference: Python's).
- **Entropy map** (authors' ``get_entropy``): ``H = -sum_c p_c log p_c / (C log C)`` with ``p == 0``
  replaced by 1e-8, exactly the released formula (it divides by ``C log C``, not ``log C``, so a uniform
  prediction gives 1/C).  No released code calls it (presumably the withheld ``max_entropy_crop`` does); here
  it is a function.
- **Per-scale predictions** (``encode_decode_scales``, this project's): the fused, context and detail logits
  of the inference path at the input size, for the teacher's LR / HR consistency filtering (a reconstruction,
  :mod:`mmseg_procl.uda.scale_consistency`).

Call graph::

    train_forward -> choose_crop_box (class_aware_crop_box | sample_crop_box) -> HRDA's passes
                  -> PCPRHead (decoder features, detail mask, feature weight in outputs['hrda'])
    encode_decode_scales -> backbone_maps(context) , slide_features -> PCPRHead -> resize each
    encode_decode        -> HRDA's (the same fused logits)
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from mmseg_procl.models.decode_heads.decode_head import stack_pixel_field
from mmseg_procl.models.decode_heads.pcpr_head import PCPRHead
from mmseg_procl.models.utils import resize
from mmseg_procl.registry import MODELS
from .hrda_encoder_decoder import HRDAEncoderDecoder

DETAIL_CROPS = ('random', 'class_aware')
SMALL_CLASSES = (5, 6, 7, 11, 12, 17, 18)      # pole, light, sign, person, rider, motorcycle, bicycle


def entropy_map(probs: torch.Tensor, num_classes: Optional[int] = None) -> torch.Tensor:
    """(B, H, W) PCPR entropy ``-sum_c p log p / (C log C)`` of (B, C, H, W) probabilities (zeros -> 1e-8).

    ``num_classes`` C defaults to ``probs.shape[1]`` (the reference hard-codes 19).
    """
    num = probs.shape[1] if num_classes is None else num_classes
    safe = torch.where(probs == 0, torch.full_like(probs, 1e-8), probs)
    return -(safe * safe.log()).sum(dim=1) / (num * float(np.log(num)))


def class_aware_crop_box(labels: torch.Tensor, crop: Sequence[int], classes: Sequence[int],
                         divisible: int = 1) -> Optional[Tuple[int, int, int, int]]:
    """(y1, y2, x1, x2) window of size ``crop`` centred on a random pixel of a random class of ``classes``
    present in (B, H, W) ``labels``, shifted inside the image, offsets rounded down to ``divisible``; None
    when no such pixel exists.  Draws from numpy's global generator (class, then pixel); the labels stay on
    their device (the host reads the classes' pixel counts and one pixel index)."""
    height, width = labels.shape[-2:]
    flat = labels.reshape(-1).long()
    counts = torch.bincount(flat.clamp(0, 255), minlength=256)[list(classes)].tolist()
    present = [(c, n) for c, n in zip(classes, counts) if n > 0]
    if not present:
        return None
    cls, count = present[np.random.randint(len(present))]
    index = int(torch.nonzero(flat == cls)[np.random.randint(count), 0]) % (height * width)
    row, col = divmod(index, width)
    crop_h, crop_w = crop
    y1 = min(max(row - crop_h // 2, 0), max(height - crop_h, 0))
    x1 = min(max(col - crop_w // 2, 0), max(width - crop_w, 0))
    y1, x1 = y1 // divisible * divisible, x1 // divisible * divisible
    return y1, y1 + crop_h, x1, x1 + crop_w


@MODELS.register_module()
class PCPREncoderDecoder(HRDAEncoderDecoder):
    """HRDAEncoderDecoder with a :class:`PCPRHead`, the class-aware detail crop switch and per-scale
    inference outputs (module docstring).

    Args (besides :class:`HRDAEncoderDecoder`'s):
        detail_crop: ``'random'`` (HRDA) or ``'class_aware'`` (centred on a small-class pixel).
        crop_classes: the small classes of the class-aware crop (train ids).
    """

    def __init__(self, backbone: dict, decode_head: dict,
                 auxiliary_head: Optional[Union[dict, List[dict]]] = None,
                 train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None,
                 hr_crop_size: Sequence[int] = (512, 512), crop_coord_divisible: int = 8,
                 hr_slide_inference: bool = True, hr_slide_overlapping: bool = True,
                 feature_scale: float = 0.5, detail_crop: str = 'random',
                 crop_classes: Sequence[int] = SMALL_CLASSES) -> None:
        super().__init__(backbone, decode_head, auxiliary_head, train_cfg, test_cfg, data_preprocessor,
                         init_cfg, hr_crop_size, crop_coord_divisible, hr_slide_inference,
                         hr_slide_overlapping, feature_scale)
        if not isinstance(self.decode_head, PCPRHead):
            raise ValueError(f'PCPREncoderDecoder needs decode_head type PCPRHead, got '
                             f'{type(self.decode_head).__name__}')
        if detail_crop not in DETAIL_CROPS:
            raise ValueError(f'PCPREncoderDecoder: detail_crop must be one of {DETAIL_CROPS}, got '
                             f'{detail_crop!r}')
        bad = [c for c in crop_classes if not 0 <= c < self.decode_head.num_classes]
        if bad or not crop_classes:
            raise ValueError(f'PCPREncoderDecoder: crop_classes {list(crop_classes)} must be non-empty train '
                             f'ids in [0, {self.decode_head.num_classes})')
        self.detail_crop, self.crop_classes = detail_crop, tuple(int(c) for c in crop_classes)

    def choose_crop_box(self, inputs: torch.Tensor, data_samples: List) -> Tuple[int, int, int, int]:
        """The detail crop of a training pass: class-aware on the samples' labels, else random."""
        if self.detail_crop == 'class_aware':
            labels = stack_pixel_field(data_samples, 'gt_sem_seg')
            if labels is not None:
                box = class_aware_crop_box(labels, self.hr_crop_size, self.crop_classes,
                                           self.crop_coord_divisible)
                if box is not None:
                    return box
        return self.sample_crop_box(*inputs.shape[2:])

    def encode_decode_scales(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``{'fused', 'context', 'detail'}`` logits (B, C, H, W) of the inference path, each resized
        (bilinear) to the input size; ``context`` without the attention factor, ``detail`` the averaged
        detail windows (or the whole image without ``hr_slide_inference``)."""
        context = self.backbone_maps(self.context_input(inputs))
        detail = self.slide_features(inputs) if self.hr_slide_inference else self.backbone_maps(inputs)
        out = self.decode_head(context, detail)
        return {k: resize(out[k], inputs.shape[2:], align_corners=self.align_corners)
                for k in ('fused', 'context', 'detail')}
