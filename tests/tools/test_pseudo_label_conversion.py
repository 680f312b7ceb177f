"""Offline pseudo-label converter: palette -> train ids (both sky colours, no-label colours), layouts, errors,
and the output read back by CityscapesDataset (datasets/pseudo_label_conversion.py)."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import tool_runs
from mmseg_procl.datasets.label_tables import PALETTE
from mmseg_procl.datasets.pseudo_label_conversion import colour_to_train_ids, convert_colour_pseudo_labels


def colour_label(ids):
    """RGB image of a train-id map (255 -> white)."""
    rgb = np.full(ids.shape + (3,), 255, np.uint8)
    for i, colour in enumerate(PALETTE):
        rgb[ids == i] = colour
    return rgb


def test_palette_to_train_ids_by_hand():
    ids = np.arange(20, dtype=np.uint8).reshape(4, 5)
    ids[ids == 19] = 255
    rgb = colour_label(ids)
    rgb[3, 3] = (0, 130, 180)                 # sky as PCPR / CBST draw it
    rgb[3, 2] = (0, 0, 0)                     # black: no label
    expected = ids.copy()
    expected[3, 3], expected[3, 2] = 10, 255
    assert np.array_equal(colour_to_train_ids(rgb, 'x.png'), expected)
    assert tuple(PALETTE[10]) == (70, 130, 180)       # the official sky colour maps to 10 as well
    rgb[0, 0] = (1, 2, 3)
    with pytest.raises(ValueError, match=r'x.png: 1 pixels have colours outside the Cityscapes palette, e.g. '
                                         r'\[\(1, 2, 3\)\]'):
        colour_to_train_ids(rgb, 'x.png')


def test_sam_files_to_the_cityscapes_layout_and_read_back(tmp_path):
    from mmseg_procl.datasets import CityscapesDataset
    ids = np.zeros((8, 16), np.uint8)
    ids[:, 8:] = 13
    src = tmp_path / 'PSA'
    src.mkdir()
    Image.fromarray(colour_label(ids)).save(src / 'erfurt_000033_000019_leftImg8bit_sam_vit_h.png')
    img_dir = tmp_path / 'cityscapes' / 'leftImg8bit' / 'train' / 'erfurt'
    img_dir.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 16, 3), np.uint8)).save(img_dir / 'erfurt_000033_000019_leftImg8bit.png')
    dst = tmp_path / 'cityscapes' / 'pl2' / 'train'
    assert convert_colour_pseudo_labels(str(src), str(dst), layout='cityscapes') == 1
    ds = CityscapesDataset(data_root=str(tmp_path / 'cityscapes'),
                           data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='pl2/train'),
                           pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                                     dict(type='PackSegInputs')])
    assert np.array_equal(ds[0]['data_samples'].gt_sem_seg.data[0].numpy(), ids)
    with pytest.raises(FileExistsError, match='1 outputs exist already'):
        convert_colour_pseudo_labels(str(src), str(dst), layout='cityscapes')
    Image.fromarray(colour_label(ids)).save(src / 'pseudo_0001.png')
    with pytest.raises(ValueError, match='pseudo_0001.png: layout=cityscapes needs names starting with a Cityscapes'):
        convert_colour_pseudo_labels(str(src), str(dst), layout='cityscapes', overwrite=True)


def test_cli_keep_layout_and_errors(tmp_path):
    src = tmp_path / 'pl' / 'train' / 'aachen'
    src.mkdir(parents=True)
    ids = np.full((4, 4), 8, np.uint8)
    Image.fromarray(colour_label(ids)).save(src / 'aachen_000000_000019_gtFine_labelTrainIds.png')
    tool = [sys.executable, 'tools/convert_datasets/pseudo_labels.py']
    out = tool_runs.run(tool + [str(tmp_path / 'pl' / 'train'), str(tmp_path / 'pl2' / 'train')])
    assert 'wrote 1 train-id pseudo-labels' in out
    written = np.array(Image.open(tmp_path / 'pl2' / 'train' / 'aachen' / 'aachen_000000_000019_gtFine_labelTrainIds.png'))
    assert np.array_equal(written, ids)
    bad = subprocess.run(tool + [str(tmp_path / 'none'), str(tmp_path / 'x')], cwd=tool_runs.REPO,
                         capture_output=True, text=True, env=tool_runs.ENV)
    assert bad.returncode == 1 and 'none: folder of colour pseudo-labels does not exist' in bad.stderr
