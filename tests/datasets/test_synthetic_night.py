"""The synthetic day -> night shift in the Dark Zurich layout, and both night demo configs training 2 tiny
iterations on it (configs/demo/dacs_night_synthetic.py, sepico_dark_synthetic.py)."""
import csv
import os

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.datasets.synthetic_night import DAY_SHIFT, export_synthetic_dark_zurich, night_look
from mmseg_procl.datasets.synthetic_scenes import render_scene, scene_seed
from mmseg_procl.utils import register_all_modules

import tool_runs


@pytest.fixture(scope='module')
def night_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp('night')
    summary = export_synthetic_dark_zurich(str(root), num=6, size=(64, 32), seed=2, val_fraction=0.34, num_test=1)
    assert summary == dict(out_dir=str(root), train=4, val=2, test=1)
    return root


def test_layout_pairs_and_night_look(night_tree):
    rows = list(csv.reader(open(night_tree / 'corresp' / 'train' / 'night' / 'GOPR0001.csv')))
    assert rows[1] == ['train/night/GOPR0001/GOPR0001_frame_000001', 'train/day/GOPR0002/GOPR0002_frame_000001']
    assert len(rows) == 4
    day = cv2.imread(str(night_tree / 'rgb_anon/train/day/GOPR0002/GOPR0002_frame_000001_rgb_anon.png'))
    night = cv2.imread(str(night_tree / 'rgb_anon/train/night/GOPR0001/GOPR0001_frame_000001_rgb_anon.png'))
    scene, _ = render_scene('target', scene_seed(2, 1), (64, 32))
    assert np.array_equal(day, np.roll(scene, DAY_SHIFT, axis=1))        # the day partner, shifted
    assert np.array_equal(night, night_look(scene, np.random.default_rng([2, 1, 7])))
    assert night.mean() < 0.6 * day.mean()                               # darker
    gt = cv2.imread(str(night_tree / 'gt/val/night/GOPR0003/GOPR0003_frame_000004_gt_labelTrainIds.png'), 0)
    assert gt.shape == (32, 64) and set(np.unique(gt)) <= set(range(19)) | {255}
    assert os.listdir(night_tree / 'rgb_anon/test/night/GOPR0004') == ['GOPR0004_frame_000006_rgb_anon.png']
    with pytest.raises(ValueError, match='num_test must be an int >= 0, got -2'):
        export_synthetic_dark_zurich(str(night_tree / 'x'), num=6, size=(64, 32), seed=2, num_test=-2)
    with pytest.raises(FileExistsError, match='is not empty'):
        export_synthetic_dark_zurich(str(night_tree), num=6, size=(64, 32), seed=2)


@pytest.mark.parametrize('name', ['dacs_night_synthetic', 'sepico_dark_synthetic'])
def test_night_demo_configs_train_two_tiny_iterations(name, night_tree, tmp_path):
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile(os.path.join(tool_runs.REPO, 'configs', 'demo', f'{name}.py')))
    uda = cfg.train_dataloader.dataset
    uda.source.update(num_samples=4, img_size=(64, 32))
    for dataset in (uda.target, cfg.val_dataloader.dataset):
        dataset.data_root = str(night_tree)
    if name.startswith('sepico'):
        uda.source.pipeline[0].crop_size = (32, 32)
        cfg.model.target_crop.crop_size = (32, 32)
        cfg.model.objectives[0].start_iter = 0
    else:
        cfg.model.model.data_preprocessor.size = (32, 64)
        cfg.model.pseudo_labeller.update(ignore_top=1, ignore_bottom=2)
    cfg.test_dataloader = cfg.val_dataloader
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.update(num_workers=0, persistent_workers=False)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint.interval = 100
    cfg.default_hooks.checkpoint.save_last = False
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h.type != 'UDADebugHook']
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    scalars = runner.message_hub.log_scalars
    assert runner.iter == 2 and 0 < scalars['train/src.decode.loss_seg'].current() < 10
    assert 0 <= scalars['val/mIoU'].current() <= 100
    if name.startswith('sepico'):
        assert type(runner.model.pseudo_labeller).__name__ == 'DayNightPseudoLabeller'
        assert runner.model.model.test_prior is not None and runner.train_dataloader.dataset.day_partners
        assert 'train/mix.decode.loss_seg' in scalars and 'train/src.loss_contrast' in scalars
