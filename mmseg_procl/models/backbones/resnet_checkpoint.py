"""Loading ImageNet ResNet-V1c weights into :class:`ResNetV1c` through an explicit key map.

Two file layouts are accepted (docs/design.md §1: we load the original weight files, nothing is
downloaded):

* open-mmlab layout, as in the ``open-mmlab://resnet{50,101}_v1c`` ImageNet checkpoints used by
  MMSegmentation's ResNetV1c (github.com/open-mmlab/mmsegmentation, v0.x ``resnet.py``) and by the
  DeepLab-v2 configs of DAFormer / SePiCo / CLIP-ProCL: ``stem.{0,1,3,4,6,7}.*``, ``layerK.*`` and a
  classifier ``fc.*`` that is dropped;
* timm / torchvision layout of a deep-stem ResNet (``resnet50c`` / ``resnet101c``): the stem is
  ``conv1.{0,1,3,4,6}.*`` plus ``bn1.*``; they are renamed to ``stem.{0,1,3,4,6}.*`` and
  ``stem.7.*``.

The state dict may be wrapped in ``{'state_dict': ...}`` (or ``{'model': ...}``) and its keys may
carry ``module.`` (DDP) and ``backbone.`` (segmentor) prefixes.  A BatchNorm ``num_batches_tracked``
counter absent from the file keeps the model's value; every other missing, unexpected or
wrong-shape key is an error that names the file and the keys.
"""
import os
import re
from typing import Dict, List

import torch
from torch import nn

from mmseg_procl.errors import CheckpointError, load_failure

OPEN_MMLAB_SCHEME = 'open-mmlab://'
LOCAL_PRETRAINED_DIR = 'pretrained'
TIMM_STEM_RENAMES = ((re.compile(r'^conv1\.(\d+)\.'), r'stem.\1.'),
                     (re.compile(r'^bn1\.'), 'stem.7.'))
DROPPED_PREFIXES = ('fc.',)
OPTIONAL_SUFFIX = 'num_batches_tracked'


def resolve_checkpoint_path(checkpoint: str) -> str:
    """Local file for ``checkpoint``; ``open-mmlab://<name>`` maps to ``pretrained/<name>.pth``."""
    if checkpoint.startswith(OPEN_MMLAB_SCHEME):
        name = checkpoint[len(OPEN_MMLAB_SCHEME):]
        path = os.path.join(LOCAL_PRETRAINED_DIR, f'{name}.pth')
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f'{checkpoint!r} is read from the local file {os.path.abspath(path)}, which does '
                f'not exist: nothing is downloaded; place the open-mmlab ImageNet checkpoint '
                f'({name}-*.pth from download.openmmlab.com/pretrain/third_party/) there under the '
                f'name {name}.pth, or pass init_cfg=dict(type="Pretrained", checkpoint=<path>)')
        return path
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f'ResNetV1c checkpoint file {checkpoint!r} does not exist')
    return checkpoint


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Tensors of a checkpoint file (``weights_only`` load, ``state_dict``/``model`` unwrapped)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'ResNetV1c checkpoint file {path!r} does not exist')
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # corrupt archive, truncated file, disallowed pickle global
        raise CheckpointError(f'cannot read checkpoint {path!r} as a torch state dict: '
                              f'{load_failure(path, err)}') from None
    for wrapper in ('state_dict', 'model'):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f'checkpoint {path!r} does not hold a state dict of tensors '
                        f'(got {type(obj).__name__})')
    return dict(obj)


def strip_prefixes(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Remove ``module.`` from every key; keep only ``backbone.*`` (prefix removed) if present."""
    state_dict = {k[len('module.'):] if k.startswith('module.') else k: v
                  for k, v in state_dict.items()}
    if any(k.startswith('backbone.') for k in state_dict):
        state_dict = {k[len('backbone.'):]: v for k, v in state_dict.items()
                      if k.startswith('backbone.')}
    return state_dict


def to_mmseg_key(key: str) -> str:
    """mmseg ResNetV1c name of a timm/torchvision or open-mmlab key (stem renames only)."""
    for pattern, replacement in TIMM_STEM_RENAMES:
        key = pattern.sub(replacement, key)
    return key


def convert_resnet_v1c_state_dict(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Prefix-free state dict in mmseg ResNetV1c names, classifier ``fc.*`` dropped."""
    converted = {}
    for key, value in strip_prefixes(state_dict).items():
        if key.startswith(DROPPED_PREFIXES):
            continue
        converted[to_mmseg_key(key)] = value
    return converted


def _format_keys(keys: List[str], limit: int = 10) -> str:
    """First ``limit`` keys, comma separated, with a count of the rest."""
    shown = ', '.join(keys[:limit])
    return shown + (f' ... (+{len(keys) - limit} more)' if len(keys) > limit else '')


def check_against_model(path: str, loaded: Dict[str, torch.Tensor],
                        expected: Dict[str, torch.Tensor], model_name: str = 'ResNetV1c') -> None:
    """Raise naming ``path`` and the keys if names or shapes differ from the model's."""
    missing = sorted(k for k in expected if k not in loaded and not k.endswith(OPTIONAL_SUFFIX))
    unexpected = sorted(k for k in loaded if k not in expected)
    if missing or unexpected:
        raise KeyError(f'checkpoint {path!r} does not match {model_name}: missing keys '
                       f'[{_format_keys(missing)}], unexpected keys [{_format_keys(unexpected)}]')
    wrong = [f'{k}: file {tuple(loaded[k].shape)} vs model {tuple(expected[k].shape)}'
             for k in sorted(loaded) if loaded[k].shape != expected[k].shape]
    if wrong:
        raise ValueError(f'checkpoint {path!r} has wrong shapes for {model_name}: '
                         f'{_format_keys(wrong)}')


def load_resnet_v1c_checkpoint(model: nn.Module, path: str) -> None:
    """Load an open-mmlab or timm-layout ResNet-V1c checkpoint file into ``model`` (strict)."""
    expected = model.state_dict()
    loaded = convert_resnet_v1c_state_dict(read_state_dict(path))
    check_against_model(path, loaded, expected)
    for key in expected:
        loaded.setdefault(key, expected[key])
    model.load_state_dict(loaded, strict=True)
