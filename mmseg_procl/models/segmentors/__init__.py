"""Segmentors."""
from .clip_encoder_decoder import CLIPEncoderDecoder, CLIPFusionMixin
from .clip_hrda_encoder_decoder import CLIPHRDAEncoderDecoder
from .encoder_decoder import EncoderDecoder
from .hrda_encoder_decoder import HRDAEncoderDecoder

__all__ = ['EncoderDecoder', 'CLIPEncoderDecoder', 'CLIPFusionMixin', 'HRDAEncoderDecoder',
           'CLIPHRDAEncoderDecoder']
