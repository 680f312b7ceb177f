"""Parameter-wise optimizer rules of configs/_base_/schedules/adamw.py (docs/methods.md §1.1 item 8, 1.7)."""
import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmseg_procl.registry import MODELS
from mmseg_procl.utils import register_all_modules

register_all_modules()


@pytest.fixture(scope='module')
def groups():
    cfg = Config.fromfile('configs/demo/source_only_synthetic.py')
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, Config.fromfile('configs/_base_/schedules/adamw.py').optim_wrapper)
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(g['params'][0])]: g for g in wrapper.optimizer.param_groups}


@pytest.mark.parametrize('name, lr, wd', [
    ('decode_head.conv_seg.weight', 6e-4, 0.01),                       # head: lr x10
    ('decode_head.fuse_layer.bottleneck.bn.weight', 6e-4, 0.01),       # 'head' wins over 'norm'
    ('backbone.block1.0.norm1.weight', 6e-5, 0.0),                     # MiT LayerNorm: no decay
    ('backbone.patch_embed1.norm.bias', 6e-5, 0.0),
    ('backbone.block2.0.attn.norm.weight', 6e-5, 0.0),
    ('backbone.block1.0.attn.q.weight', 6e-5, 0.01),                   # everything else: base
])
def test_rule_per_parameter(groups, name, lr, wd):
    assert groups[name]['lr'] == pytest.approx(lr) and groups[name]['weight_decay'] == pytest.approx(wd)


def test_one_group_per_parameter(groups):
    assert all(len(g['params']) == 1 for g in groups.values())
