"""Segmentors."""
from .clip_encoder_decoder import CLIPEncoderDecoder, CLIPFusionMixin
from .clip_hrda_encoder_decoder import CLIPHRDAEncoderDecoder
from .encoder_decoder import EncoderDecoder
from .hrda_encoder_decoder import HRDAEncoderDecoder
from .pcpr_encoder_decoder import PCPREncoderDecoder

__all__ = ['EncoderDecoder', 'CLIPEncoderDecoder', 'CLIPFusionMixin', 'HRDAEncoderDecoder',
           'CLIPHRDAEncoderDecoder', 'PCPREncoderDecoder']
