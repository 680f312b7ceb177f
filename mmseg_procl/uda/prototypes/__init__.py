"""Prototype sources for the prototype-contrast objective."""
from .anchor_weighted_prototypes import AnchorWeightedPrototypes
from .class_feature_statistics import ClassFeatureStatistics, contrast_preparations
from .class_mean_estimator import ClassMeanEstimator, read_prototype_file
from .clip_text_prototypes import CLIP_AWARE_SEGMENTORS, CLIPTextPrototypes, stage_text_embeddings

__all__ = ['CLIP_AWARE_SEGMENTORS', 'CLIPTextPrototypes', 'stage_text_embeddings', 'ClassFeatureStatistics',
           'contrast_preparations', 'ClassMeanEstimator', 'read_prototype_file',
           'AnchorWeightedPrototypes']
