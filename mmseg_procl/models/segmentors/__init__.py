"""Segmentors."""
from .clip_encoder_decoder import CLIPEncoderDecoder
from .encoder_decoder import EncoderDecoder
from .hrda_encoder_decoder import HRDAEncoderDecoder

__all__ = ['EncoderDecoder', 'CLIPEncoderDecoder', 'HRDAEncoderDecoder']
