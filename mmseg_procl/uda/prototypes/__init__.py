"""Prototype sources for the prototype-contrast objective."""
from .class_feature_statistics import ClassFeatureStatistics, contrast_preparations
from .clip_text_prototypes import CLIPTextPrototypes, stage_text_embeddings

__all__ = ['CLIPTextPrototypes', 'stage_text_embeddings', 'ClassFeatureStatistics',
           'contrast_preparations']
