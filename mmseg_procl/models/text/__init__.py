"""CLIP text side: the frozen text transformer and the CoOp prompt learner."""
from .clip_text_encoder import CLIPTextEncoder
from .prompt_learner import PromptLearner

__all__ = ['CLIPTextEncoder', 'PromptLearner']
