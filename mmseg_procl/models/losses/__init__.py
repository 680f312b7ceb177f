"""Losses (pure functions + thin registered modules)."""
from .cross_entropy import pixel_cross_entropy
from .cross_entropy_loss import CrossEntropyLoss
from .lovasz_loss import LovaszLoss, lovasz_softmax
from .prototype_contrast import prototype_cross_entropy

__all__ = ['pixel_cross_entropy', 'CrossEntropyLoss', 'prototype_cross_entropy', 'LovaszLoss',
           'lovasz_softmax']
