"""CLIPTextEncoder: the frozen CLIP text transformer, fed with prompt embeddings instead of token ids.

CLIP-ProCL (github.com/bupt-ai-cz/CLIP-ProCL ``mmseg/models/backbones/text_transformer.py``,
docs/methods.md §2.1.3) runs OpenAI CLIP's text tower (width 512, 12 pre-LN blocks, 8 heads, causal mask,
77 positions, final LayerNorm, ``text_projection``) on CoOp prompts: embedding rows -> + positional
embedding -> blocks -> final LN -> the row at the end-of-text token (argmax of the token ids) ->
``@ text_projection``.

Built on open_clip's ``TextTransformer`` (OpenAI parameter names).  ``activation='gelu'`` is the
reference (its config builds the blocks with exact GELU); ``'quick_gelu'`` is what OpenAI trained
with (docs/methods.md §3 item 5).  Because of the causal mask, positions after the last end-of-text
token never influence the pooled rows, so the sequence is cut there: the result is identical to
running all 77 positions, at a fraction of the cost (19 Cityscapes prompts end by position 22).
"""
from typing import Optional

import torch
from open_clip.transformer import QuickGELU, TextTransformer
from torch import nn

from mmseg_procl.registry import MODELS

ACTIVATIONS = {'gelu': nn.GELU, 'quick_gelu': QuickGELU}


@MODELS.register_module()
class CLIPTextEncoder(TextTransformer):
    """open_clip text transformer with ``encode_embeddings`` for learned prompts."""

    def __init__(self, context_length: int = 77, vocab_size: int = 49408, width: int = 512,
                 heads: int = 8, layers: int = 12, output_dim: int = 512,
                 activation: str = 'gelu') -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f'CLIPTextEncoder: activation must be one of {sorted(ACTIVATIONS)}, '
                             f'got {activation!r}')
        super().__init__(context_length=context_length, vocab_size=vocab_size, width=width,
                         heads=heads, layers=layers, output_dim=output_dim,
                         act_layer=ACTIVATIONS[activation])
        self.width = width
        self.embed_dim = output_dim

    def encode_embeddings(self, embeddings: torch.Tensor, token_ids: torch.Tensor,
                          length: Optional[int] = None) -> torch.Tensor:
        """(N, L, width) prompt embeddings + (N, L) token ids -> (N, output_dim) pooled text features.

        ``length`` (last end-of-text position + 1) avoids a host read when the caller knows it.
        """
        eot = token_ids.argmax(dim=-1)
        if length is None:
            length = int(eot.max()) + 1                   # causal mask: later rows cannot matter
        x = embeddings[:, :length] + self.positional_embedding[:length].to(embeddings.dtype)
        x = self.transformer(x, attn_mask=self.attn_mask[:length, :length])
        x = self.ln_final(x)
        pooled = x[torch.arange(x.shape[0], device=x.device), eot]
        return pooled @ self.text_projection
