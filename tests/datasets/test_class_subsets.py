"""metainfo=dict(classes=<subset>) (mmseg 1.x semantics): kept classes renumbered, the others ignored;
ProCA's 16-class SYNTHIA model."""
import os

import cv2
import numpy as np
import pytest

from mmseg_procl.datasets import CityscapesDataset, SyntheticDrivingDataset
from mmseg_procl.datasets.label_tables import CLASSES, PALETTE, SYNTHIA16_CLASSES, class_subset
from mmseg_procl.registry import TRANSFORMS


def test_synthia16_table():
    assert len(SYNTHIA16_CLASSES) == 16 and 'terrain' not in SYNTHIA16_CLASSES
    label_map, palette = class_subset(SYNTHIA16_CLASSES)
    assert label_map[8] == 8 and label_map[9] == 255 and label_map[10] == 9     # vegetation, terrain, sky
    assert label_map[13] == 12 and label_map[14] == 255 and label_map[15] == 13 and label_map[16] == 255
    assert label_map[18] == 15 and palette[9] == tuple(PALETTE[10])
    assert class_subset(CLASSES)[0] is None                                           # the full set: no map
    with pytest.raises(ValueError, match="unknown: \\['lamp'\\]"):
        class_subset(('road', 'lamp'))
    with pytest.raises(ValueError, match='distinct'):
        class_subset(('road', 'road'))


def test_file_dataset_applies_the_map_when_loading(tmp_path):
    root = tmp_path / 'cs'
    for folder in ('leftImg8bit/val/a', 'gtFine/val/a'):
        os.makedirs(root / folder)
    cv2.imwrite(str(root / 'leftImg8bit/val/a/a_000000_000001_leftImg8bit.png'),
                np.zeros((1, 5, 3), np.uint8))
    cv2.imwrite(str(root / 'gtFine/val/a/a_000000_000001_gtFine_labelTrainIds.png'),
                np.array([[9, 10, 16, 18, 255]], np.uint8))
    dataset = CityscapesDataset(
        data_root=str(root), data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        metainfo=dict(classes=SYNTHIA16_CLASSES),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')])
    assert dataset.metainfo['classes'] == SYNTHIA16_CLASSES and len(dataset.metainfo['palette']) == 16
    label = dataset[0]['data_samples'].gt_sem_seg.data[0].tolist()
    assert label == [[255, 9, 255, 15, 255]]    # terrain / train ignored, sky 10 -> 9, bicycle 18 -> 15


def test_synthetic_dataset_subset_equals_the_map_of_the_full_labels():
    full = SyntheticDrivingDataset(num_samples=1, img_size=(64, 32))
    sub = SyntheticDrivingDataset(num_samples=1, img_size=(64, 32), metainfo=dict(classes=SYNTHIA16_CLASSES))
    label_map, _ = class_subset(SYNTHIA16_CLASSES)
    lut = np.full(256, 255, np.uint8)
    for old, new in label_map.items():
        lut[old] = new
    assert np.array_equal(sub.get_data_info(0)['gt_seg_map'], lut[full.get_data_info(0)['gt_seg_map']])


def test_torchvision_colour_transforms_are_seeded_by_numpy():
    img = (np.random.RandomState(0).rand(6, 8, 3) * 255).astype(np.uint8)
    jitter = TRANSFORMS.build(dict(type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5, hue=0.2))
    np.random.seed(5)
    a = jitter(dict(img=img.copy()))['img']
    np.random.seed(5)
    b = jitter(dict(img=img.copy()))['img']
    assert np.array_equal(a, b) and not np.array_equal(a, img) and a.dtype == np.uint8
    gray = TRANSFORMS.build(dict(type='RandomGrayscale', prob=1.0))(dict(img=img.copy()))['img']
    assert np.array_equal(gray[..., 0], gray[..., 2])
    # GaussianBlur with sigma fixed: torchvision's own kernel on the RGB image, returned as BGR
    import torch
    from torchvision.transforms.v2 import functional as tvf
    blur_op = TRANSFORMS.build(dict(type='GaussianBlur', kernel_size=3, sigma=(1.0, 1.0)))
    blur = blur_op(dict(img=img.copy()))['img']
    ref = tvf.gaussian_blur(torch.from_numpy(img[:, :, ::-1].copy()).permute(2, 0, 1), [3, 3], [1.0, 1.0])
    assert np.array_equal(blur, ref.permute(1, 2, 0).numpy()[:, :, ::-1])


def test_colour_jitter_works_on_rgb_like_torchvision():
    import torch
    from torchvision.transforms import v2
    img = (np.random.RandomState(1).rand(5, 7, 3) * 255).astype(np.uint8)
    jitter = TRANSFORMS.build(dict(type='ColorJitter', hue=0.3))
    np.random.seed(9)
    seed = int(np.random.randint(0, 2**31 - 1))          # the draw the transform makes
    np.random.seed(9)
    out = jitter(dict(img=img.copy()))['img']
    torch.manual_seed(seed)
    ref = v2.ColorJitter(hue=0.3)(torch.from_numpy(img[:, :, ::-1].copy()).permute(2, 0, 1))
    assert np.array_equal(out, ref.permute(1, 2, 0).numpy()[:, :, ::-1])        # BGR in, BGR out, RGB inside


def test_pillow_resize_backend():
    from PIL import Image
    img = (np.random.RandomState(0).rand(20, 30, 3) * 255).astype(np.uint8)
    label = (np.random.RandomState(1).rand(20, 30) * 19).astype(np.uint8)
    t = TRANSFORMS.build(dict(type='Resize', scale=(12, 8), interpolation='bicubic', backend='pillow'))
    out = t(dict(img=img.copy(), gt_seg_map=label.copy(), seg_fields=['gt_seg_map']))
    assert np.array_equal(out['img'], np.asarray(Image.fromarray(img).resize((12, 8), Image.BICUBIC)))
    nearest = np.asarray(Image.fromarray(label).resize((12, 8), Image.NEAREST))
    assert np.array_equal(out['gt_seg_map'], nearest)
    with pytest.raises(TypeError, match='uint8'):
        t(dict(img=img.astype(np.float32), seg_fields=[]))
    with pytest.raises(ValueError, match='backend'):
        TRANSFORMS.build(dict(type='Resize', scale=(12, 8), backend='pil'))


def test_random_resize_range():
    t = TRANSFORMS.build(dict(type='RandomResize', ratio_range=(0.5, 0.5)))
    out = t(dict(img=np.zeros((20, 40, 3), np.uint8), gt_seg_map=np.zeros((20, 40), np.uint8),
                 seg_fields=['gt_seg_map']))
    assert out['img'].shape == (10, 20, 3) and out['gt_seg_map'].shape == (10, 20)
    with pytest.raises(ValueError, match='ratio_range'):
        TRANSFORMS.build(dict(type='RandomResize', ratio_range=(1.5, 0.5)))
