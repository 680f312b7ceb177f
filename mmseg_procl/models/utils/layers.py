"""Builders for normalisation and activation layers from mmcv-style config dicts."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

NORM_LAYERS = {'BN': (nn.BatchNorm2d, 'bn'), 'SyncBN': (nn.SyncBatchNorm, 'bn'),
               'GN': (nn.GroupNorm, 'gn'), 'LN': (nn.LayerNorm, 'ln')}
ACTIVATIONS = {'ReLU': nn.ReLU, 'GELU': nn.GELU, 'LeakyReLU': nn.LeakyReLU, 'Sigmoid': nn.Sigmoid}


def build_norm(cfg: dict, num_features: int) -> Tuple[str, nn.Module]:
    """(mmcv attribute name, layer) for ``cfg=dict(type='BN'|'SyncBN'|'GN'|'LN', ...)``."""
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    if kind not in NORM_LAYERS:
        raise KeyError(f'norm_cfg type {kind!r} is not supported; expected one of {sorted(NORM_LAYERS)}')
    cfg.pop('requires_grad', None)
    layer_cls, name = NORM_LAYERS[kind]
    if kind == 'GN':
        return name, layer_cls(num_channels=num_features, **cfg)
    return name, layer_cls(num_features, **cfg)


def build_activation(cfg: dict) -> nn.Module:
    """Activation layer for ``cfg=dict(type='ReLU'|'GELU'|'LeakyReLU'|'Sigmoid', ...)``."""
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    if kind not in ACTIVATIONS:
        raise KeyError(f'act_cfg type {kind!r} is not supported; expected one of {sorted(ACTIVATIONS)}')
    if kind == 'ReLU':
        cfg.setdefault('inplace', True)
    return ACTIVATIONS[kind](**cfg)


def resize(x: torch.Tensor, size, mode: str = 'bilinear', align_corners: bool = False) -> torch.Tensor:
    """``F.interpolate`` to ``size`` (H, W); ``align_corners`` is passed only to (bi)linear modes."""
    size = tuple(int(s) for s in size)
    if mode in ('linear', 'bilinear', 'bicubic', 'trilinear'):
        return F.interpolate(x, size=size, mode=mode, align_corners=align_corners)
    return F.interpolate(x, size=size, mode=mode)


def nearest_labels(labels: torch.Tensor, size) -> torch.Tensor:
    """(B, H, W) integer labels resized to ``size`` with torch's ``'nearest'`` mode (long)."""
    return F.interpolate(labels[:, None].float(), size=tuple(size), mode='nearest')[:, 0].long()


def flat_pixels(x: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) maps -> (B*h*w, C) pixel rows."""
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])

