"""LossGuardHook: stop a diverging run at once, naming the iteration and the loss terms.

Without it a run whose loss became ``nan`` keeps training for hours, saves non-finite weights and
evaluates them (exit status 0).  After every training iteration the hook reads the logged values of
the step (``train_step``'s output: the total ``loss`` and every ``*loss*`` term), which the
runtime-info hook reads on the host anyway; if one of them is non-finite, or the total loss exceeds
``max_loss`` (a divergence bound far above any cross-entropy value), it raises
:class:`TrainingDivergedError` before the checkpoint hook runs, so the weights of that step are never
saved, and withdraws a checkpoint whose weights produced the bad loss (see the class docstring).  As
a second line of defence every checkpoint is checked for non-finite floating-point tensors before
it is written.
"""
import math
import os
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_comm_device, get_world_size, is_main_process
from mmengine.hooks import Hook

from mmseg_procl.registry import HOOKS
from mmseg_procl.errors import TrainingDivergedError


def loss_values(outputs: Dict, message_hub=None) -> Dict[str, float]:
    """The scalar loss terms of a step's output (keys containing ``loss``) as Python floats.

    Read from ``message_hub`` (``train/<key>``, which mmengine's runtime-info hook has just filled
    on the host) when it holds them all; otherwise from the tensors, in one host read.
    """
    terms = {k: v for k, v in outputs.items() if 'loss' in k}
    scalars = getattr(message_hub, 'log_scalars', {})
    if terms and all(f'train/{k}' in scalars for k in terms):
        return {k: float(scalars[f'train/{k}'].current()) for k in terms}
    tensors = {k: v.detach().float().mean() for k, v in terms.items() if torch.is_tensor(v)}
    read = dict(zip(tensors, torch.stack(list(tensors.values())).tolist())) if tensors else {}
    return {k: read[k] if k in read else float(v) for k, v in terms.items()}   # one host read


def non_finite_tensors(state: Dict[str, torch.Tensor], limit: int = 10) -> List[str]:
    """Names of (up to ``limit``) floating-point tensors of ``state`` holding a NaN or an infinity."""
    names = [k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point()]
    if not names:
        return []
    finite = torch.stack([torch.isfinite(state[k]).all() for k in names]).tolist()
    return [k for k, ok in zip(names, finite) if not ok][:limit]


@HOOKS.register_module()
class LossGuardHook(Hook):
    """Raise :class:`TrainingDivergedError` on a non-finite or exploding loss; never save NaN weights.

    A checkpoint written after iteration ``k`` holds the weights that compute the loss of
    iteration ``k + 1``; it is trusted once that loss is good.  When iteration ``k + 1`` diverges,
    ``<work_dir>/last_checkpoint`` (read by ``--resume`` and ``test.sh``) is pointed back to the
    newest trusted checkpoint (removed when there is none); the suspect file stays on disk and is
    named in the error.

    Args:
        max_loss: bound on the total ``loss`` of one iteration (None: only non-finite values stop).
    """

    priority = 'ABOVE_NORMAL'   # after the runtime-info hook, before logger and checkpoint hooks

    def __init__(self, max_loss: Optional[float] = 1e4) -> None:
        if max_loss is not None and not max_loss > 0:
            raise ValueError(f'LossGuardHook: max_loss must be > 0 or None, got {max_loss!r}')
        self.max_loss = max_loss
        self.last_good_iter = 0
        self.trusted: Optional[str] = None      # newest checkpoint followed by a good iteration
        self.untested = False                   # the newest checkpoint's weights are not tested yet

    def before_train(self, runner) -> None:
        """Start counting at the (resumed) iteration; a resumed checkpoint is tested by its next step."""
        self.last_good_iter = runner.iter
        self.untested = bool(getattr(runner, '_resume', False)) and runner.iter > 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Check the step's loss terms."""
        values = loss_values(outputs or {}, runner.message_hub)
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        total = values.get('loss')
        diverged = self.max_loss is not None and total is not None and math.isfinite(total) \
            and total > self.max_loss
        if any_rank(bool(bad or diverged)):
            raise TrainingDivergedError(self._message(runner, values, bad, self._withdraw(runner)))
        self.last_good_iter = runner.iter + 1
        if self.untested:
            self.trusted, self.untested = last_checkpoint(runner), False

    def before_save_checkpoint(self, runner, checkpoint: Dict) -> None:
        """Refuse to write a checkpoint with non-finite weights; remember it is not tested yet."""
        bad = non_finite_tensors(checkpoint.get('state_dict', {}))
        if bad:
            raise TrainingDivergedError(
                f'iteration {runner.iter + 1}: the weights hold NaN / inf values ({", ".join(bad)}); '
                f'the checkpoint was not written; last checkpoint: {last_checkpoint(runner) or "none"}')
        self.untested = True

    def _withdraw(self, runner) -> str:
        """Point ``last_checkpoint`` away from an untested checkpoint; describe what was done."""
        newest = last_checkpoint(runner)
        if not self.untested or newest is None:
            return f'last checkpoint: {newest or "none"}'
        if is_main_process():
            pointer = osp.join(runner.work_dir, 'last_checkpoint')
            if self.trusted:
                with open(pointer, 'w', encoding='utf-8') as f:
                    f.write(self.trusted)
            elif osp.isfile(pointer):
                os.remove(pointer)
        return (f'{newest} holds the weights that produced this loss, so last_checkpoint '
                + (f'now points to {self.trusted} (the newest checkpoint followed by a good iteration)'
                   if self.trusted else 'is removed (no checkpoint was followed by a good iteration)'))

    def _message(self, runner, values: Dict[str, float], bad: Dict[str, float], saved: str) -> str:
        """What diverged, where, and which checkpoint is safe."""
        terms = ', '.join(f'{k}={v:.4g}' for k, v in values.items())
        total = values.get('loss', float('nan'))
        if bad:
            what = f'non-finite loss terms {sorted(bad)}'
        elif self.max_loss is not None and total > self.max_loss:
            what = f'total loss {total:.4g} above max_loss={self.max_loss:g}'
        else:
            what = 'the loss diverged on another rank'
        return (f'training diverged at iteration {runner.iter + 1}: {what} ({terms}); its weights were '
                f'not saved; last good iteration: {self.last_good_iter}; {saved} (lower the learning '
                'rate or check the data; LossGuardHook(max_loss=...) sets the divergence bound)')


def any_rank(flag: bool) -> bool:
    """``flag`` of any process (all ranks stop together instead of waiting in a collective)."""
    if get_world_size() == 1:
        return flag
    value = torch.tensor([int(flag)], device=get_comm_device())
    all_reduce(value, op='max')
    return bool(value.item())


def last_checkpoint(runner) -> Optional[str]:
    """The path recorded in ``<work_dir>/last_checkpoint`` (None when nothing was saved yet)."""
    path = osp.join(runner.work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        return f.read().strip() or None
