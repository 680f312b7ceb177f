"""Parameter schedulers."""
from .poly_lr_with_warmup import PolyLRWithWarmup
from .warmup_then_poly import WarmupThenPolyLR

__all__ = ['PolyLRWithWarmup', 'WarmupThenPolyLR']
