"""Models: backbones, heads, segmentors, losses, data preprocessors (the deployable segmentor layer)."""
from . import backbones, decode_heads, losses  # noqa: F401

__all__ = ['backbones', 'decode_heads', 'losses']
