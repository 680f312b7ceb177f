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
        if 'tool' in run:                       # a tool step of a chain (ProCA)
            assert os.path.isfile(os.path.join(REPO, run['tool'])), run
            continue
        path = os.path.join(REPO, run['config'])
        assert os.path.isfile(path), run
        cfg = Config.fromfile(path)
        for key in run['cfg_options']:
            assert key.split('.')[0] in cfg, (run, key)


def test_unknown_experiment_names_the_known_ones():
    with pytest.raises(KeyError, match='unknown experiment id 99; known experiments: 1: source-only demo'):
        generate_experiment_cfgs(99)
    assert [r['cfg_options']['randomness.seed'] for r in generate_experiment_cfgs(13)] == [0, 1, 2]


def test_proca_chain_refers_to_earlier_runs_and_resolves(tmp_path):
    import run_experiments
    runs = generate_experiment_cfgs(23)
    assert len(runs) == 15 and [r['name'] for r in runs[:5]] == [
        'proca-src_synthetic_s0', 'proca-prototypes_synthetic_s0', 'proca-adapt_synthetic_s0',
        'proca-pseudo-labels_synthetic_s0', 'proca-ssl_synthetic_s0']
    src, adapt = tmp_path / 'src', tmp_path / 'adapt'
    os.makedirs(src), os.makedirs(adapt)
    for name in ('iter_100.pth', 'iter_400.pth', 'iter_20.pth'):
        (src / name).write_bytes(b'')
    (adapt / 'best_mIoU_iter_150.pth').write_bytes(b'')
    dirs = {'proca-src_synthetic_s0': str(src), 'proca-adapt_synthetic_s0': str(adapt),
            'proca-ssl_synthetic_s0': str(tmp_path / 'ssl')}
    resolve = run_experiments.resolve
    args = [resolve(a, dirs, 'proca-prototypes_synthetic_s0') for a in runs[1]['args']]
    assert args == ['configs/demo/proca_src_synthetic.py', str(src / 'iter_400.pth'), '--out-dir',
                    f'{src}/prototypes']                      # the numerically last checkpoint
    options = {k: resolve(v, dirs, 'proca-adapt_synthetic_s0') for k, v in runs[2]['cfg_options'].items()}
    assert options['load_from'] == str(src / 'iter_400.pth') and options['randomness.seed'] == 0
    assert options['uda.prototype_sources.proca_out.init_file'] == f'{src}/prototypes/prototype_out_dist.pth'
    assert resolve(runs[3]['args'][1], dirs, 'x') == str(adapt / 'best_mIoU_iter_150.pth')
    with pytest.raises(KeyError, match="no earlier run of this list is called 'nope'"):
        resolve('{run:nope}', dirs, 'x')
    with pytest.raises(FileNotFoundError, match='no best_'):
        resolve('{best:proca-src_synthetic_s0}', dirs, 'x')
