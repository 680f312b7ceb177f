"""No host synchronisation inside a training step: the guard, then DACS and CLIP-ProCL steps under it."""
import contextlib
import importlib
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper, build_optim_wrapper

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.registry import DATASETS, MODELS
from mmseg_procl.utils import HostSyncError, forbid_host_sync, host_values, register_all_modules

X = torch.tensor([0.5, -1.0, 2.0])
SYNCING = {
    'item': lambda: X[0].item(),
    'bool': lambda: bool(X[0] > 0),
    'if': lambda: 1 if (X > 0).any() else 0,
    'float': lambda: float(X.sum()),
    'mask index': lambda: X[X > 0],
    'mask assignment of values': lambda: X.clone().__setitem__(X > 0, torch.tensor([7.0, 8.0])),
    'nonzero': lambda: torch.nonzero(X),
    'where(cond)': lambda: torch.where(X > 0),
    'unique': lambda: torch.unique(X),
    'bincount': lambda: torch.bincount(torch.tensor([0, 2])),
    'masked_select': lambda: X.masked_select(X > 0),
    'repeat_interleave': lambda: torch.repeat_interleave(torch.tensor([1, 2])),
    'equal': lambda: torch.equal(X, X),
    'cpu': lambda: X.cpu(),
    'numpy': lambda: X.numpy(),
    'tolist': lambda: X.tolist(),
}


@pytest.mark.parametrize('name', sorted(SYNCING))
def test_every_kind_of_host_read_is_refused(name):
    with forbid_host_sync(), pytest.raises(HostSyncError, match='host synchronisation'):
        SYNCING[name]()
    SYNCING[name]()                                    # and allowed again after the block


def test_device_side_operations_pass():
    with forbid_host_sync():
        y = torch.where(X > 0, X, torch.zeros_like(X)) * 2
        repeated = torch.repeat_interleave(X, torch.tensor([1, 2, 1]), output_size=4)
        z = X[torch.tensor([2, 0])] + X.max() + repeated.sum()
        m = X.clone()
        m[torch.tensor([1])] = 3.0
        m[X < 0] = 3.0                                 # one host value: a masked_fill_, no sync
        with host_values():                           # declared host values (CPU draws)
            draws = torch.tensor([1.0, 2.0]).tolist()
    assert y.tolist() == [1.0, 0.0, 4.0] and z.tolist() == [4.5, 3.0] and draws == [1.0, 2.0]
    assert m.tolist() == [0.5, 3.0, 2.0]


def setup_step(config, **options):
    """(algorithm in train mode, optimizer wrapper, a collated batch of two items) of a tiny config, with
    extra algorithm ``options``."""
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile(config))
    cfg.model.update(options)
    torch.manual_seed(0)
    algo = MODELS.build(cfg.model)
    algo.init_weights()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    np.random.seed(0)
    batch = pseudo_collate([dataset[0], dataset[3]])
    algo.train()
    return algo, build_optim_wrapper(algo, cfg.optim_wrapper), batch


@pytest.mark.parametrize('config', ['tests/fixtures/tiny_dacs.py', 'tests/fixtures/tiny_clip_procl.py',
                                    'tests/fixtures/tiny_proca.py'])
def test_training_steps_read_nothing_on_the_host(config):
    algo, wrapper, batch = setup_step(config)
    assert wrapper.optimizer.defaults.get('fused') is True      # the fused AdamW keeps its step on the device
    random.seed(0), torch.manual_seed(0)
    before = {n: p.detach().clone() for n, p in algo.model.named_parameters() if p.requires_grad}
    for _ in range(2):                                          # the teacher's copy, then an EMA update
        with forbid_host_sync():
            log_vars = algo.train_step(batch, wrapper)
    assert algo.local_iter == 2 and all(torch.isfinite(v) for v in log_vars.values())
    assert any(not torch.equal(p, before[n]) for n, p in algo.model.named_parameters() if n in before)


class CpuBf16Wrapper(OptimWrapper):
    """What mmengine's ``AmpOptimWrapper(dtype='bfloat16', loss_scale=1.0)`` does to a step, on the CPU
    (mmengine's class needs CUDA): autocast in the stages' ``optim_context`` and ``cast_dtype``."""

    cast_dtype = torch.bfloat16

    @contextlib.contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=torch.bfloat16):
            yield


def test_bf16_step_runs_student_and_teacher_in_bf16_and_keeps_fp32_weights():
    algo, wrapper, batch = setup_step('tests/fixtures/tiny_dacs.py')
    wrapper = CpuBf16Wrapper(optimizer=wrapper.optimizer)
    seen = {}
    for name, module in (('student', algo.model), ('teacher', algo.ema_model)):
        module.decode_head.conv_seg.register_forward_hook(
            lambda m, i, out, name=name: seen.setdefault(name, set()).add(out.dtype))
    labeller_inputs = []
    label = algo.pseudo_labeller.label
    algo.pseudo_labeller.label = lambda logits, *a: labeller_inputs.append(logits.dtype) or label(logits, *a)
    random.seed(0), torch.manual_seed(0)
    for _ in range(2):
        with forbid_host_sync():
            log_vars = algo.train_step(batch, wrapper)
    assert seen == {'student': {torch.bfloat16}, 'teacher': {torch.bfloat16}}
    assert labeller_inputs == [torch.float32] * 2               # confidences from fp32 logits
    assert all(torch.isfinite(v) for v in log_vars.values())
    for module in (algo.model, algo.ema_model):
        assert {p.dtype for p in module.parameters()} == {torch.float32}
    assert {s.dtype for s in wrapper.optimizer.state_dict()['state'][0].values()} == {torch.float32}


def test_amp_switch_is_bf16_without_loss_scaling(monkeypatch):
    train_api = importlib.import_module('mmseg_procl.apis.train')     # the module, not apis.train()
    cfg = Config.fromfile('tests/fixtures/tiny_dacs.py')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(ValueError, match='--amp needs a CUDA GPU'):
        train_api.amp_optim_wrapper(cfg)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    train_api.amp_optim_wrapper(cfg)
    wrapper = cfg.optim_wrapper
    assert (wrapper.type, wrapper.dtype, wrapper.loss_scale) == ('AmpOptimWrapper', 'bfloat16', 1.0)
    assert wrapper.optimizer.fused is True
