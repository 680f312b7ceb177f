"""No host synchronisation inside a training step: the guard, then DACS and CLIP-ProCL steps under it."""
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper

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
    'mask assignment': lambda: X.clone().__setitem__(X > 0, 0.0),
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
        with host_values():                           # declared host values (CPU draws)
            draws = torch.tensor([1.0, 2.0]).tolist()
    assert y.tolist() == [1.0, 0.0, 4.0] and z.tolist() == [4.5, 3.0] and draws == [1.0, 2.0]
    assert m.tolist() == [0.5, 3.0, 2.0]


def setup_step(config):
    """(algorithm in train mode, optimizer wrapper, a collated batch of two items) of a tiny config."""
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile(config))
    torch.manual_seed(0)
    algo = MODELS.build(cfg.model)
    algo.init_weights()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    np.random.seed(0)
    batch = pseudo_collate([dataset[0], dataset[3]])
    algo.train()
    return algo, build_optim_wrapper(algo, cfg.optim_wrapper), batch


@pytest.mark.parametrize('config', ['tests/fixtures/tiny_dacs.py', 'tests/fixtures/tiny_clip_procl.py'])
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
