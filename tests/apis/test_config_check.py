"""Config validation: argument sets of classes and functions, every shipped config is clean, errors
name the path, the key and the intended key."""
import glob
import os

import pytest
from mmengine.config import Config

from mmseg_procl.apis.config_check import ConfigChecker, accepted_arguments, check_config
from mmseg_procl.errors import ConfigError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(p for p in glob.glob(os.path.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p) + sorted(glob.glob(os.path.join(REPO, 'tests', 'fixtures', 'tiny_*.py')))


class Base:
    def __init__(self, a, b=1):
        pass


class Child(Base):
    def __init__(self, c, **kwargs):          # forwards the rest to Base
        super().__init__(**kwargs)


class Sink:
    def __init__(self, x, **kwargs):          # forwards nowhere: object takes nothing
        pass


def open_function(x, **kwargs):
    return x


def closed_function(x, *, y=2):
    return x


def test_accepted_arguments_follow_kwargs_to_the_base_class():
    assert accepted_arguments(Child) == {'self', 'c', 'a', 'b'}
    assert accepted_arguments(Sink) == {'self', 'x'}
    assert accepted_arguments(closed_function) == {'x', 'y'}
    assert accepted_arguments(open_function) is None


@pytest.mark.parametrize('path', [p for p in CONFIGS if not p.endswith('tiny_clip.py')],
                         ids=lambda p: os.path.relpath(p, REPO))
def test_every_shipped_config_is_clean(path):
    check_config(Config.fromfile(path))


def test_errors_name_path_key_and_suggestion():
    cfg = Config(dict(
        model=dict(type='EncoderDecoder', backbone=dict(type='mit_b0', drop_path_rat=0.1),
                   decode_head=dict(type='DAFormerHead', num_classs=19,
                                    norm_cfg=dict(type='BN', requires_grad=True))),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=10),
        randomnes=dict(seed=1), default_hooks=dict(logger=dict(type='LoggerHooks'))))
    errors = ConfigChecker(cfg).run()
    assert len(errors) == 4, errors
    assert any(e.startswith("model.backbone: mit_b0 has no argument 'drop_path_rat'; did you mean "
                            "'drop_path_rate'?") for e in errors)
    assert any(e.startswith("model.decode_head: DAFormerHead has no argument 'num_classs'; did you "
                            "mean 'num_classes'?") for e in errors)
    assert "top-level key 'randomnes' is not read by the runner; did you mean 'randomness'?" in errors
    assert any(e.startswith("default_hooks.logger: type 'LoggerHooks' is not a registered hook; "
                            "did you mean 'LoggerHook'?") for e in errors)
    with pytest.raises(ConfigError, match='4 problems in the config'):
        check_config(cfg)


def test_a_poly_schedule_ending_before_the_run_is_refused():
    def errors(total, max_iters):
        cfg = Config(dict(train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
                          param_scheduler=[dict(type='PolyLRWithWarmup', total_iters=total, by_epoch=False)]))
        return ConfigChecker(cfg).run()
    assert errors(80000, 40000) == [] and errors(80000, 80000) == []     # an interrupted run is allowed
    assert errors(40000, 80000) == ['param_scheduler[0].total_iters=40000 is shorter than train_cfg.max_iters='
                                    '80000: iterations 40000..80000 would train at min_lr; set total_iters=80000 '
                                    '(schedules/schedule_60k.py and schedule_80k.py carry their own poly '
                                    'schedule) or run with --cfg-options max_iters=N']


@pytest.mark.parametrize('sampler', ['InfiniteSampler', 'DefaultSampler'])
def test_a_uda_dataset_behind_an_index_sampler_is_refused(sampler):
    source = dict(type='SyntheticDrivingDataset', style='source')
    loader = dict(batch_size=2, sampler=dict(type=sampler, shuffle=True),
                  dataset=dict(type='UDADataset', source=source, target=dict(source, style='target')))
    errors = ConfigChecker(Config(dict(train_dataloader=loader))).run()
    assert errors == [f"train_dataloader.sampler: a UDADataset needs sampler=dict(type='UDAInfiniteSampler'), "
                      f"got '{sampler}' (an index sampler over len(source) * len(target) items allocates that "
                      'many indices: about 3 GB per pass for GTA5 -> Cityscapes)']
    loader['sampler'] = dict(type='UDAInfiniteSampler')
    assert ConfigChecker(Config(dict(train_dataloader=loader))).run() == []
