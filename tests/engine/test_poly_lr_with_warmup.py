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


def test_wdass_warmup_then_poly_runs_one_step_late():
    """WDASS: iteration 0 at the base rate, iteration t >= 1 at f(t - 1): linear from 0 over W, then poly."""
    from mmseg_procl.engine.schedulers import WarmupThenPolyLR
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    opt = torch.optim.SGD([dict(params=[params[0]], lr=0.0025), dict(params=[params[1]], lr=0.025)])
    wrapper = OptimWrapper(opt)
    sched = WarmupThenPolyLR(wrapper, total_iters=100, warmup_iters=10, power=0.9)
    expected = {0: 1.0, 1: 0.0, 2: 0.1, 6: 0.5, 11: (1 - 10 / 100) ** 0.9, 51: 0.5 ** 0.9, 100: 0.01 ** 0.9}
    seen = {}
    for t in range(101):
        seen[t] = wrapper.optimizer.param_groups[0]['lr'] / 0.0025
        groups = wrapper.optimizer.param_groups
        assert groups[1]['lr'] == pytest.approx(10 * groups[0]['lr'])
        wrapper.step()
        sched.step()
    for t, factor in expected.items():
        assert seen[t] == pytest.approx(factor, rel=1e-12, abs=1e-15), t
    with pytest.raises(ValueError, match='lag 0 or 1'):
        WarmupThenPolyLR(wrapper, total_iters=10, lag=2)
