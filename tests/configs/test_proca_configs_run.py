"""ProCA's configs chained at tiny scale on synthetic trees in the real layouts (GTA5 / SYNTHIA ->
Cityscapes): stage 1 trains 2 iterations, the prototype tool reads its checkpoint, stage 3 starts from that
segmentor checkpoint (loaded into the student, checked key by key) and the prototype files and trains 2
iterations, the pseudo-label tool labels the target training images, stage 4 trains 2 iterations on them.
The configs keep their segmentor (torchvision ResNet-101, ASPP), losses, optimiser and pipelines; only
image sizes, data roots and pretrained weights are changed."""
import glob
import os

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg_procl.engine.runner import SafeRunner as Runner

from mmseg_procl.apis import proca
from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.utils import register_all_modules
from test_uda_configs_run import ROOTS, make_trees

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCHMARKS = {'gta2cs': '1280x720', 'syn2cs': '1280x760'}


@pytest.fixture(scope='module')
def trees(tmp_path_factory):
    return make_trees(tmp_path_factory.mktemp('proca_trees'), (64, 32))


def shrink(pipeline):
    for t in pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (64, 32)
        if t['type'] == 'RandomResize':
            t['ratio_range'] = (1.0, 1.5)
        if t['type'] == 'RandomCrop':
            t['crop_size'] = (32, 32)


def tiny(path, trees, work_dir, **options):
    cfg = compose_uda_model(Config.fromfile(path))
    cfg.merge_from_dict(options)
    segmentor = cfg.model.get('model', cfg.model)
    segmentor.backbone.pop('init_cfg', None)
    loader = cfg.train_dataloader
    datasets = [loader.dataset.source, loader.dataset.target] if loader.dataset.type == 'UDADataset' \
        else [loader.dataset]
    cfg.test_dataloader = cfg.val_dataloader
    for dataset in datasets + [cfg.val_dataloader.dataset]:
        dataset.data_root = str(trees / ROOTS[dataset.type])
        shrink(dataset.pipeline)
    if loader.sampler.type == 'ClassBalancedSampler':
        loader.sampler.update(num_draws=20, sub_epoch_size=10)
    if loader.dataset.get('class_balanced_source'):
        loader.dataset.class_balanced_source.update(num_draws=20, sub_epoch_size=10)
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.num_workers, loader.persistent_workers = 0, False
    cfg.train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=2, val_interval=100)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.work_dir = str(work_dir)
    return cfg


def config(kind, shift):
    size = '512x1024' if kind == 'proca-ssl' else BENCHMARKS[shift]
    iters = {'proca-src': '4xb2-20k', 'proca': '4xb1-90k', 'proca-ssl': '4xb2-90k'}[kind]
    return os.path.join(REPO, 'configs', 'proca', f'{kind}_dlv2-r101v1b_{iters}_{shift}-{size}.py')


@pytest.mark.parametrize('shift', sorted(BENCHMARKS))
def test_proca_stages_chain(shift, trees, tmp_path):
    register_all_modules()
    classes = 16 if shift == 'syn2cs' else 19
    src_cfg = tiny(config('proca-src', shift), trees, tmp_path / 'src')
    runner = Runner.from_cfg(src_cfg)
    runner.train()
    assert len(runner.train_dataloader.sampler) == 30                   # ProCA's class-balanced list
    scalars = runner.message_hub.log_scalars
    assert 0 < scalars['train/decode.loss_lovasz'].current() < 0.75       # 0.75 x a Lovasz value in [0, 1]
    assert runner.model.decode_head.num_classes == classes
    stage1 = str(tmp_path / 'src' / 'iter_2.pth')
    feat, out = proca.init_prototypes(src_cfg, stage1, str(tmp_path / 'protos'))
    assert feat.mean.shape == (classes, 2048) and out.mean.shape == (classes, classes)
    assert feat.count.sum() > 0
    adapt_cfg = tiny(config('proca', shift), trees, tmp_path / 'adapt', load_from=stage1)
    for name, file in (('proca_feat', 'prototype_feat_dist.pth'), ('proca_out', 'prototype_out_dist.pth')):
        adapt_cfg.model.prototype_sources[name].init_file = str(tmp_path / 'protos' / file)
    runner = Runner.from_cfg(adapt_cfg)
    runner.load_or_resume()
    assert len(runner.train_dataloader.dataset.balanced_sources) == 30
    student = runner.model.model.state_dict()
    stage1_state = torch.load(stage1, weights_only=True)['state_dict']
    assert all(torch.equal(student[k], v) for k, v in stage1_state.items())     # the student = stage 1
    assert torch.equal(runner.model.prototype_sources['proca_feat'].mean, feat.mean)
    runner.train()
    scalars = runner.message_hub.log_scalars
    for key in ('train/src.decode.loss_seg', 'train/src.decode.loss_lovasz', 'train/tgt.loss_feat',
                'train/tgt.loss_out'):
        assert 0 < scalars[key].current() < 10, key
    assert runner.model.prototype_sources['proca_feat'].count.sum() > feat.count.sum()   # updated
    labels = str(tmp_path / 'pl')
    summary = proca.make_pseudo_labels(adapt_cfg, str(tmp_path / 'adapt' / 'iter_2.pth'), labels)
    written = sorted(glob.glob(os.path.join(labels, '*', '*_gtFine_labelTrainIds.png')))
    assert summary['images'] == len(written) == 3 and len(summary['thresholds']) == classes
    values = np.unique(np.concatenate([cv2.imread(p, cv2.IMREAD_UNCHANGED).ravel() for p in written]))
    assert set(values.tolist()) <= set(range(19)) | {255}
    if shift == 'syn2cs':                              # 16-class ids written as Cityscapes train ids
        assert not set(values.tolist()) & {9, 14, 16}
    ssl_cfg = tiny(config('proca-ssl', shift), trees, tmp_path / 'ssl',
                   **{'train_dataloader.dataset.data_prefix.seg_map_path': labels})
    runner = Runner.from_cfg(ssl_cfg)
    runner.train()
    assert 'train/decode.loss_lovasz' not in runner.message_hub.log_scalars    # CE only
    assert runner.iter == 2
