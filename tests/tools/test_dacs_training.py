"""DACS end to end on tiny synthetic data: losses, debug panels, checkpoint content, exact resume."""
import os
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.registry import MODELS
from mmseg_procl.utils import register_all_modules
from loss_traces import check_trace
import tool_runs

REPO, ENV = tool_runs.REPO, tool_runs.ENV
TINY = os.path.join(REPO, 'tests', 'fixtures', 'tiny_dacs.py')
KEYS = ('src.loss', 'mix.loss', 'src.decode.loss_seg', 'mix.decode.loss_seg')


def train(work_dir, *extra):
    return tool_runs.train(TINY, work_dir, *extra)


def logged(work_dir):
    """{iter: {key: value}} of the logged DACS losses."""
    return tool_runs.logged_rows(work_dir, 'src.loss', KEYS)


@pytest.fixture(scope='module')
def full_run(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('dacs_full')
    return work_dir, train(work_dir)


def test_losses_panels_and_checkpoint(full_run):
    work_dir, log = full_run
    rows = logged(work_dir)
    assert sorted(rows) == [1, 2, 3, 4]
    check_trace('tiny_dacs.py', {k: [rows[i][k] for i in (1, 2, 3, 4)] for k in KEYS})
    assert all(0 < v < 10 for row in rows.values() for v in row.values())
    assert sorted(os.listdir(work_dir / 'debug')) == ['iter_000002.png', 'iter_000004.png']
    ckpt = torch.load(work_dir / 'iter_4.pth', map_location='cpu', weights_only=True)
    state = ckpt['state_dict']
    assert state['iteration'].item() == 4
    student = {k[6:]: v for k, v in state.items() if k.startswith('model.')}
    teacher = {k[10:]: v for k, v in state.items() if k.startswith('ema_model.')}
    assert student.keys() == teacher.keys() and len(student) > 50
    assert any(not torch.equal(student[k], teacher[k]) for k in student)   # EMA, not a copy


def test_resume_reproduces_dacs_losses_exactly(full_run, tmp_path):
    work_dir, _ = full_run
    train(tmp_path, '--cfg-options', 'train_cfg.max_iters=2')
    log = train(tmp_path, '--resume', str(tmp_path / 'iter_2.pth'))
    # the sampler restarts at item 2 x batch 2 instead of loading the two trained batches again
    assert 'Resumed the data stream at item 4 of each rank (iteration 2; sampler seed 0)' in log
    assert logged(tmp_path) == logged(work_dir)
    full = torch.load(work_dir / 'iter_4.pth', map_location='cpu', weights_only=True)['state_dict']
    resumed = torch.load(tmp_path / 'iter_4.pth', map_location='cpu', weights_only=True)['state_dict']
    for key in full:
        if key.startswith('ema_model.'):
            assert torch.equal(full[key], resumed[key]), key       # teacher continued, not re-copied


def test_resume_without_workers_continues_the_same_stream(full_run, tmp_path):
    # the data stream does not depend on the worker count, and a new loader iterator on resume does
    # not shift the model's random stream: a num_workers=0 run, interrupted, equals the full run
    work_dir, _ = full_run
    no_workers = ('train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False')
    train(tmp_path, '--cfg-options', 'train_cfg.max_iters=2', *no_workers)
    train(tmp_path, '--resume', str(tmp_path / 'iter_2.pth'), '--cfg-options', *no_workers)
    assert logged(tmp_path) == logged(work_dir)


def test_teacher_is_not_reinitialised_after_resume():
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile(TINY))
    torch.manual_seed(0)
    dacs = MODELS.build(cfg.model)
    with torch.no_grad():
        for p in dacs.ema_model.parameters():
            p.zero_()
    dacs.load_state_dict(dict(dacs.state_dict(), iteration=torch.tensor(3)))   # as after iter_3
    assert dacs.local_iter == 3
    dacs.update_teacher()
    alpha = min(1 - 1 / 4, cfg.model.teacher.alpha)
    for t, s in zip(dacs.ema_model.parameters(), dacs.model.parameters()):
        torch.testing.assert_close(t, (1 - alpha) * s)
    dacs.set_iteration(0)
    dacs.update_teacher()
    assert all(torch.equal(t, s) for t, s in zip(dacs.ema_model.parameters(), dacs.model.parameters()))


def test_test_tool_evaluates_the_student_of_a_dacs_checkpoint(full_run, tmp_path):
    work_dir, _ = full_run
    out = subprocess.run([sys.executable, 'tools/test.py', TINY, str(work_dir / 'iter_4.pth'), '--eval',
                          'mIoU', '--work-dir', str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                         env=ENV)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    assert 'student (model.*) of a UDA checkpoint' in text and 'missing keys: 0' in text


def test_two_rank_cpu_dacs(tmp_path):
    out = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                          '--master_port', tool_runs.free_port(), 'tools/train.py', TINY, '--launcher', 'pytorch',
                          '--work-dir', str(tmp_path), '--cfg-options', 'train_cfg.max_iters=2',
                          'train_cfg.val_interval=2'], cwd=REPO, capture_output=True, text=True,
                         env=ENV, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert 'world size 2' in out.stdout + out.stderr
    ckpt = torch.load(tmp_path / 'iter_2.pth', map_location='cpu', weights_only=True)
    assert len(ckpt['rng_states']) == 2 and ckpt['state_dict']['iteration'].item() == 2
    assert any(k.startswith('ema_model.') for k in ckpt['state_dict'])
