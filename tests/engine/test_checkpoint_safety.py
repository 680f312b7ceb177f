"""Checkpoint contents survive torch.load(weights_only=True): MessageHub and RNG states round trip."""
import random

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from mmseg_procl.engine.checkpoint_safety import from_safe, to_safe
from mmseg_procl.engine.hooks.random_state_hook import capture_rng_state, restore_rng_state


def test_message_hub_round_trip_through_weights_only_load(tmp_path):
    buf = HistoryBuffer()
    for v in (1.5, 2.5, 4.0):
        buf.update(v)
    hub = dict(log_scalars={'train/loss': buf}, runtime_info={'iter': 3, 'scale': np.float64(0.5),
                                                            'arr': np.arange(3)})
    torch.save(dict(message_hub=to_safe(hub)), tmp_path / 'c.pth')
    back = from_safe(torch.load(tmp_path / 'c.pth', weights_only=True)['message_hub'])
    restored = back['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer)
    assert restored.mean() == buf.mean() == 8.0 / 3 and restored.current() == 4.0
    assert back['runtime_info']['scale'] == 0.5 and back['runtime_info']['arr'].tolist() == [0, 1, 2]


def test_rng_state_round_trip(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    state = capture_rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    torch.save(to_safe([state]), tmp_path / 'r.pth')
    restore_rng_state(from_safe(torch.load(tmp_path / 'r.pth', weights_only=True))[0])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
