"""UDA algorithms (what the Runner trains): SourceOnly, DACS, their stages, policy parts, objectives and
prototype sources."""
from . import mix, objectives, prototypes, pseudo_label, strong_aug, target_crop, teacher  # noqa: F401
from .dacs import DACS
from .iteration_state import IterationState
from .masking import BlockMasking
from .mix import ClassMix
from .pseudo_label import DayNightPseudoLabeller, PseudoLabeller
from .scale_consistency import ScaleConsistencyFilter
from .source_only import SourceOnly
from .source_target import SourceTarget
from .stages import Stage
from .strong_aug import StrongAugmentation
from .target_crop import ClassBalancedCrop
from .teacher import EMATeacher
from .wdass import WDASS

__all__ = ['SourceOnly', 'SourceTarget', 'DACS', 'Stage', 'IterationState', 'EMATeacher', 'PseudoLabeller',
           'DayNightPseudoLabeller',
           'ClassMix', 'StrongAugmentation', 'ClassBalancedCrop', 'BlockMasking',
           'ScaleConsistencyFilter', 'WDASS']
