"""Prototype sources for the prototype-contrast objective."""
from .clip_text_prototypes import CLIPTextPrototypes, stage_text_embeddings

__all__ = ['CLIPTextPrototypes', 'stage_text_embeddings']
