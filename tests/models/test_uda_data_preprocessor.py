"""UDADataPreProcessor on collated UDADataset batches and on plain (validation) batches."""
import pytest
import torch
from mmengine.dataset import pseudo_collate

from mmseg_procl.datasets import SyntheticDrivingDataset, UDADataset
from mmseg_procl.datasets.transforms import PackSegInputs
from mmseg_procl.models import SegDataPreProcessor, UDADataPreProcessor
from mmseg_procl.registry import MODELS
from mmseg_procl.structures import SegDataSample

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)


@pytest.fixture
def uda_items():
    """Two UDADataset items (16x8 synthetic scenes): pairs 0 and 3 of 2 sources x 2 targets."""
    kwargs = dict(num_samples=2, img_size=(16, 8), seed=1, pipeline=[PackSegInputs()])
    ds = UDADataset(source=SyntheticDrivingDataset(style='source', **kwargs),
                    target=SyntheticDrivingDataset(style='target', **kwargs))
    return [ds[0], ds[3]]


def normalised(img):
    """Reference normalisation of one BGR uint8 (3, H, W) image."""
    return (img[[2, 1, 0]].float() - MEAN) / STD


def test_pseudo_collate_structure(uda_items):
    batch = pseudo_collate(uda_items)
    assert set(batch) == {'source', 'target'}
    for branch in ('source', 'target'):
        assert set(batch[branch]) == {'inputs', 'data_samples'}
        assert isinstance(batch[branch]['inputs'], list) and len(batch[branch]['inputs']) == 2
        assert batch[branch]['inputs'][0].shape == (3, 8, 16)
        assert batch[branch]['inputs'][0].dtype == torch.uint8
        assert all(isinstance(s, SegDataSample) for s in batch[branch]['data_samples'])
    assert [s.sample_idx for s in batch['source']['data_samples']] == [0, 1]
    assert [s.sample_idx for s in batch['target']['data_samples']] == [0, 1]


def test_branches_normalised_separately(uda_items):
    batch = pseudo_collate(uda_items)
    raw = {b: [x.clone() for x in batch[b]['inputs']] for b in ('source', 'target')}
    out = UDADataPreProcessor()(batch, training=True)
    assert set(out) == {'source', 'target'}
    for branch in ('source', 'target'):
        x = out[branch]['inputs']
        assert x.shape == (2, 3, 8, 16) and x.dtype == torch.float32
        for i in range(2):
            torch.testing.assert_close(x[i], normalised(raw[branch][i]))
        assert all(s.pad_shape == (8, 16) for s in out[branch]['data_samples'])
    assert not torch.equal(out['source']['inputs'], out['target']['inputs'])
    source_label = out['source']['data_samples'][1].gt_sem_seg.data
    assert source_label.shape == (1, 8, 16) and source_label.max() <= 255
    assert all('gt_sem_seg' not in s for s in out['target']['data_samples'])


def test_plain_batch_passes_through_to_wrapped_preprocessor(uda_items):
    plain = pseudo_collate([item['source'] for item in uda_items])
    expected = SegDataPreProcessor()(pseudo_collate([item['source'] for item in uda_items]), False)
    out = UDADataPreProcessor()(plain, training=False)
    assert set(out) == {'inputs', 'data_samples'}
    torch.testing.assert_close(out['inputs'], expected['inputs'])
    assert [s.pad_shape for s in out['data_samples']] == [(8, 16), (8, 16)]
    for got, want in zip(out['data_samples'], expected['data_samples']):
        assert torch.equal(got.gt_sem_seg.data, want.gt_sem_seg.data)
        assert got.img_path == want.img_path


def test_registry_config_mean_std_and_padding(uda_items):
    pre = MODELS.build(dict(type='UDADataPreProcessor',
                            data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0],
                                                   std=[2, 2, 2], size=(12, 20))))
    assert isinstance(pre.branch_preprocessor, SegDataPreProcessor)
    assert pre.mean.shape == (3, 1, 1) and pre.std.shape == (3, 1, 1)
    assert pre.mean.sum() == 0 and pre.std.eq(2).all()
    torch.testing.assert_close(UDADataPreProcessor().mean, MEAN)
    torch.testing.assert_close(UDADataPreProcessor().std, STD)
    out = pre(pseudo_collate(uda_items), training=True)
    x, src = out['target']['inputs'], uda_items[1]['target']['inputs']
    assert x.shape == (2, 3, 12, 20)
    torch.testing.assert_close(x[1, :, :8, :16], src[[2, 1, 0]].float() / 2)
    assert x[:, :, 8:].abs().max() == 0
    label = out['source']['data_samples'][0].gt_sem_seg.data
    assert label.shape == (1, 12, 20) and label[0, 8:].eq(255).all()


def test_device_of_wrapper_applies_to_branches(uda_items):
    pre = UDADataPreProcessor().to(torch.device('meta'))
    out = pre(pseudo_collate(uda_items), training=True)
    assert out['source']['inputs'].device.type == 'meta'
    assert out['target']['inputs'].device.type == 'meta'


def test_malformed_batches_are_errors(uda_items):
    pre = UDADataPreProcessor()
    with pytest.raises(KeyError, match="branch 'target' must be a collated dict"):
        pre(dict(source=pseudo_collate([uda_items[0]['source']]), target=[1]), training=True)
    with pytest.raises(ValueError, match='empty batch'):
        pre({}, training=True)
    with pytest.raises(TypeError, match='expected a collated dict batch, got list'):
        pre([], training=True)
