"""Models: backbones, heads, segmentors, losses, data preprocessors (the deployable segmentor layer)."""
from . import backbones, decode_heads, losses, segmentors, text  # noqa: F401
from .data_preprocessor import SegDataPreProcessor
from .segmentors import EncoderDecoder
from .uda_data_preprocessor import UDADataPreProcessor

__all__ = ['SegDataPreProcessor', 'EncoderDecoder']
__all__ += ['UDADataPreProcessor']
