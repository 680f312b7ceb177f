"""Loading SegFormer ImageNet ``mit_b*.pth`` files (or any MiT backbone checkpoint) into a MiT
encoder.

Accepts the file layouts of SegFormer (Xie et al., NeurIPS 2021, github.com/NVlabs/SegFormer; a raw
state dict with the ImageNet classifier ``head.*``) and of DAFormer-family / mmseg checkpoints
(Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer; wrapped in ``state_dict`` or ``model``, keys
optionally prefixed by ``module.`` and/or ``backbone.``).  Unlike the original's silent non-strict
load, every backbone key must be present with the right shape, otherwise a ``CheckpointError`` names
the file and the keys; keys the backbone does not have (the ImageNet head is dropped first) are
logged and ignored.  Files are read with ``torch.load(..., weights_only=True)`` only.
"""
import logging
import os.path as osp
from collections.abc import Mapping
from typing import Dict, List

import torch
from mmengine.logging import print_log
from torch import nn

from mmseg_procl.errors import CheckpointError, load_failure

STRIPPED_PREFIXES = ('module.', 'backbone.')
DROPPED_PREFIXES = ('head.',)
MAX_LISTED = 20


def read_checkpoint_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The tensor state dict stored in ``path`` (raw, or under ``state_dict`` / ``model``)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'MiT pretrained checkpoint not found: {path!r}')
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # torch raises several types for damaged / foreign files
        raise CheckpointError(f'cannot read MiT checkpoint {path!r} (expected a torch.save file of a '
                              f'state dict): {load_failure(path, err)}') from None
    if isinstance(obj, Mapping):
        for wrapper in ('state_dict', 'model'):
            if isinstance(obj.get(wrapper), Mapping):
                obj = obj[wrapper]
                break
    if not isinstance(obj, Mapping) or not all(torch.is_tensor(v) for v in obj.values()):
        raise CheckpointError(f'MiT checkpoint {path!r} does not hold a state dict of tensors '
                           f'(got {type(obj).__name__})')
    return dict(obj)


def strip_key(key: str) -> str:
    """``key`` without leading ``module.`` then ``backbone.`` prefixes."""
    for prefix in STRIPPED_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key


def backbone_state_dict(raw: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Prefix-stripped state dict without the ImageNet classifier ``head.*``."""
    stripped = {strip_key(k): v for k, v in raw.items()}
    return {k: v for k, v in stripped.items() if not k.startswith(DROPPED_PREFIXES)}


def listing(items: List[str]) -> str:
    """Comma-joined items, at most ``MAX_LISTED`` of them plus a count of the rest."""
    shown = ', '.join(items[:MAX_LISTED])
    rest = len(items) - MAX_LISTED
    return shown + (f', ... ({rest} more)' if rest > 0 else '')


def check_against_model(path: str, state: Dict[str, torch.Tensor], model: nn.Module) -> None:
    """Raise naming ``path`` if any model key is missing from ``state`` or has another shape."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    wrong = [f'{k} (file {tuple(state[k].shape)}, model {tuple(v.shape)})'
             for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if not missing and not wrong:
        return
    problems = []
    if missing:
        problems.append(f'{len(missing)} missing key(s): {listing(missing)}')
    if wrong:
        problems.append(f'{len(wrong)} key(s) with a wrong shape: {listing(wrong)}')
    raise CheckpointError(f'MiT checkpoint {path!r} does not fit {type(model).__name__}: '
                       + '; '.join(problems))


def load_mit_pretrained(model: nn.Module, path: str) -> List[str]:
    """Load backbone weights from ``path`` into ``model``; returns the ignored (unexpected) keys."""
    state = backbone_state_dict(read_checkpoint_state_dict(path))
    check_against_model(path, state, model)
    expected = model.state_dict()
    unexpected = sorted(k for k in state if k not in expected)
    model.load_state_dict({k: state[k] for k in expected}, strict=True)
    print_log(f'loaded MiT weights from {path}', logger='current', level=logging.INFO)
    if unexpected:
        print_log(f'MiT checkpoint {path}: ignored {len(unexpected)} unexpected key(s): '
                  f'{listing(unexpected)}', logger='current', level=logging.WARNING)
    return unexpected
