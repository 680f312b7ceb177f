"""WarmupThenPolyLR: WDASS's ``WarmUpPolyLR`` applied after each optimizer step.

Das et al., CVPR 2023 (github.com/anurag-198/WDASS ``utils/lr_policy.py`` ``WarmUpPolyLR``, ``train.py``;
docs/methods.md §2.7).  The reference computes ``f(t) = base * t / W`` for ``t < W`` (a linear warmup from
0, *instead of* the poly factor) and ``f(t) = base * (1 - t / T) ** power`` afterwards, and writes ``f(t)``
into the optimizer *after* the step of iteration ``t``.  So iteration 0 runs at the full base rate,
iteration 1 at ``f(0) = 0`` and iteration ``t >= 1`` at ``f(t - 1)`` (``lag=1``; ``lag=0`` gives the
value before each step).  The value is closed form in the iteration, so resume restores it exactly.
"""
from typing import List

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import _ParamScheduler

from mmseg_procl.registry import PARAM_SCHEDULERS


def warmup_then_poly(base: float, t: int, total: int, warmup: int, power: float) -> float:
    """``base * t / warmup`` while ``t < warmup``, else ``base * (1 - t / total) ** power`` (0 from
    ``total`` on)."""
    if t < warmup:
        return base * t / warmup
    return base * (1.0 - min(t, total) / total) ** power


@PARAM_SCHEDULERS.register_module()
class WarmupThenPolyLR(LRSchedulerMixin, _ParamScheduler):
    """Iteration-based linear warmup from 0, then poly decay, optionally one step late (WDASS)."""

    def __init__(self, optimizer, total_iters: int, warmup_iters: int = 1500, power: float = 0.9,
                 lag: int = 1, begin: int = 0, end: int = None, last_step: int = -1, by_epoch: bool = False,
                 verbose: bool = False) -> None:
        if by_epoch:
            raise ValueError('WarmupThenPolyLR is iteration based: set by_epoch=False')
        if total_iters <= 0 or warmup_iters < 0 or lag not in (0, 1):
            raise ValueError(f'WarmupThenPolyLR: total_iters must be > 0, warmup_iters >= 0 and lag 0 or 1, '
                             f'got {total_iters}, {warmup_iters}, {lag}')
        self.total_iters, self.warmup_iters, self.power, self.lag = total_iters, warmup_iters, power, lag
        super().__init__(optimizer, begin=begin, end=end if end is not None else total_iters + lag,
                         last_step=last_step, by_epoch=False, verbose=verbose)

    def _get_value(self) -> List[float]:
        """The rate of every group at ``self.last_step`` (the base rate at iteration 0 with lag 1)."""
        t = self.last_step
        if self.lag and t == 0:
            return list(self.base_values)
        return [warmup_then_poly(base, t - self.lag, self.total_iters, self.warmup_iters, self.power)
                for base in self.base_values]

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the state and re-apply the rate of the restored iteration (see ``PolyLRWithWarmup``)."""
        super().load_state_dict(state_dict)
        for group, value in zip(self.optimizer.param_groups, self._get_value()):
            group[self.param_name] = value
        self._last_value = [group[self.param_name] for group in self.optimizer.param_groups]
