"""Training runtime pieces: the runner, hooks, parameter schedulers, checkpoint safety."""
from . import hooks, schedulers  # noqa: F401
from .checkpoint_safety import (WeightsOnlyCheckpointHook, from_safe,
                                register_checkpoint_safe_globals, to_safe)
from .runner import SafeRunner
from .uda_data_parallel import UDADataParallel

__all__ = ['SafeRunner', 'UDADataParallel', 'WeightsOnlyCheckpointHook',
           'register_checkpoint_safe_globals', 'to_safe', 'from_safe']
