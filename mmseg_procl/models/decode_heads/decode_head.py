"""BaseDecodeHead: input selection, classifier, segmentation loss and prediction of a decode head.

Interface of MMSegmentation 1.x ``BaseDecodeHead`` (``forward``, ``loss``, ``predict``,
``loss_by_feat``, ``predict_by_feat``) with the loss semantics of mmseg 0.16 used by the DAFormer
family (docs/methods.md §1.1 item 5): logits are resized (bilinear) to the label size, the per-pixel
weight ``seg_weight`` of each data sample multiplies the CE, and the mean runs over all pixels.  The
loss key is ``loss_seg`` (logged as ``decode.loss_seg`` by the segmentor) and the accuracy statistic
``acc_seg``.  ``conv_seg`` is initialised Normal(0, 0.01) with zero bias, as in mmseg 0.16.
"""
from abc import abstractmethod
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from mmseg_procl.models.utils import resize
from mmseg_procl.registry import MODELS


def stack_pixel_field(data_samples: Sequence, name: str) -> Optional[torch.Tensor]:
    """Stack ``sample.<name>.data`` (1, H, W) of every sample into (B, H, W); None if absent."""
    if not all(name in s for s in data_samples):
        return None
    return torch.stack([getattr(s, name).data[0] for s in data_samples])


def seg_accuracy(logits: torch.Tensor, label: torch.Tensor, ignore_index: int) -> torch.Tensor:
    """Top-1 pixel accuracy in percent over non-ignored pixels (0 when there are none)."""
    valid = label != ignore_index
    correct = (logits.argmax(1) == label) & valid
    return correct.sum().float() * 100.0 / valid.sum().clamp(min=1).float()


class BaseDecodeHead(BaseModule):
    """Base class of decode heads: selects inputs, classifies, computes the CE loss."""

    def __init__(self, in_channels: Union[int, Sequence[int]], channels: int, num_classes: int,
                 dropout_ratio: float = 0.1, norm_cfg: Optional[dict] = None,
                 act_cfg: dict = dict(type='ReLU'), in_index: Union[int, Sequence[int]] = -1,
                 input_transform: Optional[str] = None,
                 loss_decode: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 ignore_index: int = 255, align_corners: bool = False,
                 init_cfg: Optional[dict] = dict(type='Normal', std=0.01,
                                                 override=dict(name='conv_seg'))) -> None:
        super().__init__(init_cfg)
        if input_transform not in (None, 'resize_concat', 'multiple_select'):
            raise ValueError(f'input_transform must be None, resize_concat or multiple_select, '
                             f'got {input_transform!r}')
        self.in_channels, self.in_index = in_channels, in_index
        self.input_transform = input_transform
        self.channels, self.num_classes = channels, num_classes
        self.norm_cfg, self.act_cfg = norm_cfg, act_cfg
        self.ignore_index, self.align_corners = ignore_index, align_corners
        if isinstance(loss_decode, (list, tuple)):         # mmseg 1.x: several losses, summed by name
            if not loss_decode:
                raise ValueError('loss_decode: an empty list; give one loss config or several')
            self.loss_decode = nn.ModuleList(MODELS.build(cfg) for cfg in loss_decode)
        else:
            self.loss_decode = MODELS.build(loss_decode)
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None

    def _transform_inputs(self, inputs: Sequence[torch.Tensor]) -> Union[torch.Tensor, List]:
        """Pick the configured backbone levels (one, several, or several resized + concatenated)."""
        if self.input_transform == 'resize_concat':
            feats = [inputs[i] for i in self.in_index]
            feats = [resize(f, feats[0].shape[2:], align_corners=self.align_corners) for f in feats]
            return torch.cat(feats, dim=1)
        if self.input_transform == 'multiple_select':
            return [inputs[i] for i in self.in_index]
        return inputs[self.in_index]

    @abstractmethod
    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Backbone features -> class logits (B, num_classes, h, w)."""

    def cls_seg(self, feat: torch.Tensor) -> torch.Tensor:
        """Dropout then the 1x1 classifier."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.conv_seg(feat)

    def loss(self, inputs: Sequence[torch.Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[dict] = None) -> Dict[str, torch.Tensor]:
        """Forward and compute the segmentation loss."""
        return self.loss_by_feat(self.forward(inputs), batch_data_samples)

    def loss_by_feat(self, seg_logits: torch.Tensor,
                     batch_data_samples: Sequence) -> Dict[str, torch.Tensor]:
        """Each ``loss_decode`` term (pixel-weighted CE: mean over all pixels; a list of losses, e.g.
        ProCA's CE + 0.75 Lovász-softmax, is logged per ``loss_name``) and pixel accuracy."""
        label = stack_pixel_field(batch_data_samples, 'gt_sem_seg')
        if label is None:
            raise KeyError('loss_by_feat: every data sample needs gt_sem_seg')
        weight = stack_pixel_field(batch_data_samples, 'seg_weight')
        seg_logits = resize(seg_logits, label.shape[1:], align_corners=self.align_corners)
        label = label.long()
        losses: Dict[str, torch.Tensor] = {}
        terms = self.loss_decode if isinstance(self.loss_decode, nn.ModuleList) else [self.loss_decode]
        for term in terms:
            loss = term(seg_logits, label, weight=weight, ignore_index=self.ignore_index)
            losses[term.loss_name] = losses[term.loss_name] + loss if term.loss_name in losses else loss
        losses['acc_seg'] = seg_accuracy(seg_logits.detach(), label, self.ignore_index)
        return losses

    def predict(self, inputs: Sequence[torch.Tensor], batch_img_metas: List[dict],
                test_cfg: Optional[dict] = None) -> torch.Tensor:
        """Logits resized to the (padded) input image size."""
        return self.predict_by_feat(self.forward(inputs), batch_img_metas)

    def predict_by_feat(self, seg_logits: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Resize logits (bilinear) to ``pad_shape`` (or ``img_shape``) of the first image."""
        meta = batch_img_metas[0]
        size = meta.get('pad_shape', meta['img_shape'])
        return resize(seg_logits, size[:2], align_corners=self.align_corners)
