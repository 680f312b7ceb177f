"""poly10warm: mmcv PolyLrUpdaterHook + linear warmup values (docs/methods.md §1.1 item 9, 1.7)."""
import pytest
import torch
from mmengine.optim import OptimWrapper

from mmseg_procl.engine.schedulers import PolyLRWithWarmup


def scheduler(total=40000, warmup=1500, lrs=(6e-5, 6e-4)):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    opt = torch.optim.AdamW([dict(params=[p], lr=lr) for p, lr in zip(params, lrs)])
    wrapper = OptimWrapper(opt)
    return wrapper, PolyLRWithWarmup(wrapper, total_iters=total, power=1.0, min_lr=0.0,
                                     warmup_iters=warmup, warmup_ratio=1e-6)


def advance(wrapper, sched, steps):
    for _ in range(steps):
        wrapper.step()
        sched.step()


@pytest.mark.parametrize('t, factor', [
    (0, 1e-6),                                        # (1 - 0) * (1 - (1 - 0) * (1 - 1e-6))
    (750, (1 - 750 / 40000) * (1 - 0.5 * (1 - 1e-6))),  # half-way through warmup
    (1500, 1 - 1500 / 40000),                         # warmup over: pure linear decay
    (20000, 0.5),
    (39999, 1 / 40000),
])
def test_values_follow_the_closed_form(t, factor):
    wrapper, sched = scheduler()
    advance(wrapper, sched, t)
    lrs = [g['lr'] for g in wrapper.optimizer.param_groups]
    assert lrs == pytest.approx([6e-5 * factor, 6e-4 * factor], rel=1e-12)


def test_load_state_dict_reapplies_the_restored_iteration():
    wrapper, sched = scheduler(total=100, warmup=10)
    advance(wrapper, sched, 37)
    state = sched.state_dict()
    fresh_wrapper, fresh = scheduler(total=100, warmup=10)   # writes the iteration-0 value
    fresh.load_state_dict(state)
    assert [g['lr'] for g in fresh_wrapper.optimizer.param_groups] == pytest.approx(
        [6e-5 * 0.63, 6e-4 * 0.63], rel=1e-12)


def test_rejects_epoch_based_use():
    wrapper, _ = scheduler()
    with pytest.raises(ValueError, match='by_epoch=False'):
        PolyLRWithWarmup(wrapper, total_iters=10, by_epoch=True)
