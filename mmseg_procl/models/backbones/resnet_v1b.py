"""ResNetV1b: the torchvision ResNet (7x7 stem) with output stride 8, as ProCA and WDASS use it.

ResNet (He et al., CVPR 2016) in torchvision's layout (``torchvision.models.resnet101``): a 7x7
stride-2 convolution, BN, ReLU and max-pool, bottlenecks with the stride in the 3x3 conv.  MMSegmentation
calls this variant ``ResNetV1b`` (github.com/open-mmlab/mmsegmentation ``mmseg/models/backbones/
resnet.py``) and its parameter names are torchvision's: ``conv1.*``, ``bn1.*``,
``layerK.i.{conv1,bn1,conv2,bn2,conv3,bn3}.*``, ``layerK.0.downsample.{0,1}.*`` (no ``fc``), so the
ImageNet file ``resnet101-5d3b4d8f.pth`` / ``resnet101-63fe2227.pth`` loads without renaming.

Output stride 8 = strides (1, 2, 1, 1) and dilations (1, 1, 2, 4):

* ``contract_dilation=True``: the first block of a dilated stage keeps the previous dilation
  (layer3.0 dilation 1, layer4.0 dilation 2), exactly torchvision's
  ``replace_stride_with_dilation=[False, True, True]`` -- ProCA (github.com/jiangzhengkai/ProCA
  ``core/models/feature_extractor.py``, ``resnet_feature_extractor``);
* ``contract_dilation=False``: every 3x3 conv of layer3 has dilation 2 and of layer4 dilation 4 --
  WDASS (github.com/anurag-198/WDASS ``network/utils.py`` ``get_resnet``, which sets the dilation and
  padding of all ``conv2`` of layer3 / layer4 and the strides to 1).

Freezing, ``norm_eval`` and ``init_cfg`` behave as in :class:`ResNetV1c`.
"""
from typing import Tuple

import torch
import torchvision
from torch import nn

from mmseg_procl.models.backbones.resnet_checkpoint import (check_against_model, read_state_dict,
                                                            strip_prefixes)
from mmseg_procl.models.backbones.resnet_v1c import ResNetV1c
from mmseg_procl.registry import MODELS

OS8_LAYOUT = ((1, 2, 1, 1), (1, 1, 2, 4))
DEPTHS = (50, 101)


def set_dilation(layer: nn.Sequential, dilation: int) -> None:
    """Give every bottleneck's 3x3 conv of ``layer`` this dilation (padding = dilation)."""
    for block in layer:
        block.conv2.dilation = (dilation, dilation)
        block.conv2.padding = (dilation, dilation)


@MODELS.register_module()
class ResNetV1b(ResNetV1c):
    """torchvision-layout ResNet-50/101, output stride 8, returning the stage maps at ``out_indices``.

    Args: as :class:`ResNetV1c`; ``strides`` / ``dilations`` must be (1, 2, 1, 1) / (1, 1, 2, 4);
    ``contract_dilation`` chooses ProCA's (True) or WDASS's (False) first-block dilation.
    """

    def _build(self, depth: int, strides: Tuple[int, ...], dilations: Tuple[int, ...],
               contract_dilation: bool, norm_layer: type) -> None:
        """torchvision's network with stride replaced by dilation in layer3 / layer4."""
        if depth not in DEPTHS:
            raise ValueError(f'ResNetV1b: depth={depth} is not supported; expected one of {DEPTHS}')
        if (strides, dilations) != OS8_LAYOUT:
            raise ValueError(f'ResNetV1b: strides={strides} with dilations={dilations} is not supported; '
                             f'expected {OS8_LAYOUT[0]} with {OS8_LAYOUT[1]} (output stride 8)')
        net = getattr(torchvision.models, f'resnet{depth}')(
            weights=None, replace_stride_with_dilation=[False, True, True], norm_layer=norm_layer)
        if not contract_dilation:
            set_dilation(net.layer3, 2)
            set_dilation(net.layer4, 4)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (net.layer1, net.layer2, net.layer3,
                                                              net.layer4)

    def stem_modules(self) -> Tuple[nn.Module, ...]:
        """``conv1`` and ``bn1``."""
        return (self.conv1, self.bn1)

    def stem_forward(self, x: torch.Tensor) -> torch.Tensor:
        """7x7 conv, BN, ReLU."""
        return self.relu(self.bn1(self.conv1(x)))

    def load_pretrained(self, path: str) -> None:
        """Load torchvision ImageNet weights (``fc.*`` dropped; ``module.`` / ``backbone.`` prefixes
        removed), strictly: missing, unexpected or wrong-shape keys name the file."""
        expected = self.state_dict()
        loaded = {k: v for k, v in strip_prefixes(read_state_dict(path)).items() if not k.startswith('fc.')}
        check_against_model(path, loaded, expected, 'ResNetV1b (torchvision layout)')
        for key in expected:
            loaded.setdefault(key, expected[key])
        self.load_state_dict(loaded, strict=True)
