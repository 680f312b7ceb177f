"""Training runtime pieces: hooks, parameter schedulers, checkpoint safety."""
from . import hooks, schedulers  # noqa: F401
from .uda_data_parallel import UDADataParallel
from .checkpoint_safety import (WeightsOnlyCheckpointHook, from_safe,
                                register_checkpoint_safe_globals, to_safe)

__all__ = ['UDADataParallel', 'WeightsOnlyCheckpointHook', 'register_checkpoint_safe_globals',
           'to_safe', 'from_safe']
