"""File-based datasets: layouts, suffixes, split files and bad-input errors (docs/data.md §1)."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from mmseg_procl.datasets import (ACDCDataset, CityscapesDataset, DarkZurichDataset, GTADataset,
                                  SynthiaDataset)
from mmseg_procl.datasets.label_tables import CLASSES, PALETTE
from mmseg_procl.registry import DATASETS

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='PackSegInputs')]


def write_pair(img_path, seg_path, value):
    os.makedirs(os.path.dirname(img_path), exist_ok=True)
    os.makedirs(os.path.dirname(seg_path), exist_ok=True)
    cv2.imwrite(str(img_path), np.full((4, 6, 3), value, np.uint8))
    Image.fromarray(np.full((4, 6), value % 19, np.uint8)).save(seg_path)


@pytest.fixture
def gta_root(tmp_path):
    for i in (2, 1, 3):
        write_pair(tmp_path / 'images' / f'{i:05d}.png',
                   tmp_path / 'labels' / f'{i:05d}_labelTrainIds.png', i)
        # the original palette label beside the trainId file must not be picked up as a sample
        Image.fromarray(np.full((4, 6), 7, np.uint8)).save(tmp_path / 'labels' / f'{i:05d}.png')
    return tmp_path


def test_gta_dataset_lists_sorted_pairs_and_loads(gta_root):
    ds = GTADataset(data_root=str(gta_root), data_prefix=dict(img_path='images', seg_map_path='labels'),
                    pipeline=PIPELINE)
    assert len(ds) == 3
    info = ds.get_data_info(0)
    assert info['img_path'].endswith('images/00001.png')
    assert info['seg_map_path'].endswith('labels/00001_labelTrainIds.png')
    sample = ds[2]
    assert sample['inputs'].shape == (3, 4, 6) and int(sample['inputs'][0, 0, 0]) == 3
    assert int(sample['data_samples'].gt_sem_seg.data.unique()) == 3
    assert ds.metainfo['classes'] == CLASSES and ds.metainfo['palette'] == PALETTE


def test_cityscapes_recursive_scan_and_split_file(tmp_path):
    for split, city, frame in [('train', 'aachen', 19), ('train', 'bochum', 7), ('val', 'lindau', 1)]:
        stem = f'{city}_000000_{frame:06d}'
        write_pair(tmp_path / 'leftImg8bit' / split / city / f'{stem}_leftImg8bit.png',
                   tmp_path / 'gtFine' / split / city / f'{stem}_gtFine_labelTrainIds.png', frame)
    ds = CityscapesDataset(data_root=str(tmp_path),
                           data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'))
    assert [os.path.basename(ds.get_data_info(i)['seg_map_path']) for i in range(len(ds))] == [
        'aachen_000000_000019_gtFine_labelTrainIds.png', 'bochum_000000_000007_gtFine_labelTrainIds.png']
    (tmp_path / 'train.txt').write_text('bochum/bochum_000000_000007\n')
    ds = CityscapesDataset(data_root=str(tmp_path), ann_file='train.txt',
                           data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'))
    assert len(ds) == 1 and ds.get_data_info(0)['img_path'].endswith(
        'leftImg8bit/train/bochum/bochum_000000_000007_leftImg8bit.png')


def test_dark_zurich_without_labels_and_acdc_suffixes(tmp_path):
    d = tmp_path / 'rgb_anon' / 'train' / 'night' / 'GOPR0351'
    d.mkdir(parents=True)
    cv2.imwrite(str(d / 'GOPR0351_frame_000001_rgb_anon.png'), np.zeros((4, 6, 3), np.uint8))
    ds = DarkZurichDataset(data_root=str(tmp_path), data_prefix=dict(img_path='rgb_anon/train/night'),
                           pipeline=[dict(type='LoadImageFromFile'), dict(type='PackSegInputs')])
    assert len(ds) == 1 and not ds.has_labels
    assert 'gt_sem_seg' not in ds[0]['data_samples']
    write_pair(tmp_path / 'acdc' / 'rgb_anon' / 'val' / 'x_rgb_anon.png',
               tmp_path / 'acdc' / 'gt' / 'val' / 'x_gt_labelTrainIds.png', 5)
    ds = ACDCDataset(data_root=str(tmp_path / 'acdc'),
                     data_prefix=dict(img_path='rgb_anon/val', seg_map_path='gt/val'))
    assert ds.get_data_info(0)['seg_map_path'].endswith('gt/val/x_gt_labelTrainIds.png')


def test_synthia_suffixes_and_registry_build(tmp_path):
    write_pair(tmp_path / 'RGB' / '0000000.png', tmp_path / 'GT' / 'LABELS' / '0000000_labelTrainIds.png', 4)
    ds = DATASETS.build(dict(type='SynthiaDataset', data_root=str(tmp_path),
                             data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS')))
    assert isinstance(ds, SynthiaDataset) and len(ds) == 1


def test_missing_root_names_path_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        GTADataset(data_root=str(tmp_path / 'nowhere'),
                   data_prefix=dict(img_path='images', seg_map_path='labels'))
    assert str(tmp_path / 'nowhere' / 'images') in str(err.value)
    assert 'labels/NNNNN_labelTrainIds.png' in str(err.value)


def test_empty_image_folder_names_path(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'labels').mkdir()
    with pytest.raises(FileNotFoundError, match="no images ending with '.png' found under"):
        GTADataset(data_root=str(tmp_path), data_prefix=dict(img_path='images', seg_map_path='labels'))


def test_image_without_label_names_both_files(gta_root):
    os.remove(gta_root / 'labels' / '00002_labelTrainIds.png')
    with pytest.raises(FileNotFoundError) as err:
        GTADataset(data_root=str(gta_root), data_prefix=dict(img_path='images', seg_map_path='labels'))
    assert 'images/00002.png' in str(err.value) and '00002_labelTrainIds.png' in str(err.value)


def test_unknown_data_prefix_key_and_missing_split_file(gta_root):
    with pytest.raises(KeyError, match='seg_path'):
        GTADataset(data_root=str(gta_root), data_prefix=dict(img_path='images', seg_path='labels'))
    with pytest.raises(FileNotFoundError, match='split.txt'):
        GTADataset(data_root=str(gta_root), ann_file='split.txt',
                   data_prefix=dict(img_path='images', seg_map_path='labels'))


def test_raw_label_file_is_reported_when_loaded(gta_root):
    Image.fromarray(np.full((4, 6), 26, np.uint8)).save(gta_root / 'labels' / '00003_labelTrainIds.png')
    ds = GTADataset(data_root=str(gta_root), data_prefix=dict(img_path='images', seg_map_path='labels'),
                    pipeline=PIPELINE)
    with pytest.raises(ValueError, match=r'00003_labelTrainIds\.png.*\[26\]'):
        ds[2]
