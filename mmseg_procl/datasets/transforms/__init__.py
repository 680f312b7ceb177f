"""Data transforms with the names and semantics of MMSegmentation (docs/methods.md §1.1)."""
from .base_transform import BaseTransform
from .loading_annotations import LoadAnnotations, LoadPseudoLabels
from .loading_image import LoadImageFromFile, LoadResizedCache
from .pack_seg_inputs import PackSegInputs
from .pad import Pad
from .photometric_distortion import PhotoMetricDistortion
from .pseudo_label_margins import PseudoLabelMargins
from .random_crop import RandomCrop
from .random_flip import RandomFlip
from .resize import RandomResize, Resize
from .torchvision_color import ColorJitter, GaussianBlur, RandomGrayscale

__all__ = ['BaseTransform', 'LoadImageFromFile', 'LoadResizedCache', 'LoadAnnotations', 'LoadPseudoLabels',
           'Resize', 'RandomResize', 'RandomCrop',
           'RandomFlip', 'PhotoMetricDistortion', 'Pad', 'PackSegInputs', 'PseudoLabelMargins',
           'ColorJitter', 'RandomGrayscale', 'GaussianBlur']
