"""HRDAHead: context and detail logits of one decode head, fused by a learned class-wise scale attention.

HRDA (Hoyer et al., "HRDA: Context-Aware High-Resolution Domain-Adaptive Semantic Segmentation", ECCV
2022; github.com/lhoyer/HRDA, code in github.com/lhoyer/MIC ``seg/mmseg/models/decode_heads/
hrda_head.py``; docs/methods.md §2.3).  One single-scale head (``head``, e.g. a DAFormerHead) decodes the
context features (the whole crop at scale 0.5) and the detail features (a full-resolution crop, or
overlapping windows at inference); a second head of the same kind (``scale_attention``: embedding width
``attention_embed_dim``, for DAFormer a 1x1 conv + BN + ReLU fusion instead of the ASPP, one output per
class, sigmoid) predicts from the context features how much each pixel and class trusts the detail::

    a      = sigmoid(scale_attention(context)) * footprint(detail crop)      (zero outside the crop)
    lr     = (1 - a) * head(context)                                         (B, C, h, w)
    fused  = up2(lr) + up2(a) * paste(head(detail), at the crop position)    (B, C, 2h, 2w)

and, with the crop box of the training step, the loss is ``(1 - w_d) * CE(fused, y) + w_d * CE(detail,
crop(y))`` (pixel weights cropped alike, ``w_d = hr_loss_weight``, 0.1 in the released configs).  At
inference the detail logits of overlapping windows are averaged over the whole image and fused without
the footprint.  Parameter names follow the original (``head.*``, ``scale_attention.*``), so released
HRDA / MIC weights load by name.

Call graph::

    forward(context_feats, detail, crop_box) -> head(context) ; decode_detail(detail) ; attention(context)
                                             -> mask_attention (crop_mask) -> fuse (paste)
    decode_detail(features | SlideFeatures)  -> head ; average the windows into the image grid
    loss_by_feat(outputs, labels, weights, crop_box) -> CE(fused) * (1 - w_d) + CE(detail, crop) * w_d
"""
import copy
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmseg_procl.models.utils import resize
from mmseg_procl.registry import MODELS
from .decode_head import seg_accuracy

SINGLE_SCALE_HEADS = {'DAFormerHead': 4, 'DLV2Head': 8}     # type -> output stride


@dataclass
class SlideFeatures:
    """Backbone features of overlapping windows, stacked window-major: ``features[l]`` is
    (num_windows * B, C_l, h_l, w_l); ``boxes`` are the windows' (y1, y2, x1, x2) in input pixels."""

    features: List[torch.Tensor]
    boxes: List[Tuple[int, int, int, int]]


def scale_box(box: Sequence[int], stride: float) -> Tuple[int, int, int, int]:
    """A (y1, y2, x1, x2) box in pixels divided by ``stride`` and truncated (as the reference)."""
    return tuple(int(c / stride) for c in box)


def rescale(x: torch.Tensor, factor: float, align_corners: bool = False) -> torch.Tensor:
    """Bilinear ``F.interpolate`` by ``scale_factor`` (the reference's resizing of inputs and logits)."""
    return F.interpolate(x, scale_factor=factor, mode='bilinear', align_corners=align_corners)


def attention_head_config(head: dict, embed_dim: int, classwise: bool) -> dict:
    """The scale-attention head's config: the single-scale head with ``embed_dim`` channels, a 1x1 conv
    fusion instead of DAFormer's ASPP, and one output per class (or a single one)."""
    cfg = copy.deepcopy(head)
    if cfg['type'] == 'DAFormerHead':
        cfg['channels'] = embed_dim
        cfg['decoder_params']['embed_dims'] = embed_dim
        fusion = cfg['decoder_params']['fusion_cfg']
        if fusion['type'] == 'aspp':
            cfg['decoder_params']['fusion_cfg'] = dict(type='conv', kernel_size=1, act_cfg=dict(type='ReLU'),
                                                       norm_cfg=fusion.get('norm_cfg'))
    if not classwise:
        cfg['num_classes'] = 1
    return cfg


@MODELS.register_module()
class HRDAHead(BaseModule):
    """Context + detail decoding with a learned scale attention (see the module docstring)."""

    def __init__(self, head: dict, scales: Sequence[float] = (0.5, 1.0), hr_loss_weight: float = 0.1,
                 attention_embed_dim: int = 256, attention_classwise: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        """``head``: the single-scale decode head config (``DAFormerHead`` or ``DLV2Head``)."""
        super().__init__(init_cfg)
        if head.get('type') not in SINGLE_SCALE_HEADS:
            raise ValueError(f'HRDAHead: head.type={head.get("type")!r}; expected one of '
                             f'{sorted(SINGLE_SCALE_HEADS)}')
        if len(scales) != 2 or not 0 < scales[0] < scales[1]:
            raise ValueError(f'HRDAHead: scales must be (context, detail) with 0 < context < detail, '
                             f'got {scales!r}')
        if not 0 <= hr_loss_weight < 1:
            raise ValueError(f'HRDAHead: hr_loss_weight must be in [0, 1), got {hr_loss_weight!r}')
        self.output_stride = SINGLE_SCALE_HEADS[head['type']]
        self.scales, self.hr_loss_weight = tuple(scales), hr_loss_weight
        self.head = MODELS.build(head)
        if isinstance(self.head.loss_decode, torch.nn.ModuleList):
            raise ValueError('HRDAHead: its head has a list of losses (loss_decode=[...]); the '
                             'multi-resolution loss is defined for one loss, give loss_decode=dict(...)')
        self.scale_attention = MODELS.build(
            attention_head_config(head, attention_embed_dim, attention_classwise))
        self.num_classes, self.align_corners = self.head.num_classes, self.head.align_corners
        self.ignore_index = self.head.ignore_index

    def decode_detail(self, detail: Union[Sequence[torch.Tensor], SlideFeatures], batch: int) -> torch.Tensor:
        """Detail logits: of one crop, or of overlapping windows averaged into the image grid."""
        if not isinstance(detail, SlideFeatures):
            return self.head(detail)
        logits = self.head(detail.features)                       # (windows * B, C, h, w)
        boxes = [scale_box(b, self.output_stride) for b in detail.boxes]
        height, width = max(b[1] for b in boxes), max(b[3] for b in boxes)
        total = logits.new_zeros((batch, logits.shape[1], height, width))
        count = logits.new_zeros((batch, 1, height, width))
        for i, (y1, y2, x1, x2) in enumerate(boxes):
            total[:, :, y1:y2, x1:x2] += logits[i * batch:(i + 1) * batch]
            count[:, :, y1:y2, x1:x2] += 1
        return total / count

    def crop_mask(self, context_map: torch.Tensor, crop_box: Sequence[int]) -> torch.Tensor:
        """(B, 1, h, w) mask of the detail crop's footprint on the context grid of ``context_map``."""
        y1, y2, x1, x2 = scale_box(crop_box, self.output_stride / self.scales[0])
        mask = context_map.new_zeros((context_map.shape[0], 1, *context_map.shape[2:]))
        mask[:, :, y1:y2, x1:x2] = 1
        return mask

    def mask_attention(self, attention: torch.Tensor, crop_box: Sequence[int]) -> torch.Tensor:
        """Attention zeroed outside the detail crop's footprint on the context grid."""
        return attention * self.crop_mask(attention, crop_box)

    def paste(self, detail: torch.Tensor, like: torch.Tensor,
              crop_box: Optional[Sequence[int]]) -> torch.Tensor:
        """``detail`` (logits or features of the crop) pasted into zeros shaped as ``like`` (the detail
        grid) at the crop position; unchanged without a crop box (windows cover the image)."""
        if crop_box is None:
            return detail
        y1, y2, x1, x2 = scale_box(crop_box, self.output_stride)
        pasted = torch.zeros_like(like)
        pasted[:, :, y1:y2, x1:x2] = detail
        return pasted

    def forward(self, context: Sequence[torch.Tensor], detail: Union[Sequence[torch.Tensor], SlideFeatures],
                crop_box: Optional[Sequence[int]] = None) -> Dict[str, torch.Tensor]:
        """``{'fused', 'context', 'detail', 'attention'}`` logits / attention (see the module docstring).

        ``context``: backbone maps of the image at ``scales[0]``; ``detail``: maps of the crop
        ``crop_box`` (y1, y2, x1, x2 in pixels of the ``scales[1]`` image) or :class:`SlideFeatures`
        covering the whole image (then ``crop_box`` is None).  ``fused`` is at the detail scale /
        output stride; ``context`` already carries the (1 - attention) factor, as in the reference.
        """
        batch = context[0].shape[0]
        lr_logits = self.head(context)
        hr_logits = self.decode_detail(detail, batch)
        attention = torch.sigmoid(self.scale_attention(context))
        if crop_box is not None:
            attention = self.mask_attention(attention, crop_box)
        lr_logits = (1 - attention) * lr_logits
        factor = self.scales[1] / self.scales[0]
        up_lr = rescale(lr_logits, factor, self.align_corners)
        up_attention = rescale(attention, factor, self.align_corners)
        pasted = self.paste(hr_logits, up_lr, crop_box)
        return dict(fused=up_attention * pasted + up_lr, context=lr_logits, detail=hr_logits,
                    attention=attention)

    def pixel_loss(self, logits: torch.Tensor, label: torch.Tensor,
                   weight: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """The single-scale head's CE (logits resized to the label, mean over all pixels) and accuracy."""
        logits = resize(logits, label.shape[1:], align_corners=self.align_corners)
        loss = self.head.loss_decode(logits, label, weight=weight, ignore_index=self.ignore_index)
        return loss, seg_accuracy(logits.detach(), label, self.ignore_index)

    def loss_by_feat(self, outputs: Dict[str, torch.Tensor], label: torch.Tensor,
                     weight: Optional[torch.Tensor], crop_box: Sequence[int]) -> Dict[str, torch.Tensor]:
        """``loss_seg`` = (1 - w_d) CE(fused, label); ``hr.loss_seg`` = w_d CE(detail, crop(label)).

        ``label`` (B, H, W) long and ``weight`` (B, H, W) or None at the detail scale's resolution.
        """
        name = self.head.loss_decode.loss_name
        loss, acc = self.pixel_loss(outputs['fused'], label, weight)
        losses = {name: loss * (1 - self.hr_loss_weight), 'acc_seg': acc}
        if self.hr_loss_weight > 0:
            y1, y2, x1, x2 = crop_box
            crop_weight = None if weight is None else weight[:, y1:y2, x1:x2]
            hr_loss, hr_acc = self.pixel_loss(outputs['detail'], label[:, y1:y2, x1:x2], crop_weight)
            losses.update({f'hr.{name}': hr_loss * self.hr_loss_weight, 'hr.acc_seg': hr_acc})
        return losses
