"""experiments.py: every named experiment lists runs whose configs exist and parse, with distinct names."""
import os
import sys

import pytest
from mmengine.config import Config

from tool_runs import REPO

sys.path.insert(0, REPO)                        # experiments.py lives in the repository root
from experiments import EXPERIMENTS, generate_experiment_cfgs  # noqa: E402


@pytest.mark.parametrize('exp_id', sorted(EXPERIMENTS))
def test_experiment_runs_point_at_configs(exp_id):
    runs = generate_experiment_cfgs(exp_id)
    assert runs and len({r['name'] for r in runs}) == len(runs)
    for run in runs:
        path = os.path.join(REPO, run['config'])
        assert os.path.isfile(path), run
        cfg = Config.fromfile(path)
        for key in run['cfg_options']:
            assert key.split('.')[0] in cfg, (run, key)


def test_unknown_experiment_names_the_known_ones():
    with pytest.raises(KeyError, match='unknown experiment id 99; known experiments: 1: source-only demo'):
        generate_experiment_cfgs(99)
    assert [r['cfg_options']['randomness.seed'] for r in generate_experiment_cfgs(13)] == [0, 1, 2]
