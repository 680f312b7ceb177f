"""Decode heads (logits) and the projection head (embeddings)."""
from .aspp_wrapper import ASPPWrapper
from .daformer_head import DAFormerHead
from .decode_head import BaseDecodeHead
from .dlv2_head import DLV2Head
from .hrda_head import HRDAHead
from .proj_head import ProjHead
from .segformer_head import SegFormerHead
from .pcpr_head import PCPRHead

__all__ = ['BaseDecodeHead', 'DLV2Head', 'ProjHead', 'DAFormerHead', 'SegFormerHead', 'ASPPWrapper',
           'HRDAHead', 'PCPRHead']
