"""Objectives: extra loss terms that act in the stages of a UDA algorithm."""
from .base_objective import BaseObjective
from .clip_feature_distillation import CLIPFeatureDistillation
from .feature_distance import ImageNetFeatureDistance, downscale_label_ratio
from .multi_prototype_contrast import MultiPrototypeContrast
from .proca_contrast import ProCAContrast
from .prompt_learning import PromptLearning
from .prototype_contrast import PrototypeContrast
from .semantic_contrast import SemanticContrast
from .weak_label_objectives import SemanticEdgeLoss, WeakImageLabelLoss, WeakPrototypeContrast

__all__ = ['BaseObjective', 'ImageNetFeatureDistance', 'downscale_label_ratio', 'PrototypeContrast',
           'PromptLearning', 'CLIPFeatureDistillation', 'SemanticContrast',
           'MultiPrototypeContrast', 'ProCAContrast', 'WeakImageLabelLoss', 'SemanticEdgeLoss',
           'WeakPrototypeContrast']
