"""PolyLRWithWarmup: mmcv 1.x ``PolyLrUpdaterHook`` with linear warmup, in closed form.

Specified in docs/methods.md §1.1 item 9.

At iteration ``t`` (0-based) every parameter group gets
``regular = (base - min_lr) * (1 - t / T) ** power + min_lr`` and, while ``t < warmup_iters``,
``regular * (1 - (1 - t / warmup_iters) * (1 - warmup_ratio))``.  Unlike chaining mmengine's
``LinearLR`` and ``PolyLR``, the poly decay counts from iteration 0 over all ``T`` iterations and the
warmup factor multiplies the decayed value, as the DAFormer family's ``poly10warm`` schedule does.
"""
from typing import List

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import _ParamScheduler

from mmseg_procl.registry import PARAM_SCHEDULERS


def poly_warmup_factor(t: int, warmup_iters: int, warmup_ratio: float) -> float:
    """Warmup multiplier at iteration ``t`` (1 after warmup)."""
    if warmup_iters <= 0 or t >= warmup_iters:
        return 1.0
    return 1.0 - (1.0 - t / warmup_iters) * (1.0 - warmup_ratio)


def poly_value(base: float, t: int, total: int, power: float, min_lr: float) -> float:
    """Poly-decayed value at iteration ``t`` (``min_lr`` from ``total`` on)."""
    progress = min(t, total) / total
    return (base - min_lr) * (1.0 - progress) ** power + min_lr


@PARAM_SCHEDULERS.register_module()
class PolyLRWithWarmup(LRSchedulerMixin, _ParamScheduler):
    """Iteration-based poly learning-rate decay with mmcv's multiplicative linear warmup."""

    def __init__(self, optimizer, total_iters: int, power: float = 1.0, min_lr: float = 0.0,
                 warmup_iters: int = 0, warmup_ratio: float = 1e-6, begin: int = 0,
                 end: int = None, last_step: int = -1, by_epoch: bool = False,
                 verbose: bool = False) -> None:
        if by_epoch:
            raise ValueError('PolyLRWithWarmup is iteration based: set by_epoch=False')
        if total_iters <= 0 or warmup_iters < 0:
            raise ValueError(f'PolyLRWithWarmup: total_iters must be > 0 and warmup_iters >= 0, got '
                             f'{total_iters} and {warmup_iters}')
        self.total_iters, self.power, self.min_lr = total_iters, power, min_lr
        self.warmup_iters, self.warmup_ratio = warmup_iters, warmup_ratio
        super().__init__(optimizer, begin=begin, end=end if end is not None else total_iters,
                         last_step=last_step, by_epoch=False, verbose=verbose)

    def _get_value(self) -> List[float]:
        """Closed-form learning rate of every parameter group at ``self.last_step``."""
        t = self.last_step
        warm = poly_warmup_factor(t, self.warmup_iters, self.warmup_ratio)
        return [poly_value(base, t, self.total_iters, self.power, self.min_lr) * warm
                for base in self.base_values]

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the state and re-apply the learning rate of the restored iteration.

        On resume mmengine builds the scheduler (whose first ``step`` writes the iteration-0 value
        into the optimizer) after loading the optimizer, so the closed-form value of the restored
        ``last_step`` must be written back.
        """
        super().load_state_dict(state_dict)
        for group, value in zip(self.optimizer.param_groups, self._get_value()):
            group[self.param_name] = value
        self._last_value = [group[self.param_name] for group in self.optimizer.param_groups]
