"""SegDataSample fields: typed PixelData storage, deletion and the dict round trip."""
import pytest
import torch
from mmengine.structures import PixelData

from mmseg_procl.structures import SegDataSample


def test_fields_store_pixel_data_and_round_trip():
    sample = SegDataSample(metainfo=dict(img_path='a.png'))
    sample.gt_sem_seg = PixelData(data=torch.tensor([[[0, 255]]]))
    sample.seg_weight = PixelData(data=torch.tensor([[[1.0, 0.25]]]))
    assert sample.gt_sem_seg.data.tolist() == [[[0, 255]]]
    assert 'seg_weight' in sample and 'pred_sem_seg' not in sample
    as_dict = sample.to_dict()
    assert as_dict['gt_sem_seg']['data'].tolist() == [[[0, 255]]]
    assert as_dict['seg_weight']['data'].tolist() == [[[1.0, 0.25]]]
    del sample.gt_sem_seg
    assert 'gt_sem_seg' not in sample


def test_field_rejects_other_types():
    sample = SegDataSample()
    with pytest.raises(AssertionError):
        sample.pred_sem_seg = torch.zeros(1, 2, 2)
