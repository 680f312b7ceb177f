"""Decode heads (logits) and the projection head (embeddings)."""
from .decode_head import BaseDecodeHead

__all__ = ['BaseDecodeHead']
