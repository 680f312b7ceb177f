"""CLIPTextPrototypes: class prototypes from the student's CLIP text embeddings of learned prompts.

CLIP-ProCL (github.com/bupt-ai-cz/CLIP-ProCL, docs/methods.md §2.1.3 / §2.1.5): the prototypes of the
alignment loss are the L2-normalised text embeddings ``T`` (C, D) of the CoOp prompts, **detached**
(only the prompt-learning loss trains the context).  The embeddings are computed by the CLIP-aware
student (``CLIPFusionMixin.text_embeddings``) **once per iteration**: the context does not change
between the stages, so every stage reads the same values through its own detached leaf, and the
gradient the stages leave on their leaves is sent through the text tower once, after the last
stage's backward (:class:`SharedTextEmbeddings`).  The reference runs the text tower forward and
backward in every stage; the context's gradient is the same sum.
"""
from typing import List

import torch
from torch import nn

from mmseg_procl.registry import MODELS
from mmseg_procl.uda.stage_context import StageContext

CLIP_AWARE_SEGMENTORS = 'type=CLIPEncoderDecoder, or type=CLIPHRDAEncoderDecoder with an HRDAHead'


class SharedTextEmbeddings:
    """Text embeddings computed once per iteration, read by each stage through a detached leaf.

    ``backward`` sends the sum of the leaves' gradients through the text tower (one backward instead of
    one per stage); it is deferred by the iteration state to after the last stage's backward.
    """

    def __init__(self, embeddings: torch.Tensor) -> None:
        self.embeddings = embeddings
        self.leaves: List[torch.Tensor] = []

    def leaf(self) -> torch.Tensor:
        """(C, D) the embeddings' values as a new leaf that collects this stage's gradient."""
        leaf = self.embeddings.detach().requires_grad_(self.embeddings.requires_grad)
        self.leaves.append(leaf)
        return leaf

    def backward(self) -> None:
        """Back-propagate the summed gradients of the leaves into the prompt context."""
        grads = [leaf.grad for leaf in self.leaves if leaf.grad is not None]
        if grads:
            total = grads[0]
            for grad in grads[1:]:
                total = total + grad
            self.embeddings.backward(total)
        self.leaves = []


def stage_text_embeddings(ctx: StageContext) -> torch.Tensor:
    """The student's text embeddings for this stage, with gradient to ``ctx`` (see the module doc;
    without an iteration state, as in a bare stage context, computed for the stage itself)."""
    if not hasattr(ctx.model, 'text_embeddings'):
        raise TypeError(f'CLIP text prototypes / prompt learning need a CLIP-aware segmentor '
                        f'({CLIP_AWARE_SEGMENTORS}), got {type(ctx.model).__name__}')
    if ctx.state is None:
        return ctx.cached('text_embeddings', ctx.model.text_embeddings)

    def shared() -> SharedTextEmbeddings:
        """The iteration's embeddings, their deferred backward registered."""
        embeddings = SharedTextEmbeddings(ctx.model.text_embeddings())
        ctx.state.defer(embeddings.backward)
        return embeddings

    return ctx.cached('text_embeddings',
                      lambda: ctx.state.cached('student_text_embeddings', shared).leaf())


@MODELS.register_module()
class CLIPTextPrototypes(nn.Module):
    """Prototype source: detached CLIP text embeddings (C, D) of the student's prompts."""

    def forward(self, ctx: StageContext) -> torch.Tensor:
        """(num_classes, D) unit-norm prototypes without gradient."""
        return stage_text_embeddings(ctx).detach()
