"""PromptLearner: CoOp learnable context shared by all classes (CLIP-ProCL's text prompts).

CoOp (Zhou et al., "Learning to Prompt for Vision-Language Models", IJCV 2022) as used by
CLIP-ProCL (github.com/bupt-ai-cz/CLIP-ProCL ``mmseg/models/segmentors/
clip_encoder_decoder_projector.py``, docs/methods.md §2.1.3): prompt strings ``"X X ... X <class>."`` with
``n_ctx`` placeholders are tokenised once with CLIP's BPE tokenizer (open_clip's copy, context 77);
at every call the placeholder rows of their token embeddings are replaced by the shared learnable
``ctx`` (n_ctx, width).  ``init_context`` sets ``ctx`` by linear interpolation (bilinear resize with
``align_corners=False`` of the (k, width) matrix along the token axis) of the token embeddings of
``ctx_init`` (``"a photo of a"``: 4 tokens -> 16 rows).

The token ids are a non-persistent buffer computed from the class names (no weights file is needed
to build the model, e.g. at test time); the frozen token-embedding table is passed in by the owner.
"""
from typing import Optional, Sequence

import open_clip
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from open_clip.tokenizer import _tokenizer
from torch import nn

from mmseg_procl.datasets.label_tables import CLASSES
from mmseg_procl.registry import MODELS

PLACEHOLDER = 'X'


@MODELS.register_module()
class PromptLearner(BaseModule):
    """Learnable context ``ctx`` (n_ctx, width) + fixed class-name token rows -> prompt embeddings."""

    def __init__(self, class_names: Optional[Sequence[str]] = None, n_ctx: int = 16,
                 ctx_dim: int = 512, ctx_init: str = 'a photo of a',
                 context_length: int = 77) -> None:
        super().__init__()
        names = [n.replace('_', ' ') for n in (CLASSES if class_names is None else class_names)]
        if not names:
            raise ValueError('PromptLearner: class_names is empty')
        self.class_names, self.n_ctx, self.ctx_init = tuple(names), n_ctx, ctx_init
        prompts = [' '.join([PLACEHOLDER] * n_ctx) + f' {name}.' for name in names]
        lengths = [len(_tokenizer.encode(p)) + 2 for p in prompts]       # + SOT, EOT
        too_long = [n for n, length in zip(names, lengths) if length > context_length]
        if too_long:
            raise ValueError(f'PromptLearner: prompts for {too_long} exceed {context_length} tokens')
        with torch.device('cpu'):          # token ids are data, also when building on 'meta'
            token_ids = open_clip.tokenize(prompts, context_length=context_length)
        self.register_buffer('token_ids', token_ids, persistent=False)
        self.seq_length = max(lengths)     # last EOT position + 1, a host value computed once
        self.ctx = nn.Parameter(torch.empty(n_ctx, ctx_dim).normal_(std=0.02))

    @property
    def num_classes(self) -> int:
        """Number of prompts (classes)."""
        return len(self.class_names)

    @torch.no_grad()
    def init_context(self, token_embedding: nn.Embedding) -> None:
        """``ctx`` <- the token embeddings of ``ctx_init`` linearly resized to ``n_ctx`` rows."""
        ids = torch.tensor(_tokenizer.encode(self.ctx_init), device=self.ctx.device)
        rows = token_embedding(ids).to(self.ctx.dtype)                      # (k, width)
        resized = F.interpolate(rows[None, None], size=tuple(self.ctx.shape), mode='bilinear',
                                align_corners=False)
        self.ctx.copy_(resized[0, 0])

    def forward(self, token_embedding: nn.Embedding) -> torch.Tensor:
        """(num_classes, context_length, width): [SOT, ctx..., class tokens, '.', EOT, padding]."""
        with torch.no_grad():
            fixed = token_embedding(self.token_ids).to(self.ctx.dtype)
        ctx = self.ctx.unsqueeze(0).expand(fixed.shape[0], -1, -1)
        return torch.cat([fixed[:, :1], ctx, fixed[:, 1 + self.n_ctx:]], dim=1)
