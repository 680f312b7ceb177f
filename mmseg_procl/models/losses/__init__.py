"""Losses (pure functions + thin registered modules)."""
from .cross_entropy import pixel_cross_entropy
from .cross_entropy_loss import CrossEntropyLoss

__all__ = ['pixel_cross_entropy', 'CrossEntropyLoss']
