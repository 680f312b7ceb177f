"""Objectives: extra loss terms that act in the stages of a UDA algorithm."""
from .base_objective import BaseObjective
from .feature_distance import ImageNetFeatureDistance, downscale_label_ratio

__all__ = ['BaseObjective', 'ImageNetFeatureDistance', 'downscale_label_ratio']
