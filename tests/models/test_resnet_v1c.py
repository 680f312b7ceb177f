"""ResNetV1c: mmseg state-dict names/shapes, DeepLabV2-red size, dilations, checkpoint loading."""
import hashlib
import json
import os

import pytest
import torch
from torch import nn

from mmseg_procl.models.backbones import ResNetV1c
from mmseg_procl.models.backbones.resnet_checkpoint import convert_resnet_v1c_state_dict
from mmseg_procl.models.decode_heads import DLV2Head
from mmseg_procl.registry import MODELS
from mmseg_procl.errors import CheckpointError

# copy of shared/reference/original_state_dicts.json (original state-dict keys and shapes)
REFERENCE_JSON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              'fixtures', 'original_state_dicts.json')
# Digest of the sorted 'key:[shape]' lines of the backbone.* entries (prefix removed) of the
# original CLIP-ProCL checkpoint in original_state_dicts.json: 636 entries, 42,624,970 elements
# (BN buffers included).
R101_KEYS_SHA256 = '28e97d3ebe945ac9f8557c3805fc49780668f004cc06f0fcd0589df2dcece8b5'
R101_PARAMS = 42_519_392
DEEPLABV2RED_R101_PARAMS = 43_219_846


def shape_lines_digest(shapes: dict) -> str:
    """sha256 of the sorted ``key:[d0, d1, ...]`` lines."""
    lines = '\n'.join(f'{k}:{list(v)}' for k, v in sorted(shapes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


@pytest.fixture(scope='module')
def r101():
    """ResNetV1c-101 D8 in eval mode."""
    return ResNetV1c(depth=101).eval()


@pytest.fixture(scope='module')
def r50_source():
    """ResNetV1c-50 with every parameter and BN buffer randomised (eval mode)."""
    torch.manual_seed(0)
    model = ResNetV1c(depth=50)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith('num_batches_tracked'):
                tensor.fill_(7)
            elif name.endswith('running_var'):
                tensor.uniform_(0.5, 1.5)
            else:
                tensor.normal_(0.0, 0.05)
    return model.eval()


def test_r101_keys_and_shapes_equal_original(r101):
    shapes = {k: tuple(v.shape) for k, v in r101.state_dict().items()}
    assert len(shapes) == 636
    assert sum(torch.Size(s).numel() for s in shapes.values()) == 42_624_970
    assert shape_lines_digest(shapes) == R101_KEYS_SHA256
    assert not any(k.startswith('fc.') for k in shapes)


def test_r101_keys_and_shapes_equal_reference_json(r101):
    with open(REFERENCE_JSON) as f:
        ref = json.load(f)['clip_procl_deeplabv2red_r101_clip_rn101']['state_dict_shapes']
    expected = {k[len('backbone.'):]: tuple(v) for k, v in ref.items() if k.startswith('backbone.')}
    assert {k: tuple(v.shape) for k, v in r101.state_dict().items()} == expected


def test_deeplabv2red_r101_parameter_count(r101):
    head = DLV2Head(in_channels=2048, num_classes=19, dilations=(6, 12))
    backbone_params = sum(p.numel() for p in r101.parameters())
    head_params = sum(p.numel() for p in head.parameters())
    assert backbone_params == R101_PARAMS
    assert head_params == 2 * (19 * 2048 * 3 * 3 + 19)
    assert backbone_params + head_params == DEEPLABV2RED_R101_PARAMS


def test_stage_outputs_have_strides_4_8_8_8():
    model = ResNetV1c(depth=50).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 256, 16, 16), (2, 512, 8, 8),
                                              (2, 1024, 8, 8), (2, 2048, 8, 8)]


def test_r101_dilation_layout(r101):
    assert [len(r101.layer1), len(r101.layer2), len(r101.layer3), len(r101.layer4)] == [3, 4, 23, 3]
    assert r101.layer3[0].conv2.dilation == (1, 1)
    assert all(b.conv2.dilation == (2, 2) for b in r101.layer3[1:])
    assert r101.layer4[0].conv2.dilation == (2, 2)
    assert all(b.conv2.dilation == (4, 4) for b in r101.layer4[1:])
    assert r101.layer2[0].conv2.stride == (2, 2) and r101.layer2[0].conv1.stride == (1, 1)
    assert r101.layer2[0].downsample[0].stride == (2, 2)
    assert r101.layer3[0].downsample[0].stride == (1, 1)


def test_deep_stem_structure():
    model = ResNetV1c(depth=50)
    convs = [model.stem[i] for i in (0, 3, 6)]
    assert [tuple(c.weight.shape) for c in convs] == [(32, 3, 3, 3), (32, 32, 3, 3), (64, 32, 3, 3)]
    assert [c.stride for c in convs] == [(2, 2), (1, 1), (1, 1)]
    assert [type(model.stem[i]) for i in (1, 4, 7)] == [nn.BatchNorm2d] * 3
    assert [type(model.stem[i]) for i in (2, 5, 8)] == [nn.ReLU] * 3
    assert model.maxpool.kernel_size == 3 and model.maxpool.stride == 2


def test_out_indices_and_registry_build():
    model = MODELS.build(dict(type='ResNetV1c', depth=50, out_indices=(1, 3))).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 512, 4, 4), (1, 2048, 4, 4)]


def test_norm_eval_and_frozen_stages():
    model = ResNetV1c(depth=50, norm_eval=True, frozen_stages=1).train()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and not any(bn.training for bn in bns)
    assert model.layer2[0].conv1.training
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert all(p.requires_grad for p in model.layer2.parameters())
    plain = ResNetV1c(depth=50).train()
    assert all(m.training for m in plain.modules())


def test_unsupported_options_raise():
    with pytest.raises(ValueError, match='depth=34'):
        ResNetV1c(depth=34)
    with pytest.raises(ValueError, match=r'strides=\(1, 2, 2, 2\) with dilations=\(1, 1, 2, 4\)'):
        ResNetV1c(depth=50, strides=(1, 2, 2, 2), dilations=(1, 1, 2, 4))
    with pytest.raises(ValueError, match='style'):
        ResNetV1c(depth=50, style='caffe')


def test_output_stride_16_layout():
    model = ResNetV1c(depth=50, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 4]
    assert model.layer4[0].conv2.dilation == (1, 1) and model.layer4[1].conv2.dilation == (2, 2)


# ---------------------------------------------------------------- checkpoint loading


def open_mmlab_layout(state_dict: dict) -> dict:
    """The open-mmlab resnet*_v1c file layout: our names plus an ImageNet classifier."""
    out = dict(state_dict)
    out['fc.weight'] = torch.randn(1000, 2048)
    out['fc.bias'] = torch.randn(1000)
    return out


def timm_layout(state_dict: dict) -> dict:
    """timm ``resnet50c`` names: stem convs/BNs under ``conv1.{0,1,3,4,6}``, last BN ``bn1``."""
    renames = {f'stem.{i}.': f'conv1.{i}.' for i in (0, 1, 3, 4, 6)}
    renames['stem.7.'] = 'bn1.'
    out = {}
    for key, value in open_mmlab_layout(state_dict).items():
        for old, new in renames.items():
            if key.startswith(old):
                key = new + key[len(old):]
        out[key] = value
    return out


def shape_stand_ins(state_dict: dict) -> dict:
    """Same shapes backed by one element each, so files for the error cases stay tiny."""
    return {k: torch.zeros((), dtype=v.dtype).expand(v.shape) for k, v in state_dict.items()}


def load_into_fresh(path, **kwargs) -> ResNetV1c:
    """A fresh ResNetV1c-50 initialised from ``path`` through ``init_cfg``."""
    model = ResNetV1c(depth=50, init_cfg=dict(type='Pretrained', checkpoint=str(path)), **kwargs)
    model.init_weights()
    return model.eval()


def assert_same_outputs(model: ResNetV1c, source: ResNetV1c) -> None:
    """Equal (and non-trivial) stage outputs on one random input."""
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(model(x), source(x)):
            assert b.abs().max() > 0
            assert torch.equal(a, b)


@pytest.mark.parametrize('layout', ['open_mmlab_no_counters', 'open_mmlab_wrapped', 'timm',
                                    'segmentor'])
def test_checkpoint_layouts_load_to_identical_outputs(tmp_path, r50_source, layout):
    state = r50_source.state_dict()
    if layout == 'open_mmlab_no_counters':  # BN num_batches_tracked absent: the model keeps 0
        payload = {k: v for k, v in open_mmlab_layout(state).items()
                   if not k.endswith('num_batches_tracked')}
    elif layout == 'open_mmlab_wrapped':
        payload = {'state_dict': open_mmlab_layout(state), 'meta': {'note': 'imagenet'}}
    elif layout == 'timm':
        payload = timm_layout(state)
    else:
        payload = {f'module.backbone.{k}': v for k, v in state.items()}
        payload['module.decode_head.aspp_modules.0.conv.bias'] = torch.zeros(19)
    path = tmp_path / 'resnet50_v1c.pth'
    torch.save(payload, path)
    model = load_into_fresh(path)
    path.unlink()
    counter = 0 if layout == 'open_mmlab_no_counters' else 7
    assert int(model.layer1[0].bn1.num_batches_tracked) == counter
    assert int(model.stem[7].num_batches_tracked) == counter
    assert_same_outputs(model, r50_source)


def test_open_mmlab_scheme_reads_local_pretrained_dir(tmp_path, monkeypatch, r50_source):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError,
                       match=r'pretrained[/\\]resnet50_v1c\.pth.*nothing is downloaded'):
        ResNetV1c(depth=50, pretrained='open-mmlab://resnet50_v1c').init_weights()
    (tmp_path / 'pretrained').mkdir()
    local_file = tmp_path / 'pretrained' / 'resnet50_v1c.pth'
    torch.save(open_mmlab_layout(r50_source.state_dict()), local_file)
    model = ResNetV1c(depth=50, pretrained='open-mmlab://resnet50_v1c')
    model.init_weights()
    local_file.unlink()
    assert_same_outputs(model.eval(), r50_source)


def test_wrong_shape_raises_naming_file_and_key(tmp_path, r50_source):
    state = shape_stand_ins(r50_source.state_dict())
    state['layer1.0.conv1.weight'] = torch.zeros(64, 32, 1, 1)
    path = tmp_path / 'wrong_shape.pth'
    torch.save(state, path)
    with pytest.raises(ValueError, match=r'wrong_shape\.pth.*layer1\.0\.conv1\.weight: '
                                         r'file \(64, 32, 1, 1\) vs model \(64, 64, 1, 1\)'):
        load_into_fresh(path)


def test_missing_and_unexpected_keys_raise_naming_file_and_keys(tmp_path, r50_source):
    state = shape_stand_ins(r50_source.state_dict())
    del state['layer4.2.bn3.running_mean']
    state['layer5.0.conv1.weight'] = torch.zeros(1)
    path = tmp_path / 'missing_key.pth'
    torch.save(state, path)
    with pytest.raises(KeyError, match=r'missing_key\.pth.*missing keys '
                                       r'\[layer4\.2\.bn3\.running_mean\].*'
                                       r'unexpected keys \[layer5\.0\.conv1\.weight\]'):
        load_into_fresh(path)


def test_torchvision_resnet50_stem_is_rejected(tmp_path, r50_source):
    state = shape_stand_ins(timm_layout(r50_source.state_dict()))
    for key in [k for k in state if k.startswith('conv1.')]:
        del state[key]
    state['conv1.weight'] = torch.zeros(64, 3, 7, 7)
    path = tmp_path / 'resnet50_tv.pth'
    torch.save(state, path)
    with pytest.raises(KeyError, match=r'resnet50_tv\.pth.*missing keys \[stem\.0\.weight.*'
                                       r'unexpected keys \[conv1\.weight\]'):
        load_into_fresh(path)


def test_corrupt_and_absent_files_raise_naming_path(tmp_path):
    corrupt = tmp_path / 'corrupt.pth'
    corrupt.write_bytes(b'this is not a torch checkpoint')
    with pytest.raises(CheckpointError, match=r'corrupt\.pth'):
        load_into_fresh(corrupt)
    with pytest.raises(FileNotFoundError, match=r'absent\.pth'):
        load_into_fresh(tmp_path / 'absent.pth')
    not_tensors = tmp_path / 'list.pth'
    torch.save([1, 2, 3], not_tensors)
    with pytest.raises(CheckpointError, match=r'list\.pth'):
        load_into_fresh(not_tensors)


def test_key_map_renames_only_the_top_level_stem():
    keys = ['conv1.0.weight', 'conv1.6.weight', 'bn1.bias', 'layer1.0.bn1.bias',
            'layer1.0.conv1.weight', 'fc.weight']
    converted = convert_resnet_v1c_state_dict({k: torch.zeros(1) for k in keys})
    assert sorted(converted) == ['layer1.0.bn1.bias', 'layer1.0.conv1.weight', 'stem.0.weight',
                                 'stem.6.weight', 'stem.7.bias']


def test_pretrained_and_init_cfg_together_raise():
    with pytest.raises(ValueError, match='either pretrained or init_cfg'):
        ResNetV1c(depth=50, pretrained='x.pth',
                  init_cfg=dict(type='Pretrained', checkpoint='x.pth'))
