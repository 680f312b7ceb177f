"""Every DACS / DAFormer / CLIP-ProCL / SePiCo / cross config trains 2 iterations at tiny scale on
synthetic trees in the real layouts.

The configs keep their algorithm, objectives (FD, alignment, prompt learning, CLIP distillation),
segmentor (incl. the full-size CLIP RN101 towers) and RCS; only the data roots, image scales, crop
sizes and RCS pixel threshold are shrunk, and pretrained weights (ImageNet, CLIP) are stripped.
"""
import glob
import os

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.datasets.conversion import convert_cityscapes, convert_gta, convert_synthia
from mmseg_procl.datasets.label_tables import SYNTHIA_ID_TO_TRAINID, build_lut, cityscapes_id_to_trainid
from mmseg_procl.datasets.synthetic_export import export_synthetic
from mmseg_procl.datasets.synthetic_scenes import render_scene
from mmseg_procl.utils import register_all_modules
from dark_zurich_tree import write_dark_zurich_tree
from loss_traces import check_trace, hub_trace

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METHOD_DIRS = ('dacs', 'daformer', 'clip_procl', 'sepico', 'cross', 'hrda', 'mic', 'pcpr')
HRDA_TYPES = ('HRDAEncoderDecoder', 'CLIPHRDAEncoderDecoder', 'PCPREncoderDecoder')
CONFIGS = sorted(p for d in METHOD_DIRS for p in glob.glob(os.path.join(REPO, 'configs', d, '*.py')))
ROOTS = {'GTADataset': 'gta', 'SynthiaDataset': 'synthia', 'CityscapesDataset': 'cityscapes',
         'DarkZurichDataset': 'dark_zurich', 'ACDCDataset': 'acdc'}


def write_synthia_tree(root, num, size=(64, 32)):
    """SYNTHIA-RAND-CITYSCAPES layout: RGB/*.png, 16-bit GT/LABELS/*.png with the id in red."""
    to_synthia = np.zeros(256, np.uint16)                  # train id -> SYNTHIA id (255 -> 0 void)
    for sid, tid in SYNTHIA_ID_TO_TRAINID.items():
        to_synthia[tid] = sid
    lut = build_lut(cityscapes_id_to_trainid())
    os.makedirs(root / 'RGB'), os.makedirs(root / 'GT' / 'LABELS')
    for i in range(num):
        img, ids = render_scene('source', 100 + i, size)
        gt = np.zeros(ids.shape + (3,), np.uint16)
        gt[..., 2] = to_synthia[lut[ids]]
        gt[..., 0] = 7                                      # instance channel junk
        cv2.imwrite(str(root / 'RGB' / f'{i:07d}.png'), img)
        cv2.imwrite(str(root / 'GT' / 'LABELS' / f'{i:07d}.png'), gt)


def write_acdc_tree(root, num, size=(64, 32)):
    """ACDC layout (conditions flattened): rgb_anon/{train,val}/*_rgb_anon.png, gt/val labels."""
    lut = build_lut(cityscapes_id_to_trainid())
    for split in ('train', 'val'):
        os.makedirs(root / 'rgb_anon' / split)
        os.makedirs(root / 'gt' / split)
        for i in range(num):
            img, ids = render_scene('target', 300 + i, size)
            stem = f'GOPR0400_frame_{i:06d}'
            cv2.imwrite(str(root / 'rgb_anon' / split / f'{stem}_rgb_anon.png'), img)
            cv2.imwrite(str(root / 'gt' / split / f'{stem}_gt_labelTrainIds.png'), lut[ids])


def make_trees(root, size):
    """Every benchmark layout with synthetic scenes of ``size`` (W, H), converted."""
    export_synthetic(str(root / 'gta'), 'source', 4, size, 0)
    export_synthetic(str(root / 'cityscapes'), 'target', 4, size, 1, val_fraction=0.25)
    write_synthia_tree(root / 'synthia', 4, size)
    write_dark_zurich_tree(root / 'dark_zurich', 2, size)
    write_acdc_tree(root / 'acdc', 2, size)
    convert_gta(str(root / 'gta'))
    convert_cityscapes(str(root / 'cityscapes'))
    convert_synthia(str(root / 'synthia'))
    for path in glob.glob(str(root / 'cityscapes' / 'gtFine' / 'train' / '*' / '*_labelTrainIds.png')):
        offline = path.replace(os.sep + 'gtFine' + os.sep, os.sep + 'pl2' + os.sep)   # PCPR's offline labels
        os.makedirs(os.path.dirname(offline), exist_ok=True)
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        label[:, : label.shape[1] // 4] = 255                                        # pixels without one
        cv2.imwrite(offline, label)
    return root


@pytest.fixture(scope='module')
def trees(tmp_path_factory):
    return make_trees(tmp_path_factory.mktemp('trees'), (64, 32))


@pytest.fixture(scope='module')
def trees_hr(tmp_path_factory):
    """128 x 64 scenes for HRDA, whose 0.5-scale context of a 64 x 64 crop must stay >= 32 px."""
    return make_trees(tmp_path_factory.mktemp('trees_hr'), (128, 64))


def shrink_pipeline(pipeline, scale=(64, 32), crop=(32, 32)):
    for t in pipeline:
        if t['type'] == 'Resize':
            t['scale'] = scale
        if t['type'] == 'RandomCrop':
            t['crop_size'] = crop
        if t['type'] == 'PseudoLabelMargins':
            t['margins'] = (1, 4, 1, 1)


def shrink_hrda(cfg):
    """HRDA at 64 x 64 crops of the 128 x 64 scenes (its 0.5-scale context must stay >= 32 px for MiT):
    detail crops 32, outer test windows 64 / stride 32.  Returns the image scale and crop."""
    segmentor = cfg.model.model
    segmentor.data_preprocessor.size = (64, 64)
    segmentor.hr_crop_size = (32, 32)
    segmentor.test_cfg = dict(mode='slide', batched_slide=True, stride=(32, 32), crop_size=(64, 64))
    return (128, 64), (64, 64)


def tiny(cfg, trees, work_dir):
    cfg = compose_uda_model(cfg)
    cfg.model.model.backbone.pop('init_cfg', None)
    cfg.model.model.data_preprocessor.size = (32, 32)
    if cfg.model.get('masking'):
        cfg.model.masking.mask_block_size = 8
    hrda = cfg.model.model.type in HRDA_TYPES
    scale, crop = shrink_hrda(cfg) if hrda else ((64, 32), (32, 32))
    if cfg.model.get('target_crop'):                        # SePiCo: uncropped targets, CBC crops
        cfg.model.model.data_preprocessor.size = None
        cfg.model.target_crop.crop_size = crop
    for objective in cfg.model.objectives:
        objective.start_iter = 0                            # SePiCo's contrast from iteration 0
    if 'clip_weights' in cfg.model.model:
        cfg.model.model.clip_weights = None
    for objective in cfg.model.objectives:
        objective.get('backbone', {}).pop('init_cfg', None)
        if 'clip_weights' in objective:
            objective.clip_weights = None
    uda = cfg.train_dataloader.dataset
    cfg.test_dataloader = cfg.val_dataloader
    for dataset in (uda.source, uda.target, cfg.val_dataloader.dataset):
        dataset.data_root = str(trees / ROOTS[dataset.type])
        shrink_pipeline(dataset.pipeline, scale, crop)
    if uda.get('rare_class_sampling'):
        uda.rare_class_sampling.min_pixels = 0     # tiny images: every file holding a class qualifies
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.val_dataloader.num_workers = 0
    cfg.val_dataloader.persistent_workers = False
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
    cfg.default_hooks.checkpoint.interval = 100
    cfg.default_hooks.checkpoint.save_last = False     # GB-sized CLIP checkpoints are tested elsewhere
    cfg.work_dir = str(work_dir)
    return cfg


@pytest.mark.parametrize('path', CONFIGS, ids=[os.path.basename(p) for p in CONFIGS])
def test_two_iterations(path, request, tmp_path):
    register_all_modules()
    cfg = Config.fromfile(path)
    trees = request.getfixturevalue('trees_hr' if cfg.model.type in HRDA_TYPES else 'trees')
    runner = Runner.from_cfg(tiny(cfg, trees, tmp_path))
    runner.train()
    scalars = runner.message_hub.log_scalars
    assert runner.iter == 2 and runner.model.local_iter == 2
    check_trace(os.path.basename(path), hub_trace(runner.message_hub))
    for key in ('train/src.decode.loss_seg', 'train/mix.decode.loss_seg'):
        assert 0 < scalars[key].current() < 10
    name = os.path.basename(path)
    if ('daformer' in name or name.startswith(('hrda', 'mic', 'clip-procl+mic'))) and not name.startswith('sepico'):
        fd = scalars['train/src.loss_imnet_feat_dist'].current()
        assert fd >= 0 and fd == fd                                 # finite, 0 without thing pixels
    if name.startswith(('hrda', 'mic-hrda', 'sepico-distcl_hrda', 'clip-procl+mic_hrda', 'pcpr')):
        assert 0 < scalars['train/src.decode.hr.loss_seg'].current() < 1    # 0.1 * detail CE
    if name.startswith(('mic', 'clip-procl+mic', 'pcpr')):
        assert 0 <= scalars['train/masked.decode.loss_seg'].current() < 10
    if name.startswith('pcpr'):
        check_pcpr_run(name, runner, scalars)
    if name.startswith('sepico'):
        assert 'train/src.loss_imnet_feat_dist' not in scalars      # SePiCo has no ImageNet FD
    if name.startswith(('clip_procl', 'clip-procl')):
        for key in ('src.loss_align', 'mix.loss_align', 'src.loss_prompt', 'mix.loss_prompt'):
            assert 0 < scalars['train/' + key].current() < 10, key
    if name.endswith('60k_cs2dz-640x640.py'):                          # SePiCo's Dark Zurich variant
        assert type(runner.model.pseudo_labeller).__name__ == 'DayNightPseudoLabeller'
        assert len(runner.train_dataloader.dataset.day_partners.paths) == 2
        assert runner.model.model.test_prior is not None
    if name.endswith('imgdistill.py'):
        assert 0 < scalars['train/src.loss_clip_feat_dist'].current() <= 2      # 1 - cos
    if 'sepico' in name:
        # tau = 100: near-uniform logits, CE ~ log 19 = 2.94, regulariser ~ -1
        assert 1.5 < scalars['train/src.loss_contrast'].current() < 2.5
        assert scalars['train/tgt.loss_contrast'].current() >= 0
        stats = runner.model.prototype_sources['source_stats']
        assert stats.count.sum() > 0 and stats.mean.abs().sum() > 0       # teacher source statistics


def check_pcpr_run(name, runner, scalars):
    """PCPR: the losses of the reconstructed parts its config switches on, the filter, the class-aware
    crop."""
    algo = runner.model
    assert type(algo.model).__name__ == 'PCPREncoderDecoder' and algo.model.detail_crop == 'class_aware'
    assert (algo.label_filter is None) == ('no-filter' in name)
    for key, off in (('loss_proto_contrast', 'no-contrast'), ('loss_proto_consistency', 'no-consistency')):
        for stage in ('src', 'mix'):
            if off in name:
                assert f'train/{stage}.{key}' not in scalars
            else:
                assert 0 < scalars[f'train/{stage}.{key}'].current() < 10, key
    assert 'train/src.loss_imnet_feat_dist' in scalars


def test_all_uda_configs_are_covered():
    names = {os.path.basename(p) for p in glob.glob(os.path.join(REPO, 'configs', '*', '*.py'))
             if os.path.basename(os.path.dirname(p)) in METHOD_DIRS}
    assert len(names) == 40 and {os.path.basename(p) for p in CONFIGS} == names
