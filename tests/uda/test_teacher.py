"""EMA teacher: alpha schedule, parameter-only averaging, dropout switching (docs/methods.md §1.5 step 1)."""
import pytest
import torch
from timm.layers import DropPath
from torch import nn

from mmseg_procl.uda.teacher import copy_parameters, disable_dropout, ema_alpha, ema_update, freeze
import tool_runs


@pytest.mark.parametrize('t, alpha, expected', [
    (1, 0.999, 0.5), (3, 0.999, 0.75), (999, 0.999, 0.999), (5000, 0.999, 0.999),
    (50, 0.99, 1 - 1 / 51), (99, 0.99, 0.99), (200, 0.99, 0.99)])
def test_alpha_schedule(t, alpha, expected):
    assert ema_alpha(t, alpha) == pytest.approx(expected)


def net():
    return nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1), nn.Dropout2d(0.5), DropPath(0.3))


def test_ema_averages_parameters_only():
    teacher, student = freeze(net()), net()
    with torch.no_grad():
        for p in teacher.parameters():
            p.fill_(1.0)
        for p in student.parameters():
            p.fill_(3.0)
    teacher[1].running_mean.fill_(7.0)
    student[1].running_mean.fill_(-7.0)
    ema_update(teacher, student, 0.75)
    assert all(torch.allclose(p, torch.full_like(p, 1.5)) for p in teacher.parameters())
    assert teacher[1].running_mean.item() == 7.0                 # own BN buffers are kept
    copy_parameters(teacher, student)
    assert all(torch.equal(a, b) for a, b in zip(teacher.parameters(), student.parameters()))
    assert not any(p.requires_grad for p in teacher.parameters())


def test_disable_dropout_keeps_batchnorm_training():
    model = net().train()
    disable_dropout(model)
    assert model[1].training and not model[2].training and not model[3].training


def test_sync_gradients_averages_across_ranks(tmp_path):
    """Two gloo ranks with different gradients end with their mean (UDADataParallel training)."""
    import subprocess
    import sys
    script = tmp_path / 'sync.py'
    script.write_text('''
import torch, torch.distributed as dist
from mmseg_procl.uda.source_only import SourceOnly
dist.init_process_group('gloo')
rank = dist.get_rank()
holder = torch.nn.Module.__new__(SourceOnly)
torch.nn.Module.__init__(holder)
holder.w = torch.nn.Parameter(torch.zeros(3))
holder.w.grad = torch.full((3,), float(rank + 1))
SourceOnly.sync_gradients(holder)
assert holder.w.grad.tolist() == [1.5, 1.5, 1.5], holder.w.grad
dist.destroy_process_group()
''')
    out = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                          '--master_port', tool_runs.free_port(), str(script)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
