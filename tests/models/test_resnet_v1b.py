"""ResNetV1b: torchvision's ResNet with output stride 8 (ProCA's and WDASS's dilations), torchvision
weight files loaded strictly by name."""
import pytest
import torch
import torchvision
from torchvision.models._utils import IntermediateLayerGetter

from mmseg_procl.errors import CheckpointError
from mmseg_procl.models.backbones import ResNetV1b


@pytest.fixture(scope='module')
def torchvision_r50(tmp_path_factory):
    torch.manual_seed(0)
    net = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=[False, True, True]).eval()
    path = tmp_path_factory.mktemp('tv') / 'resnet50-0676ba61.pth'
    torch.save({f'module.{k}': v for k, v in net.state_dict().items()}, path)      # DDP prefix, with fc
    return net, str(path)


def test_equals_torchvision_layer4_with_its_weights(torchvision_r50):
    net, path = torchvision_r50
    model = ResNetV1b(depth=50, out_indices=(1, 3), init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    model.eval()
    x = torch.randn(1, 3, 48, 64)
    ref = IntermediateLayerGetter(net, {'layer2': 'c3', 'layer4': 'c5'})(x)
    c3, c5 = model(x)
    assert c5.shape == (1, 2048, 6, 8)                    # output stride 8
    assert torch.equal(c3, ref['c3']) and torch.equal(c5, ref['c5'])
    assert all(not k.startswith(('fc.', 'stem.')) for k in model.state_dict())    # torchvision names


def test_dilations_proca_and_wdass():
    proca = ResNetV1b(depth=50)                          # contract_dilation=True: torchvision's
    wdass = ResNetV1b(depth=50, contract_dilation=False)
    assert [b.conv2.dilation[0] for b in proca.layer3[:2]] == [1, 2]
    assert [b.conv2.dilation[0] for b in proca.layer4[:2]] == [2, 4]
    assert {b.conv2.dilation[0] for b in wdass.layer3} == {2}
    assert {b.conv2.dilation[0] for b in wdass.layer4} == {4}
    assert {b.conv2.padding[0] for b in wdass.layer4} == {4}
    assert wdass.layer3[0].conv2.stride == (1, 1) and wdass.layer3[0].downsample[0].stride == (1, 1)


def test_bad_layout_and_checkpoint(tmp_path, torchvision_r50):
    with pytest.raises(ValueError, match='output stride 8'):
        ResNetV1b(depth=50, strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1))
    with pytest.raises(ValueError, match='depth=18'):
        ResNetV1b(depth=18)
    state = torch.load(torchvision_r50[1], weights_only=True)
    state.pop('module.layer4.2.conv3.weight')
    broken = tmp_path / 'broken.pth'
    torch.save(state, broken)
    model = ResNetV1b(depth=50, init_cfg=dict(type='Pretrained', checkpoint=str(broken)))
    with pytest.raises(KeyError,
                       match=r'broken.pth.*ResNetV1b \(torchvision layout\).*layer4.2.conv3.weight'):
        model.init_weights()
    corrupt = tmp_path / 'corrupt.pth'
    corrupt.write_bytes(b'xx')
    with pytest.raises(CheckpointError, match='corrupt.pth'):
        ResNetV1b(depth=50, init_cfg=dict(type='Pretrained', checkpoint=str(corrupt))).init_weights()
