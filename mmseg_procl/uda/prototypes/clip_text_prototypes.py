"""CLIPTextPrototypes: class prototypes from the student's CLIP text embeddings of learned prompts.

CLIP-ProCL (github.com/bupt-ai-cz/CLIP-ProCL, docs/methods.md §2.1.3 / §2.1.5): the prototypes of the
alignment loss are the L2-normalised text embeddings ``T`` (C, D) of the CoOp prompts, **detached**
(only the prompt-learning loss trains the context).  The embeddings are computed once per stage by
the CLIP-aware student (``CLIPFusionMixin.text_embeddings``) and shared with the prompt-learning
objective through the stage context.
"""
import torch
from torch import nn

from mmseg_procl.registry import MODELS
from mmseg_procl.uda.stage_context import StageContext

CLIP_AWARE_SEGMENTORS = 'type=CLIPEncoderDecoder, or type=CLIPHRDAEncoderDecoder with an HRDAHead'


def stage_text_embeddings(ctx: StageContext) -> torch.Tensor:
    """The student's text embeddings of this stage (computed once, with gradient to ``ctx``)."""
    if not hasattr(ctx.model, 'text_embeddings'):
        raise TypeError(f'CLIP text prototypes / prompt learning need a CLIP-aware segmentor '
                        f'({CLIP_AWARE_SEGMENTORS}), got {type(ctx.model).__name__}')
    return ctx.cached('text_embeddings', ctx.model.text_embeddings)


@MODELS.register_module()
class CLIPTextPrototypes(nn.Module):
    """Prototype source: detached CLIP text embeddings (C, D) of the student's prompts."""

    def forward(self, ctx: StageContext) -> torch.Tensor:
        """(num_classes, D) unit-norm prototypes without gradient."""
        return stage_text_embeddings(ctx).detach()
