"""load_from of a plain segmentor checkpoint into a UDA algorithm: the student (``model.*``) is initialised
and every student key is checked (ProCA's adaptation starts from its source-only model)."""
import pytest
import torch
from torch import nn

from mmseg_procl.engine.runner import is_segmentor_checkpoint_for_student, segmentor_checkpoint_as_student
from mmseg_procl.errors import CheckpointError


class Segmentor(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(2, 3)
        self.decode_head = nn.Linear(3, 2)


class Algorithm(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = Segmentor()
        self.ema_model = Segmentor()


def test_segmentor_checkpoint_goes_to_the_student():
    algo, seg = Algorithm(), Segmentor()
    ckpt = {'meta': {}, 'state_dict': {f'module.{k}': v for k, v in seg.state_dict().items()}}
    assert is_segmentor_checkpoint_for_student(ckpt, algo)
    assert not is_segmentor_checkpoint_for_student(ckpt, seg)                 # a plain model: as usual
    assert not is_segmentor_checkpoint_for_student({'state_dict': algo.state_dict()}, algo)   # a UDA ckpt
    converted = segmentor_checkpoint_as_student(ckpt, 'src.pth', algo)
    assert sorted(converted['state_dict']) == sorted(f'model.{k}' for k in seg.state_dict())
    assert converted['meta'] == {}
    algo.load_state_dict(converted['state_dict'], strict=False)
    assert torch.equal(algo.model.backbone.weight, seg.backbone.weight)


def test_a_mismatching_segmentor_checkpoint_names_the_keys():
    algo = Algorithm()
    state = Segmentor().state_dict()
    state.pop('decode_head.bias')
    state['backbone.weight'] = torch.zeros(4, 2)
    with pytest.raises(CheckpointError, match=r'src.pth.*1 missing: decode_head.bias.*shape mismatch: '
                                              r'backbone.weight'):
        segmentor_checkpoint_as_student({'state_dict': state}, 'src.pth', algo)
