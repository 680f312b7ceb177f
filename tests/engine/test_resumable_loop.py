"""ResumableIterBasedTrainLoop: the sampler gets the resumed run's seed (mmengine builds it first)."""
from types import SimpleNamespace

from mmseg_procl.engine.loops import ResumableIterBasedTrainLoop


def resume_seed(sampler_seed, runner_seed, diff_rank_seed=False):
    loop = ResumableIterBasedTrainLoop.__new__(ResumableIterBasedTrainLoop)
    loop._runner = SimpleNamespace(seed=runner_seed, _randomness_cfg=dict(seed=runner_seed,
                                                                           diff_rank_seed=diff_rank_seed))
    sampler = SimpleNamespace(seed=sampler_seed)
    loop._resume_sampler_seed(sampler)
    return sampler.seed


def test_sampler_takes_the_checkpoint_seed():
    assert resume_seed(sampler_seed=123, runner_seed=7) == 7       # the checkpoint's seed wins
    assert resume_seed(sampler_seed=7, runner_seed=7) == 7
    assert resume_seed(sampler_seed=123, runner_seed=7, diff_rank_seed=True) == 123   # warned, unchanged
