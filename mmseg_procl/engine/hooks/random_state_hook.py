"""RandomStateHook: save and restore every rank's RNG states so that a resumed run continues exactly.

mmengine checkpoints do not contain the random-number generators, so after ``--resume`` dropout,
drop-path and the DACS augmentation draws would differ from an uninterrupted run.  This hook
gathers the python / numpy / torch (CPU and CUDA) generator states of every rank right before an
iteration whose checkpoint will be written, stores them in the checkpoint under ``rng_states``
(one entry per rank), and restores this rank's entry when a checkpoint is resumed.  The data of a
UDA run need no state: ``UDAInfiniteSampler`` items are functions of (seed, rank, position) and
``ResumableIterBasedTrainLoop`` restarts the stream at the resumed position.  Other samplers are
replayed batch by batch as mmengine does (exact with ``num_workers >= 1``, so that data and model
do not share one generator).
"""
import random
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook

from mmseg_procl.engine.checkpoint_safety import from_safe, to_safe
from mmseg_procl.registry import HOOKS
from .schedule import checkpoint_due


def capture_rng_state() -> Dict:
    """The current python, numpy, torch and CUDA generator states of this process."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Dict) -> None:
    """Set the python, numpy, torch and CUDA generators to a captured state."""
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Put all ranks' RNG states into iteration checkpoints and restore them on resume."""

    priority = 'LOW'   # after the optimizer step and logging, before CheckpointHook (VERY_LOW)

    def __init__(self) -> None:
        self._pending: Optional[List[Dict]] = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Gather every rank's RNG state when a checkpoint follows this iteration."""
        if checkpoint_due(runner):
            state = capture_rng_state()
            states = all_gather_object(state) if get_world_size() > 1 else [state]
            self._pending = to_safe(states)   # numpy state as tensors: loadable with weights_only

    def before_save_checkpoint(self, runner, checkpoint: Dict) -> None:
        """Store the gathered states (rank order) in the checkpoint."""
        if self._pending is not None:
            checkpoint['rng_states'] = self._pending

    def after_load_checkpoint(self, runner, checkpoint: Dict) -> None:
        """Restore this rank's RNG state when resuming a checkpoint that has one per rank."""
        states = checkpoint.get('rng_states')
        if not states or not getattr(runner, '_resume', False):
            return
        if len(states) != get_world_size():
            runner.logger.warning(f'checkpoint holds RNG states of {len(states)} ranks, this run has '
                                  f'{get_world_size()}: random streams will differ from the original run')
            return
        restore_rng_state(from_safe(states[get_rank()]))
