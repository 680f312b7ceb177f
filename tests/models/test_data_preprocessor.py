"""SegDataPreProcessor: BGR->RGB, 0-255 normalisation, bottom/right padding of images and labels."""
import torch
from mmengine.structures import PixelData

from mmseg_procl.models import SegDataPreProcessor
from mmseg_procl.structures import SegDataSample


def test_normalises_flips_channels_and_pads():
    pre = SegDataPreProcessor(size=(4, 5))
    img = torch.zeros(3, 2, 3, dtype=torch.uint8)
    img[0], img[1], img[2] = 0, 128, 255                    # B, G, R
    sample = SegDataSample(gt_sem_seg=PixelData(data=torch.ones(1, 2, 3, dtype=torch.long)))
    out = pre(dict(inputs=[img], data_samples=[sample]), training=True)
    x = out['inputs']
    assert x.shape == (1, 3, 4, 5)
    expected = [(255 - 123.675) / 58.395, (128 - 116.28) / 57.12, (0 - 103.53) / 57.375]
    for c in range(3):
        torch.testing.assert_close(x[0, c, :2, :3], torch.full((2, 3), expected[c]))
    assert x[0, :, 2:].abs().max() == 0 and x[0, :, :, 3:].abs().max() == 0   # pad_val 0
    label = out['data_samples'][0].gt_sem_seg.data
    assert label.shape == (1, 4, 5) and label[0, :2, :3].eq(1).all()
    assert label[0, 2:].eq(255).all() and label[0, :, 3:].eq(255).all()
    assert out['data_samples'][0].pad_shape == (4, 5)


def test_test_mode_uses_size_divisor_only():
    pre = SegDataPreProcessor(size=(64, 64), test_cfg=dict(size_divisor=4))
    out = pre(dict(inputs=[torch.zeros(3, 5, 6, dtype=torch.uint8)]), training=False)
    assert out['inputs'].shape == (1, 3, 8, 8)
