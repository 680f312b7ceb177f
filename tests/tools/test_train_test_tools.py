"""Integration: train / resume / test / test.sh / run_experiments / 2-rank CPU DDP on synthetic data."""
import os
import subprocess
import sys

import pytest
import torch

import tool_runs

REPO, ENV, run = tool_runs.REPO, tool_runs.ENV, tool_runs.run
TINY = os.path.join(REPO, 'tests', 'fixtures', 'tiny_synthetic.py')


def train(work_dir, *extra):
    return tool_runs.train(TINY, work_dir, *extra)


def logged_losses(work_dir):
    """{iter: loss} from every scalars.json the LocalVisBackend wrote below ``work_dir``."""
    return {i: row['loss'] for i, row in tool_runs.logged_rows(work_dir, 'loss', ('loss',)).items()}


@pytest.fixture(scope='module')
def full_run(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('full')
    log = train(work_dir)
    return work_dir, log


def test_train_two_checkpoints_and_per_class_table(full_run):
    work_dir, log = full_run
    assert sorted(os.listdir(work_dir)).count('iter_4.pth') == 1
    assert os.path.isfile(os.path.join(work_dir, 'iter_2.pth'))
    assert '| Class         |   IoU |   Acc |' in log and 'mIoU16' in log
    # what was evaluated: split, resolution, model
    assert ('validation: student predictions on SyntheticDrivingDataset (in memory) (3 images, labelled), '
            'no resize (original size), scored at the original label size') in log
    losses = logged_losses(work_dir)
    assert sorted(losses) == [1, 2, 3, 4] and all(0 < v < 10 for v in losses.values())


def test_checkpoint_loads_with_weights_only(full_run):
    work_dir, _ = full_run
    ckpt = torch.load(os.path.join(work_dir, 'iter_4.pth'), map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == 4
    assert len(ckpt['rng_states']) == 1 and ckpt['rng_states'][0]['torch'].dtype == torch.uint8
    assert any(k.startswith('decode_head.conv_seg') for k in ckpt['state_dict'])


def test_resume_reproduces_uninterrupted_losses_exactly(full_run, tmp_path):
    work_dir, _ = full_run
    first = tmp_path / 'first'
    train(first, '--cfg-options', 'train_cfg.max_iters=2')
    train(first, '--resume', str(first / 'iter_2.pth'))
    expected, resumed = logged_losses(work_dir), logged_losses(first)
    assert sorted(resumed) == [1, 2, 3, 4]
    for it in (1, 2, 3, 4):
        assert resumed[it] == expected[it], (it, resumed, expected)


def test_test_tool_and_test_sh(full_run, tmp_path):
    work_dir, _ = full_run
    out = run([sys.executable, 'tools/test.py', TINY, str(work_dir / 'iter_4.pth'), '--eval', 'mIoU',
               '--work-dir', str(tmp_path / 't')])
    miou_tool = [line for line in out.splitlines() if 'Iter(test)' in line and 'mIoU:' in line]
    run_dir = tmp_path / 'run'
    train(run_dir)
    out_sh = run(['sh', 'test.sh', str(run_dir) + '/'])
    miou_sh = [line for line in out_sh.splitlines() if 'Iter(test)' in line and 'mIoU:' in line]
    value = lambda lines: lines[-1].split('mIoU:')[1].split()[0]
    assert miou_tool and miou_sh and value(miou_tool) == value(miou_sh)   # same weights, same data
    assert sorted(os.listdir(run_dir / 'preds')) == ['00000.png', '00001.png', '00002.png']


def test_format_only_writes_trainid_pngs(full_run, tmp_path):
    work_dir, _ = full_run
    out_dir = tmp_path / 'png'
    run([sys.executable, 'tools/test.py', TINY, str(work_dir / 'iter_4.pth'), '--format-only',
         '--eval-options', f'imgfile_prefix={out_dir}', '--work-dir', str(tmp_path / 't')])
    assert sorted(os.listdir(out_dir)) == ['00000.png', '00001.png', '00002.png']
    import numpy as np
    from PIL import Image
    pred = np.array(Image.open(out_dir / '00000.png'))
    assert pred.shape == (32, 64) and pred.dtype == np.uint8 and pred.max() < 19   # trainIds, full size


def test_tools_report_bad_input(tmp_path):
    bad = subprocess.run([sys.executable, 'tools/test.py', TINY, str(tmp_path / 'none.pth'), '--eval',
                          'mIoU'], cwd=REPO, capture_output=True, text=True, env=ENV)
    assert bad.returncode == 1 and 'checkpoint file not found' in bad.stderr
    bad = subprocess.run([sys.executable, 'tools/train.py', TINY, '--cfg-options', 'trian_cfg.max_iters=1'],
                         cwd=REPO, capture_output=True, text=True, env=ENV)
    assert bad.returncode == 1 and '--cfg-options trian_cfg.max_iters: ' in bad.stderr
    assert "did you mean 'train_cfg'?" in bad.stderr
    bad = subprocess.run(['sh', 'test.sh', str(tmp_path / 'missing')], cwd=REPO, capture_output=True,
                         text=True, env=ENV)
    assert bad.returncode == 2 and 'does not exist' in bad.stderr


def test_run_experiments_names_work_dirs(tmp_path):
    out = run([sys.executable, 'run_experiments.py', '--exp', '1', '--dry-run', '--work-root', str(tmp_path)])
    lines = [line for line in out.splitlines() if line.startswith('source-only_synthetic_s')]
    assert [line.split(':')[0] for line in lines] == [f'source-only_synthetic_s{s}' for s in (0, 1, 2)]
    assert "{'randomness.seed': 2}" in lines[2]
    name = os.path.basename(lines[0].split('-> ')[1])
    date, hour, *_, tag = name.split('_')
    assert len(date) == 6 and len(hour) == 4 and len(tag) == 5
    bad = subprocess.run([sys.executable, 'run_experiments.py', '--exp', '99'], cwd=REPO,
                         capture_output=True, text=True, env=ENV)
    assert bad.returncode == 1 and 'unknown experiment id 99' in bad.stderr
