"""PromptLearning: train the CoOp context so that dense CLIP logits segment the stage's labels.

CLIP-ProCL (github.com/bupt-ai-cz/CLIP-ProCL ``mmseg/models/uda/dacs.py``, ``pl_flag`` /
``pl_weight``; docs/methods.md §2.1.4 step 5 and §2.1.5): the MaskCLIP embeddings of the frozen CLIP tower
(L2-normalised, no logit scale) against the student's text embeddings give dense cosine logits
(B, C, h/32, w/32), bilinearly resized (align_corners=True) to the label size;

    L = loss_weight * CE(logits, y)     averaged over all pixels (mmseg convention), no weights

on clean source labels and on the mixed labels (pseudo-labels included).  CLIP and the text tower
are frozen and the CLIP features carry no gradient, so only ``ctx`` receives gradient from it.
"""
from typing import Dict, Sequence

import torch

from mmseg_procl.models.losses import pixel_cross_entropy
from mmseg_procl.models.utils import resize
from mmseg_procl.registry import MODELS
from mmseg_procl.uda.prototypes import CLIP_AWARE_SEGMENTORS, stage_text_embeddings
from mmseg_procl.uda.stage_context import StageContext
from .base_objective import BaseObjective


@MODELS.register_module()
class PromptLearning(BaseObjective):
    """Cross entropy of dense CLIP image-text logits; its gradient reaches only the prompt context."""

    def __init__(self, loss_weight: float = 0.5, ignore_index: int = 255,
                 align_corners: bool = True, stages: Sequence[str] = ('source', 'mixed'),
                 start_iter: int = 0) -> None:
        super().__init__(stages, start_iter)
        self.loss_weight, self.ignore_index = loss_weight, ignore_index
        self.align_corners = align_corners

    @property
    def loss_names(self):
        """``('loss_prompt',)``."""
        return ('loss_prompt',)

    def forward(self, ctx: StageContext) -> Dict[str, torch.Tensor]:
        """``{'loss_prompt': loss_weight * CE(dense CLIP logits, labels)}``."""
        if 'clip_feats' not in ctx.extras:
            raise KeyError(f'PromptLearning: the stage has no CLIP features; use a CLIP-aware '
                           f'segmentor ({CLIP_AWARE_SEGMENTORS})')
        text = stage_text_embeddings(ctx)
        logits = ctx.model.clip_logits(ctx.extras['clip_feats'], text)
        logits = resize(logits, ctx.labels.shape[-2:], align_corners=self.align_corners)
        loss = pixel_cross_entropy(logits, ctx.labels, ignore_index=self.ignore_index)
        return {'loss_prompt': self.loss_weight * loss}
