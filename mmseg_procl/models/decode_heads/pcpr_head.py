"""PCPRHead: HRDA's context / detail head with PCPR's released changes (the authors' code, not a guess).

PCPR ("Towards Robust UDA Semantic Segmentation with Finer Prototype Construction and Pseudo-Label
Filtering", github.com/sunrui570-dev/PCPF, registered ``HRDAHead`` of ``mmseg/models/decode_heads/
hrda_head.py``; docs/methods.md §2.5).  The authors withheld their training algorithm; this head is the
part they released, and it differs from :class:`~mmseg_procl.models.decode_heads.hrda_head.HRDAHead` in
three ways:

1. **Feature weighter** ``feat_weighter``: a third head built like the scale attention (for DAFormer: 256-d
   embeddings, 1x1 conv fusion) with a *single* output; ``w = sigmoid(feat_weighter(context))``, upsampled
   x2 like the attention.  What the withheld code does with it is unknown; the reconstruction
   (:class:`~mmseg_procl.uda.objectives.multi_prototype_contrast.MultiPrototypeContrast`) uses it to weigh
   detail against context features.
2. **Fusion order**: ``fused = up(a) * paste(detail) + (1 - up(a)) * up(context)``, the ``(1 - a)`` factor
   applied *after* the x2 upsampling (HRDA: ``up((1 - a) * context) + up(a) * paste(detail)``); the context
   logits are returned without the factor.
3. **Decoder features** (training, i.e. with a crop box): the 256-channel DAFormer decoder features before
   dropout / classifier (``DAFormerHead.fused_features``), the context ones upsampled x2 (bilinear,
   ``align_corners=True`` as the reference) and the detail ones pasted into zeros at the crop position, both
   on the detail logits' grid; the crop footprint on the context grid (``detail_mask``, (B, 1, h, w)) and
   ``feature_weight`` w.

Parameter names follow the reference (``head.*``, ``scale_attention.*``, ``feat_weighter.*``).  MiT-B5:
HRDA's 85,685,990 parameters plus the feature weighter's 526,081 (the attention head with 1 instead of 19
outputs).  Only DAFormer heads are supported (the reference computes decoder features for DAFormer only).

Call graph::

    forward(context, detail, crop_box) -> [training] head.fused_features -> head.cls_seg (context, detail)
                                          [inference] head(context) ; decode_detail(windows)
                                       -> attention (crop_mask) -> fuse after upsampling
                                       -> [training] feat_weighter, upsampled / pasted decoder features
    loss_by_feat                       -> HRDAHead.loss_by_feat (fused and detail CE)
"""
from typing import Dict, Optional, Sequence, Union

import torch

from mmseg_procl.registry import MODELS
from .hrda_head import HRDAHead, SlideFeatures, attention_head_config, rescale


@MODELS.register_module()
class PCPRHead(HRDAHead):
    """HRDA head with PCPR's feature weighter, fusion order and decoder-feature outputs (module doc)."""

    def __init__(self, head: dict, scales: Sequence[float] = (0.5, 1.0), hr_loss_weight: float = 0.1,
                 attention_embed_dim: int = 256, attention_classwise: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        """As :class:`HRDAHead`; ``head`` must be a ``DAFormerHead`` config."""
        if head.get('type') != 'DAFormerHead':
            raise ValueError(f'PCPRHead: head.type={head.get("type")!r}; PCPR returns DAFormer decoder '
                             "features, so the head must be 'DAFormerHead'")
        super().__init__(head, scales, hr_loss_weight, attention_embed_dim, attention_classwise, init_cfg)
        self.feat_weighter = MODELS.build(attention_head_config(head, attention_embed_dim, classwise=False))

    def decode_with_features(self, feats: Sequence[torch.Tensor]):
        """(decoder features (B, channels, h, w), logits (B, C, h, w)) of one input's backbone maps."""
        features = self.head.fused_features(feats)
        return features, self.head.cls_seg(features)

    def forward(self, context: Sequence[torch.Tensor], detail: Union[Sequence[torch.Tensor], SlideFeatures],
                crop_box: Optional[Sequence[int]] = None) -> Dict[str, torch.Tensor]:
        """``{'fused', 'context', 'detail', 'attention'}`` and, with ``crop_box`` (training),
        ``context_features``, ``detail_features`` (B, channels, H', W') on the fused grid,
        ``detail_mask`` (B, 1, h, w) on the context grid and ``feature_weight`` (B, 1, H', W').

        ``context`` / ``detail`` / ``crop_box`` as :meth:`HRDAHead.forward`; ``context`` logits are
        returned without the (1 - attention) factor (PCPR).
        """
        factor = self.scales[1] / self.scales[0]
        if crop_box is not None:
            lr_feats, lr_logits = self.decode_with_features(context)
            hr_feats, hr_logits = self.decode_with_features(detail)
        else:
            lr_logits = self.head(context)
            hr_logits = self.decode_detail(detail, context[0].shape[0])
        attention = torch.sigmoid(self.scale_attention(context))
        mask = None if crop_box is None else self.crop_mask(attention, crop_box)
        if mask is not None:
            attention = attention * mask
        up_lr = rescale(lr_logits, factor, self.align_corners)
        up_attention = rescale(attention, factor, self.align_corners)
        fused = up_attention * self.paste(hr_logits, up_lr, crop_box) + (1 - up_attention) * up_lr
        out = dict(fused=fused, context=lr_logits, detail=hr_logits, attention=attention)
        if crop_box is not None:
            up_lr_feats = rescale(lr_feats, factor, align_corners=True)
            weight = torch.sigmoid(self.feat_weighter(context))
            out.update(context_features=up_lr_feats,
                       detail_features=self.paste(hr_feats, up_lr_feats, crop_box), detail_mask=mask,
                       feature_weight=rescale(weight, factor, self.align_corners))
        return out
