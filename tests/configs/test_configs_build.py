"""Every config under configs/ parses, and its model and pipelines build with weights stripped."""
import glob
import os

import pytest
import torch
from mmengine.config import Config

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.registry import DATASETS, MODELS, TRANSFORMS
from mmseg_procl.utils import register_all_modules

register_all_modules()
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(p for p in glob.glob(os.path.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if f'{os.sep}_base_{os.sep}' not in p)
PARAMS = {'dlv2red-r101': 43_219_846, 'daformer-mitb5': 85_155_283}


def strip_weights(cfg):
    segmentor = cfg.model.get('model', cfg.model)
    segmentor.backbone.pop('init_cfg', None)
    segmentor.backbone.pop('pretrained', None)
    for objective in cfg.model.get('objectives', []):
        objective.get('backbone', {}).pop('init_cfg', None)
    for source in cfg.model.get('prototype_sources', {}).values():
        if 'init_file' in source:
            source.init_file = None                   # ProCA's prototypes come from an earlier stage


@pytest.mark.parametrize('path', CONFIGS, ids=[os.path.relpath(p, REPO) for p in CONFIGS])
def test_config_builds(path):
    cfg = compose_uda_model(Config.fromfile(path))
    strip_weights(cfg)
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    segmentor = getattr(model, 'model', model)       # the student of a UDA algorithm
    for key, count in PARAMS.items():
        if key in os.path.basename(path):             # backbone + decode head (CLIP parts aside)
            parts = (segmentor.backbone, segmentor.decode_head)
            assert sum(p.numel() for m in parts for p in m.parameters()) == count
    datasets = [cfg.val_dataloader.dataset, cfg.test_dataloader.dataset]
    train = cfg.train_dataloader.dataset
    datasets += [train.source, train.target] if train.type == 'UDADataset' else [train]
    for dataset in datasets:
        assert DATASETS.get(dataset.type) is not None
        for t in dataset.pipeline:
            TRANSFORMS.build(t)
    assert cfg.default_scope == 'mmseg_procl'


def test_every_method_family_has_configs():
    names = [os.path.basename(p) for p in CONFIGS]
    assert 'source_only_synthetic.py' in names
    assert sum(n.startswith('source-only_') for n in names) >= 7
