"""channels_last and in-place torch.compile of the segmentors: same losses, same state-dict names."""
import random

import numpy as np
import pytest
import torch

from test_host_sync import setup_step

TINY = 'tests/fixtures/tiny_dacs.py'


def one_step(**options):
    """(algorithm, log vars) after one DACS step of the tiny config with extra algorithm options."""
    algo, wrapper, batch = setup_step(TINY, **options)
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    return algo, algo.train_step(batch, wrapper)


@pytest.fixture(scope='module')
def plain():
    return one_step()


def test_channels_last_keeps_the_losses(plain):
    algo, log_vars = one_step(channels_last=True)
    for module in (algo.model, algo.ema_model):
        convs = [m.weight for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    for key, value in plain[1].items():
        torch.testing.assert_close(log_vars[key], value, rtol=1e-4, atol=1e-5, msg=key)


def test_compiled_segmentor_keeps_losses_and_state_dict_names(plain):
    algo, log_vars = one_step(compile_segmentor=dict(backend='eager'))
    for module in (algo.model, algo.ema_model):
        assert module.backbone._compiled_call_impl is not None
        assert module.decode_head._compiled_call_impl is not None
    assert list(algo.state_dict()) == list(plain[0].state_dict())
    for key, value in plain[1].items():
        torch.testing.assert_close(log_vars[key], value, rtol=1e-5, atol=1e-6, msg=key)


def test_compile_arguments_must_be_a_dict():
    with pytest.raises(TypeError, match="compile_segmentor must be a dict of torch.compile arguments or None, "
                       "got 'yes'"):
        one_step(compile_segmentor='yes')
