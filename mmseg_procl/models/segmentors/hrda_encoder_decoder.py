"""HRDAEncoderDecoder: multi-resolution training and inference of HRDA (context crop + detail crop).

HRDA (Hoyer et al., ECCV 2022; github.com/lhoyer/HRDA, code in github.com/lhoyer/MIC ``seg/mmseg/models/
segmentors/hrda_encoder_decoder.py``; docs/methods.md §2.3).  A segmentor of the model layer: it trains
and predicts on its own, and self-training algorithms use it through ``train_forward`` /
``encode_decode`` like any segmentor.

- Training (``train_forward``): the context input is the whole crop resized to ``scales[0]`` (0.5,
  bilinear); the detail input is a random ``hr_crop_size`` window of the full-resolution crop whose
  offsets are multiples of ``crop_coord_divisible`` (8: output stride 4 times the downscale 2, so the
  detail logits align with the context grid).  Both go through the shared backbone; the
  :class:`~mmseg_procl.models.decode_heads.hrda_head.HRDAHead` fuses them and computes the loss with the
  same crop box (labels and pixel weights cropped alike).  ``outputs['feats']`` are the features at
  ``feature_scale`` (the context scale 0.5: DAFormer's feature distance acts on context features).
- Inference (``encode_decode``: validation, test windows, the teacher's pseudo-labels): context on
  the image at ``scales[0]``; detail on overlapping ``hr_crop_size`` windows of the full-resolution image
  (stride half the window), all windows in one backbone batch, averaged; fused without the crop
  footprint; upsampled to the input size.  The outer test windows (1024, stride 512, batched) come from
  ``test_cfg`` as for every segmentor.

The crop offsets are drawn from numpy's global generator, as in the reference (seeded by the runner's
``randomness`` and restored on resume by ``RandomStateHook``).

Call graph::

    train_forward -> choose_crop_box -> backbone_maps_with_extras(context) , backbone_maps(detail crop)
                  -> decode_head(context, detail, box) -> decode_head.loss_by_feat (decode.*)
    encode_decode -> backbone_maps(context) , slide_features (backbone_maps of one batch of windows)
                  -> decode_head -> resize
    extract_feat  -> backbone_maps(input at feature_scale)
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from mmseg_procl.models.decode_heads.decode_head import stack_pixel_field
from mmseg_procl.models.decode_heads.hrda_head import HRDAHead, SlideFeatures, rescale
from mmseg_procl.models.utils import resize
from mmseg_procl.registry import MODELS
from .encoder_decoder import EncoderDecoder, add_prefix, slide_grid


def sample_crop_box(height: int, width: int, crop: Sequence[int], divisible: int = 1
                    ) -> Tuple[int, int, int, int]:
    """A random (y1, y2, x1, x2) window of size ``crop`` inside ``height`` x ``width`` whose offsets are
    multiples of ``divisible`` (numpy's global generator, as the reference); the whole image if equal."""
    if (height, width) == tuple(crop):
        return 0, height, 0, width
    margin_h, margin_w = max(height - crop[0], 0), max(width - crop[1], 0)
    y1 = np.random.randint(0, (margin_h + 1) // divisible) * divisible
    x1 = np.random.randint(0, (margin_w + 1) // divisible) * divisible
    return y1, y1 + crop[0], x1, x1 + crop[1]


@MODELS.register_module()
class HRDAEncoderDecoder(EncoderDecoder):
    """EncoderDecoder with HRDA's context / detail inputs and an :class:`HRDAHead` (module docstring)."""

    def __init__(self, backbone: dict, decode_head: dict,
                 auxiliary_head: Optional[Union[dict, List[dict]]] = None,
                 train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None,
                 hr_crop_size: Sequence[int] = (512, 512), crop_coord_divisible: int = 8,
                 hr_slide_inference: bool = True, hr_slide_overlapping: bool = True,
                 feature_scale: float = 0.5) -> None:
        super().__init__(backbone, decode_head, auxiliary_head, train_cfg, test_cfg, data_preprocessor,
                         init_cfg)
        if not isinstance(self.decode_head, HRDAHead):
            raise ValueError(f'{type(self).__name__} needs decode_head type HRDAHead, got '
                             f'{type(self.decode_head).__name__}')
        self.scales = self.decode_head.scales
        if self.scales[1] != 1:
            raise ValueError(f'{type(self).__name__}: the detail scale must be 1 (full resolution), got '
                             f'scales={self.scales}')
        if feature_scale != self.scales[0]:
            raise ValueError(f'{type(self).__name__}: feature_scale={feature_scale} must be the context '
                             f'scale {self.scales[0]} (the detail features cover only the crop)')
        if len(hr_crop_size) != 2 or crop_coord_divisible < 1:
            raise ValueError(f'{type(self).__name__}: hr_crop_size (h, w) and crop_coord_divisible >= 1, '
                             f'got {hr_crop_size!r} and {crop_coord_divisible!r}')
        self.hr_crop_size = tuple(int(c) for c in hr_crop_size)
        self.crop_coord_divisible = crop_coord_divisible
        self.hr_slide_inference, self.hr_slide_overlapping = hr_slide_inference, hr_slide_overlapping
        self.feature_scale = feature_scale

    def context_input(self, inputs: torch.Tensor) -> torch.Tensor:
        """The image at the context scale (bilinear)."""
        return rescale(inputs, self.scales[0], self.align_corners)

    def feature_input(self, inputs: torch.Tensor) -> torch.Tensor:
        """The context image: what ``train_forward``'s ``feats`` are computed on, and what FD's
        ImageNet backbone sees."""
        return self.context_input(inputs)

    def backbone_maps_with_extras(self, inputs: torch.Tensor
                                  ) -> Tuple[List[torch.Tensor], Dict[str, torch.Tensor]]:
        """Backbone maps of one input (context image, detail crop or window batch) and the segmentor's
        extra training tensors (none here; the CLIP variant fuses CLIP features and returns them)."""
        return list(self.backbone(inputs)), {}

    def backbone_maps(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        """Backbone maps of one input (every backbone pass of this segmentor goes through here)."""
        return self.backbone_maps_with_extras(inputs)[0]

    def extract_feat(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        """Backbone maps of the input at ``feature_scale`` (the features FD compares)."""
        return self.backbone_maps(self.feature_input(inputs))

    def extract_feat_with_extras(self, inputs: torch.Tensor
                                 ) -> Tuple[List[torch.Tensor], Dict[str, torch.Tensor]]:
        """``extract_feat`` and the extras of that pass (the CLIP variant: its CLIP map)."""
        return self.backbone_maps_with_extras(self.feature_input(inputs))

    def slide_features(self, inputs: torch.Tensor) -> SlideFeatures:
        """Backbone maps of all ``hr_crop_size`` windows (stride half a window when overlapping), as one
        batch stacked window-major."""
        crop_h, crop_w = self.hr_crop_size
        stride_h, stride_w = (crop_h // 2, crop_w // 2) if self.hr_slide_overlapping else (crop_h, crop_w)
        height, width = inputs.shape[2:]
        boxes = [(y, min(y + crop_h, height), x, min(x + crop_w, width))
                 for y in slide_grid(height, crop_h, stride_h) for x in slide_grid(width, crop_w, stride_w)]
        windows = torch.cat([inputs[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in boxes])
        return SlideFeatures(self.backbone_maps(windows), boxes)

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Fused logits (context + averaged detail windows) resized to the input size."""
        context = self.backbone_maps(self.context_input(inputs))
        detail = self.slide_features(inputs) if self.hr_slide_inference else self.backbone_maps(inputs)
        fused = self.decode_head(context, detail)['fused']
        return resize(fused, inputs.shape[2:], align_corners=self.align_corners)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor') -> Union[Dict, List, torch.Tensor]:
        """As :class:`EncoderDecoder`; ``'tensor'`` returns the fused logits at the input size."""
        if mode == 'tensor':
            return self.encode_decode(inputs, [])
        return super().forward(inputs, data_samples, mode)

    def sample_crop_box(self, height: int, width: int) -> Tuple[int, int, int, int]:
        """The detail crop of a training step (see :func:`sample_crop_box`)."""
        return sample_crop_box(height, width, self.hr_crop_size, self.crop_coord_divisible)

    def choose_crop_box(self, inputs: torch.Tensor, data_samples: List) -> Tuple[int, int, int, int]:
        """The detail crop of a training pass over ``inputs`` (HRDA: random; subclasses may read the
        samples' labels)."""
        return self.sample_crop_box(*inputs.shape[2:])

    def train_forward(self, inputs: torch.Tensor, data_samples: List,
                      loss_heads: Sequence[str] = ('decode_head', 'auxiliary_head')
                      ) -> Tuple[Dict[str, torch.Tensor], Dict[str, object]]:
        """HRDA's training path: context and detail features, fused loss (``decode.loss_seg``, weighted
        ``1 - hr_loss_weight``) and detail loss (``decode.hr.loss_seg``).

        ``outputs``: ``feats`` (= ``context_feats``, at ``feature_scale``), ``detail_feats``,
        ``crop_box``, the extras of the context pass (``backbone_maps_with_extras``) and, when the decode
        head ran, ``logits`` (fused) and ``hrda`` (all head outputs).
        Auxiliary heads read the context features.
        """
        box = self.choose_crop_box(inputs, data_samples)
        y1, y2, x1, x2 = box
        context, extras = self.backbone_maps_with_extras(self.context_input(inputs))
        detail = self.backbone_maps(inputs[:, :, y1:y2, x1:x2])
        outputs: Dict[str, object] = dict(extras, feats=context, context_feats=context, detail_feats=detail,
                                          crop_box=box)
        losses: Dict[str, torch.Tensor] = {}
        if 'decode_head' in loss_heads:
            out = self.decode_head(context, detail, box)
            label = stack_pixel_field(data_samples, 'gt_sem_seg')
            if label is None:
                raise KeyError(f'{type(self).__name__}.train_forward: every data sample needs gt_sem_seg')
            weight = stack_pixel_field(data_samples, 'seg_weight')
            losses.update(add_prefix(self.decode_head.loss_by_feat(out, label.long(), weight, box), 'decode'))
            outputs.update(logits=out['fused'], hrda=out)
        if 'auxiliary_head' in loss_heads:
            losses.update(self.auxiliary_losses(context, data_samples))
        return losses, outputs
