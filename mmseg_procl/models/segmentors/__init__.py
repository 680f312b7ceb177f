"""Segmentors."""
from .clip_encoder_decoder import CLIPEncoderDecoder
from .encoder_decoder import EncoderDecoder

__all__ = ['EncoderDecoder', 'CLIPEncoderDecoder']
