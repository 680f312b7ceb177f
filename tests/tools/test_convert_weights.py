"""tools/convert_weights.py: downloaded backbone weights -> the files the configs read, verified, with sha256.

The inputs are written in their publishers' layouts from randomly initialised models: SegFormer's
``mit_b*.pth`` (raw state dict with the ImageNet ``head.*``), open-mmlab's ``resnet*_v1c`` (under
``state_dict``, with ``fc.*``), torchvision's ResNet (7x7 stem, ``fc.*``), open_clip / OpenAI CLIP state
dicts (tiny towers from tests/fixtures/tiny_clip.py).
"""
import hashlib
import os
import subprocess
import sys

import pytest
import torch
import torchvision

from tiny_clip import openai_state_dict, tiny_towers
from tool_runs import ENV, REPO

from mmseg_procl.errors import CheckpointError
from mmseg_procl.models.backbones.clip_checkpoint import load_clip_weights
from mmseg_procl.models.backbones.mit_checkpoint import load_mit_pretrained
from mmseg_procl.models.backbones.resnet_checkpoint import load_resnet_v1c_checkpoint
from mmseg_procl.models.backbones.resnet_v1c import ResNetV1c
from mmseg_procl.registry import MODELS
from mmseg_procl.utils import register_all_modules
from mmseg_procl.utils.weight_conversion import convert_weights, sha256_of


def randomised(state):
    """A copy of ``state`` with every floating tensor redrawn (so equality checks mean something)."""
    g = torch.Generator().manual_seed(0)
    return {k: torch.randn(v.shape, generator=g) if v.is_floating_point() else v.clone()
            for k, v in state.items()}


def assert_same(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_segformer_mit_file(tmp_path):
    register_all_modules()
    backbone = randomised(MODELS.build(dict(type='mit_b0')).state_dict())
    released = dict(backbone, **{'head.weight': torch.zeros(1000, 256), 'head.bias': torch.zeros(1000)})
    torch.save(released, tmp_path / 'mit_b0.pth')
    out = tmp_path / 'pretrained' / 'mit_b0.pth'
    report = convert_weights('mit', str(tmp_path / 'mit_b0.pth'), str(out))
    assert report['verified_against'] == 'mit_b0 (MixVisionTransformer)'
    assert report['source_sha256'] == hashlib.sha256((tmp_path / 'mit_b0.pth').read_bytes()).hexdigest()
    assert report['output_sha256'] == sha256_of(str(out))
    assert report['elements'] == sum(v.numel() for v in backbone.values())
    written = torch.load(out, weights_only=True)
    assert_same(written, backbone)                                     # head.* dropped, rest unchanged
    model = MODELS.build(dict(type='mit_b0'))
    assert load_mit_pretrained(model, str(out)) == []                 # the configs' loader reads it
    assert_same(model.state_dict(), backbone)


def test_wrong_shape_or_foreign_file_writes_nothing(tmp_path):
    register_all_modules()
    state = MODELS.build(dict(type='mit_b0')).state_dict()
    state['block1.0.attn.q.weight'] = torch.zeros(16, 32)
    torch.save(state, tmp_path / 'mit_b0.pth')
    with pytest.raises(CheckpointError, match=r"does not fit MixVisionTransformer mit_b0: .*"
                                              r"block1.0.attn.q.weight: file \(16, 32\) vs model \(32, 32\)"):
        convert_weights('mit', str(tmp_path / 'mit_b0.pth'), str(tmp_path / 'out.pth'))
    torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7)}, tmp_path / 'other.pth')
    with pytest.raises(CheckpointError, match='match no MiT preset'):
        convert_weights('mit', str(tmp_path / 'other.pth'), str(tmp_path / 'out.pth'))
    assert not (tmp_path / 'out.pth').exists()


def test_open_mmlab_resnet_v1c_and_its_checksum_name(tmp_path):
    state = randomised(ResNetV1c(depth=50).state_dict())
    plain = tmp_path / 'plain.pth'
    torch.save({'state_dict': dict(state, **{'fc.weight': torch.zeros(1000, 2048)})}, plain)
    digest = sha256_of(str(plain))
    named = tmp_path / f'resnet50_v1c-{digest[:8]}.pth'             # the open-mmlab naming convention
    os.rename(plain, named)
    out = tmp_path / 'resnet50_v1c.pth'
    report = convert_weights('resnet_v1c', str(named), str(out))
    assert report['published_checksum'] == f'matches the published checksum {digest[:8]}...'
    assert report['verified_against'] == 'ResNetV1c-50'
    model = ResNetV1c(depth=50)
    load_resnet_v1c_checkpoint(model, str(out))
    assert_same(model.state_dict(), state)
    corrupt = tmp_path / 'resnet50_v1c-2cccc1ad.pth'                  # a name whose checksum does not fit
    corrupt.write_bytes(named.read_bytes())
    with pytest.raises(CheckpointError, match=f'sha256 {digest} does not match the published checksum '
                                              '2cccc1ad... of resnet50_v1c-2cccc1ad.pth'):
        convert_weights('resnet_v1c', str(corrupt), str(tmp_path / 'x.pth'))
    assert not (tmp_path / 'x.pth').exists()


def test_torchvision_resnet(tmp_path):
    full = randomised(torchvision.models.resnet50(weights=None).state_dict())
    torch.save(full, tmp_path / 'resnet50.pth')
    report = convert_weights('torchvision', str(tmp_path / 'resnet50.pth'), str(tmp_path / 'out.pth'))
    assert report['verified_against'] == 'torchvision resnet50 (without fc)'
    written = torch.load(tmp_path / 'out.pth', weights_only=True)
    assert_same(written, {k: v for k, v in full.items() if not k.startswith('fc.')})
    with pytest.raises(CheckpointError, match='no 7x7 stem conv1.weight; expected a torchvision ResNet'):
        convert_weights('torchvision', v1c_file(tmp_path), str(tmp_path / 'x.pth'))


def v1c_file(tmp_path):
    """A deep-stem (ResNetV1c) state dict file: not a torchvision ResNet."""
    path = tmp_path / 'v1c.pth'
    torch.save(ResNetV1c(depth=50).state_dict(), path)
    return str(path)


@pytest.mark.filterwarnings('ignore:`torch.jit.script` is deprecated:FutureWarning')
def test_clip_state_dict_and_torchscript_refusal(tmp_path):
    state = openai_state_dict(seed=3)
    torch.save({'state_dict': {'module.' + k: v for k, v in state.items()}}, tmp_path / 'clip.pth')
    out = tmp_path / 'clip_out.pth'
    report = convert_weights('clip', str(tmp_path / 'clip.pth'), str(out))
    assert report['verified_against'] == 'CLIP ModifiedResNet (1, 1, 1, 1) width 16 image tower and ' \
                                         '2-layer text tower'
    assert_same(torch.load(out, weights_only=True), state)
    visual, text = tiny_towers()
    load_clip_weights(visual, text, str(out))                          # what clip_weights=<file> does
    assert torch.equal(visual.conv1.weight, state['visual.conv1.weight'])
    scripted = torch.jit.script(torch.nn.Linear(2, 2))
    scripted.save(str(tmp_path / 'scripted.pt'))
    with pytest.raises(ValueError, match='are a TorchScript archive .* loading it would execute its code'):
        convert_weights('clip', str(tmp_path / 'scripted.pt'), str(tmp_path / 'x.pth'))
    os.rename(tmp_path / 'scripted.pt', tmp_path / 'RN101.pt')        # OpenAI's name, not its file
    with pytest.raises(CheckpointError, match='does not match the published checksum 8fa8567bab74a42d41c591'
                                              '5025a8e4538c3bdbe8804a470a72f30b0d94fab599 of RN101.pt'):
        convert_weights('clip', str(tmp_path / 'RN101.pt'), str(tmp_path / 'x.pth'))
    assert not (tmp_path / 'x.pth').exists()


def test_cli_reports_and_never_overwrites(tmp_path):
    register_all_modules()
    torch.save(MODELS.build(dict(type='mit_b0')).state_dict(), tmp_path / 'mit_b0.pth')
    cmd = [sys.executable, 'tools/convert_weights.py', 'mit', str(tmp_path / 'mit_b0.pth'),
           '--out', str(tmp_path / 'out' / 'mit_b0.pth')]
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=ENV)
    assert first.returncode == 0, first.stderr
    out_sha = sha256_of(str(tmp_path / 'out' / 'mit_b0.pth'))
    assert f'wrote {tmp_path}/out/mit_b0.pth: sha256 {out_sha}' in first.stdout
    assert 'no published checksum is known for this file name' in first.stdout
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=ENV)
    assert again.returncode == 1 and 'exists; pass --overwrite to replace it' in again.stderr
    assert subprocess.run(cmd + ['--overwrite'], cwd=REPO, capture_output=True, env=ENV).returncode == 0
    assert sha256_of(str(tmp_path / 'out' / 'mit_b0.pth')) == out_sha     # same tensors, same bytes
    folder = subprocess.run(cmd[:-1] + [str(tmp_path / 'out'), '--overwrite'], cwd=REPO, capture_output=True,
                            text=True, env=ENV)
    assert folder.returncode == 1 and folder.stderr.count('\n') == 1
    assert f'--out {tmp_path}/out is a folder; expected the path of the file to write' in folder.stderr
    assert sorted(os.listdir(tmp_path / 'out')) == ['mit_b0.pth']        # no temporary file left
    (tmp_path / 'garbage.pth').write_text('not a checkpoint')
    bad = subprocess.run(cmd[:3] + [str(tmp_path / 'garbage.pth')], cwd=REPO, capture_output=True, text=True,
                         env=ENV)
    assert bad.returncode == 1 and bad.stderr.count('\n') == 1 and 'weights_only=False' not in bad.stderr
    assert '16 bytes that are not a PyTorch checkpoint archive' in bad.stderr


def test_output_bytes_do_not_depend_on_the_output_name(tmp_path):
    register_all_modules()
    torch.save(MODELS.build(dict(type='mit_b0')).state_dict(), tmp_path / 'mit_b0.pth')
    first = convert_weights('mit', str(tmp_path / 'mit_b0.pth'), str(tmp_path / 'a.pth'))
    second = convert_weights('mit', str(tmp_path / 'mit_b0.pth'), str(tmp_path / 'b' / 'other.pth'))
    assert first['output_sha256'] == second['output_sha256']


def test_proca_checkpoint_to_segmentor_and_test_loading(tmp_path):
    """ProCA's training / released layout: {'feature_extractor': module.backbone.*, 'classifier':
    module.conv2d_list.<i>.*} -> a DeepLab-v2 segmentor checkpoint that the ProCA configs load strictly."""
    from mmengine.config import Config
    from mmseg_procl.apis.config_utils import segmentor_config
    from mmseg_procl.utils.checkpoint import load_segmentor_checkpoint
    register_all_modules()
    net = torchvision.models.resnet101(weights=None, replace_stride_with_dilation=[False, True, True])
    backbone = randomised({f'module.backbone.{k}': v for k, v in net.state_dict().items()
                           if not k.startswith('fc.')})
    shapes = {'weight': (16, 2048, 3, 3), 'bias': (16,)}
    classifier = randomised({f'module.conv2d_list.{i}.{p}': torch.zeros(shapes[p])
                             for i in range(4) for p in ('weight', 'bias')})
    source = tmp_path / 'model_best.pth'
    torch.save({'iteration': 5, 'feature_extractor': backbone, 'classifier': classifier}, source)
    report = convert_weights('proca', str(source), str(tmp_path / 'out.pth'))
    assert report['verified_against'] == 'DeepLab-v2 (torchvision R101, 16 classes)'
    state = torch.load(tmp_path / 'out.pth', weights_only=True)
    assert torch.equal(state['decode_head.aspp_modules.2.conv.weight'],
                       classifier['module.conv2d_list.2.weight'])
    assert torch.equal(state['backbone.layer4.2.conv3.weight'],
                       backbone['module.backbone.layer4.2.conv3.weight'])
    cfg = Config.fromfile(os.path.join(REPO, 'configs', 'proca',
                                       'proca_dlv2-r101v1b_4xb1-90k_syn2cs-1280x760.py'))
    model_cfg = segmentor_config(cfg.model)
    model_cfg.backbone.pop('init_cfg')
    model = MODELS.build(model_cfg)
    load_segmentor_checkpoint(model, str(tmp_path / 'out.pth'), strict=True)
    assert torch.equal(model.backbone.conv1.weight, backbone['module.backbone.conv1.weight'])
    torch.save({'feature_extractor': backbone}, tmp_path / 'half.pth')
    with pytest.raises(CheckpointError, match="expected a ProCA checkpoint with the state dicts"):
        convert_weights('proca', str(tmp_path / 'half.pth'), str(tmp_path / 'x.pth'))
    assert not (tmp_path / 'x.pth').exists()
