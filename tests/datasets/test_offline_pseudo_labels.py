"""Offline target pseudo-labels as an extra field: dataset paths, LoadPseudoLabels through crop / flip / pad /
pack, kept by UDADataset, read by DACS (offline_pseudo_labels)."""
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from PIL import Image

from mmseg_procl.datasets import CityscapesDataset, SyntheticDrivingDataset, UDADataset
from mmseg_procl.datasets.transforms import PackSegInputs
from mmseg_procl.models.data_preprocessor import SegDataPreProcessor
from mmseg_procl.utils import register_all_modules

STEMS = ('aachen_000000_000019', 'aachen_000001_000019')


def write_tree(root, size=(32, 16)):
    """Two Cityscapes images (left half dark, right half bright) and pl2/train pseudo-labels (0 | 13)."""
    w, h = size
    for stem in STEMS:
        img_dir, pl_dir = root / 'leftImg8bit' / 'train' / 'aachen', root / 'pl2' / 'train' / 'aachen'
        img_dir.mkdir(parents=True, exist_ok=True)
        pl_dir.mkdir(parents=True, exist_ok=True)
        img = np.zeros((h, w, 3), np.uint8)
        img[:, w // 2:] = 200
        Image.fromarray(img).save(img_dir / f'{stem}_leftImg8bit.png')
        label = np.zeros((h, w), np.uint8)
        label[:, w // 2:] = 13
        Image.fromarray(label).save(pl_dir / f'{stem}_gtFine_labelTrainIds.png')
    return root


def target(root, pipeline):
    register_all_modules()
    return CityscapesDataset(data_root=str(root), data_prefix=dict(img_path='leftImg8bit/train',
                                                                   pseudo_label_path='pl2/train'), pipeline=pipeline)


def test_pseudo_labels_follow_crop_and_flip_and_are_padded_with_255(tmp_path):
    root = write_tree(tmp_path)
    ds = target(root, [dict(type='LoadImageFromFile'), dict(type='LoadPseudoLabels'),
                       dict(type='RandomCrop', crop_size=(12, 20)), dict(type='RandomFlip', prob=0.5),
                       dict(type='PackSegInputs')])
    assert ds.get_data_info(1)['pseudo_label_path'].endswith(f'pl2/train/aachen/{STEMS[1]}_gtFine_labelTrainIds.png')
    for seed in range(6):
        np.random.seed(seed)
        sample = ds[seed % 2]
        label = sample['data_samples'].pseudo_label.data[0]
        bright = sample['inputs'][0] == 200
        assert label.shape == (12, 20) and torch.equal(label == 13, bright)        # aligned with the image
        assert 'gt_sem_seg' not in sample['data_samples']
    batch = SegDataPreProcessor(size=(16, 24))(pseudo_collate([ds[0]]), True)
    padded = batch['data_samples'][0].pseudo_label.data[0]
    assert padded.shape == (16, 24) and (padded[12:] == 255).all() and (padded[:, 20:] == 255).all()


def test_missing_files_and_loader_without_paths_are_named(tmp_path):
    root = write_tree(tmp_path)
    (root / 'pl2' / 'train' / 'aachen' / f'{STEMS[1]}_gtFine_labelTrainIds.png').unlink()
    with pytest.raises(FileNotFoundError, match=f'1 of 2 images .* have no pseudo-label file, e.g. .*{STEMS[1]}'):
        target(root, [dict(type='PackSegInputs')])
    register_all_modules()
    plain = CityscapesDataset(data_root=str(root), data_prefix=dict(img_path='leftImg8bit/train'),
                              pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadPseudoLabels')])
    with pytest.raises(KeyError, match="has no pseudo-label file; set the dataset's data_prefix.pseudo_label_path"):
        plain[0]


def build_dacs(**uda):
    """The tiny MIC config's DACS without its masked stage, with ``uda`` overrides."""
    from mmengine.config import Config
    from mmseg_procl.apis.config_utils import compose_uda_model
    from mmseg_procl.registry import MODELS
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile('tests/fixtures/tiny_mic.py'))
    cfg.model.update(dict(masking=None, stages=None), **uda)
    cfg.model.model.data_preprocessor.size = None              # the 32 x 16 images as they are
    return MODELS.build(cfg.model)


def test_uda_dataset_keeps_them_and_dacs_reads_them(tmp_path):
    root = write_tree(tmp_path)
    uda = UDADataset(source=SyntheticDrivingDataset(style='source', num_samples=2, img_size=(32, 16), seed=3,
                                                    pipeline=[PackSegInputs()]),
                     target=target(root, [dict(type='LoadImageFromFile'), dict(type='LoadPseudoLabels'),
                                          dict(type='PackSegInputs')]))
    item = uda[1]
    assert torch.equal(item['target']['data_samples'].pseudo_label.data[0, 0], torch.tensor([0] * 16 + [13] * 16))
    algo = build_dacs(target_crop=dict(type='ClassBalancedCrop', crop_size=(8, 16), num_candidates=1,
                                         cat_max_ratio=1.0, regenerate=False))
    algo.ema_model.encode_decode = lambda x, m: torch.zeros(x.shape[0], 19, *x.shape[2:])
    batch = algo.data_preprocessor(pseudo_collate([uda[0], uda[1]]), True)
    np.random.seed(0)
    state = algo.iteration_state(batch)
    labels = state['offline_pseudo_labels']
    y1, y2, x1, x2 = state['target_pseudo']['boxes'][0]
    full = torch.zeros(16, 32, dtype=torch.long)
    full[:, 16:] = 13
    assert labels.shape == (2, 8, 16) and torch.equal(labels[0], full[y1:y2, x1:x2])
