"""WDASS's configs (point / coarse / image labels, GTA5 -> Cityscapes) and its demo train 2 iterations at tiny
scale on synthetic trees in the real layouts, the weak labels written by the converter's functions (points
drawn from the ground truth; "coarse" maps = the ground truth with its borders removed).  The paper configs
keep their segmentor (torchvision ResNet-101, ASPP 12-48, representation head), losses, optimiser and
pipelines; image sizes, data roots, batch size and pretrained weights are changed, and the contrast and
image-level terms start at iteration 0 so that every term trains."""
import glob
import os

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.datasets.weak_labels import WEAK_SUFFIX, sample_points
from mmseg_procl.engine.runner import SafeRunner as Runner
from mmseg_procl.utils import register_all_modules
from test_proca_configs_run import shrink
from test_uda_configs_run import ROOTS, make_trees

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINDS = ('point', 'coarse', 'image')


@pytest.fixture(scope='module')
def trees(tmp_path_factory):
    root = make_trees(tmp_path_factory.mktemp('wdass_trees'), (64, 32))
    rng = np.random.default_rng(0)
    for path in glob.glob(str(root / 'cityscapes' / 'gtFine' / 'train' / '*' / '*_gtFine_labelTrainIds.png')):
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        city, name = path.split(os.sep)[-2:]
        stem = name[:-len('_gtFine_labelTrainIds.png')]
        points = np.full_like(label, 255)
        for row, col, c in sample_points(label, rng):
            points[row, col] = c
        coarse = np.full_like(label, 255)
        coarse[4:-4, 4:-4] = label[4:-4, 4:-4]
        for folder, weak in (('weak_point', points), ('weak_coarse', coarse)):
            os.makedirs(root / 'cityscapes' / folder / 'train' / city, exist_ok=True)
            cv2.imwrite(str(root / 'cityscapes' / folder / 'train' / city / f'{stem}{WEAK_SUFFIX}'), weak)
    return root


def tiny_config(path, work_dir, trees=None):
    cfg = compose_uda_model(Config.fromfile(path))
    cfg.model.model.backbone.pop('init_cfg', None)
    cfg.model.model.data_preprocessor.size = None
    cfg.model.data_preprocessor = None
    for objective in cfg.model.objectives:
        objective.start_iter = 0
    loader = cfg.train_dataloader
    loader.batch_size, loader.num_workers, loader.persistent_workers = 2, 0, False
    cfg.val_dataloader.num_workers, cfg.val_dataloader.persistent_workers = 0, False
    if trees is not None:
        for dataset in (loader.dataset.source, loader.dataset.target, cfg.val_dataloader.dataset):
            dataset.data_root = str(trees / ROOTS[dataset.type])
            shrink(dataset.pipeline)
            for t in dataset.pipeline:
                if t['type'] == 'Pad':
                    t['size'] = (32, 32)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=2, val_interval=100)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.work_dir = str(work_dir)
    return cfg


def train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


@pytest.mark.parametrize('kind', KINDS)
def test_wdass_config_trains_two_iterations(kind, trees, tmp_path):
    register_all_modules()
    path = os.path.join(REPO, 'configs', 'wdass', f'wdass-{kind}_dlv2-r101v1b_b4-150k_gta2cs-512x512.py')
    cfg = tiny_config(path, tmp_path, trees)
    runner = train(cfg)
    algorithm = runner.model
    assert algorithm.local_iter == 2 and algorithm.weak_label == kind
    real = algorithm.prototype_sources.real_prototypes.value
    assert real.shape == (19, 256) and algorithm.prototype_sources.synthetic_prototypes.value.abs().sum() > 0
    state = torch.load(str(tmp_path / 'iter_2.pth'), map_location='cpu', weights_only=True)['state_dict']
    assert torch.equal(state['prototype_sources.real_prototypes.value'], real)       # saved with the model
    groups = runner.optim_wrapper.optimizer.param_groups                               # WDASS's groups
    names = {id(p): n for n, p in algorithm.named_parameters()}
    by_name = {names[id(g['params'][0])]: (g['initial_lr'], g['weight_decay']) for g in groups}
    assert by_name['model.backbone.layer1.0.conv1.weight'] == (0.0025, 1e-4)
    assert by_name['model.backbone.layer1.0.bn1.bias'] == (0.0025, 0.0)
    assert by_name['model.decode_head.aspp_modules.2.conv.weight'] == (0.025, 1e-4)
    assert by_name['model.decode_head.aspp_modules.2.conv.bias'] == (0.025, 0.0)
    assert by_name['model.auxiliary_head.convs.0.conv.bias'] == (0.025, 0.0)


def test_wdass_demo_config_trains_two_iterations(trees, tmp_path):
    """The demo, its on-disk target scenes replaced by the tiny Cityscapes tree with the same point layout."""
    register_all_modules()
    cfg = tiny_config(os.path.join(REPO, 'configs', 'demo', 'wdass_point_synthetic.py'), tmp_path)
    cfg.train_dataloader.dataset.target.data_root = str(trees / 'cityscapes')
    for dataset in (cfg.train_dataloader.dataset.source, cfg.val_dataloader.dataset):
        dataset.img_size, dataset.num_samples = (64, 32), 4
    runner = train(cfg)
    assert runner.model.local_iter == 2
    assert runner.model.prototype_sources.real_prototypes.value.shape == (19, 128)
