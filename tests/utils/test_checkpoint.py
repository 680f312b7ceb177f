"""Segmentor checkpoint loading: UDA prefixes, module. prefix, bad files (weights_only=True)."""
import pytest
import torch
from torch import nn

from mmseg_procl.utils import load_segmentor_checkpoint, segmentor_state_dict


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(2, 2)
        self.decode_head = nn.Linear(2, 1)


def test_uda_checkpoint_loads_the_student(tmp_path):
    student, teacher = Tiny(), Tiny()
    state = {f'model.{k}': v for k, v in student.state_dict().items()}
    state.update({f'ema_model.{k}': v + 1 for k, v in teacher.state_dict().items()})
    state['imnet_model.backbone.weight'] = torch.zeros(2, 2)
    torch.save(dict(meta=dict(iter=40000), state_dict=state), tmp_path / 'uda.pth')
    target = Tiny()
    load_segmentor_checkpoint(target, str(tmp_path / 'uda.pth'), strict=True)
    for k, v in student.state_dict().items():
        assert torch.equal(target.state_dict()[k], v)


def test_module_prefix_is_stripped():
    state, origin = segmentor_state_dict({'state_dict': {'module.backbone.weight': torch.ones(1)}})
    assert list(state) == ['backbone.weight'] and origin == 'segmentor state dict'


def test_bad_files_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_segmentor_checkpoint(Tiny(), str(tmp_path / 'nope.pth'))
    (tmp_path / 'bad.pth').write_bytes(b'garbage')
    with pytest.raises(ValueError, match='bad.pth'):
        load_segmentor_checkpoint(Tiny(), str(tmp_path / 'bad.pth'))
    torch.save({'backbone.weight': torch.zeros(3, 3)}, tmp_path / 'shape.pth')
    with pytest.raises(ValueError, match=r'backbone.weight: checkpoint \(3, 3\) vs model \(2, 2\)'):
        load_segmentor_checkpoint(Tiny(), str(tmp_path / 'shape.pth'))
    torch.save({'other.weight': torch.zeros(1)}, tmp_path / 'other.pth')
    with pytest.raises(ValueError, match='none of its 1 keys match'):
        load_segmentor_checkpoint(Tiny(), str(tmp_path / 'other.pth'))


def test_code_in_a_checkpoint_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ('executed',))
    torch.save({'state_dict': {'x': Evil()}}, tmp_path / 'evil.pth')
    with pytest.raises(ValueError, match='weights_only'):
        load_segmentor_checkpoint(Tiny(), str(tmp_path / 'evil.pth'))
