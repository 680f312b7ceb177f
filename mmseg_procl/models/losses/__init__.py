"""Losses (pure functions + thin registered modules)."""
from .cross_entropy import pixel_cross_entropy
from .cross_entropy_loss import CrossEntropyLoss
from .lovasz_loss import LovaszLoss, lovasz_softmax
from .prototype_contrast import prototype_cross_entropy
from .weak_label import (anchor_weighted_prototypes, edge_loss, hard_anchor_sampling, image_level_loss,
                         multi_hot, prototype_pixel_contrast)

__all__ = ['pixel_cross_entropy', 'CrossEntropyLoss', 'prototype_cross_entropy', 'LovaszLoss',
           'lovasz_softmax', 'image_level_loss', 'edge_loss', 'prototype_pixel_contrast', 'multi_hot',
           'anchor_weighted_prototypes', 'hard_anchor_sampling']
