"""Training runtime pieces: the runner, the train loop, hooks, parameter schedulers, checkpoint safety."""
from . import hooks, schedulers  # noqa: F401
from .checkpoint_safety import (WeightsOnlyCheckpointHook, from_safe,
                                register_checkpoint_safe_globals, to_safe)
from .loops import ResumableIterBasedTrainLoop
from .runner import SafeRunner
from .uda_data_parallel import UDADataParallel

__all__ = ['SafeRunner', 'ResumableIterBasedTrainLoop', 'UDADataParallel', 'WeightsOnlyCheckpointHook',
           'register_checkpoint_safe_globals', 'to_safe', 'from_safe']
