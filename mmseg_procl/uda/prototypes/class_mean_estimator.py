"""ClassMeanEstimator: exact running class means of pixel features, ProCA's prototype estimator.

ProCA (Jiang et al., ECCV 2022; github.com/jiangzhengkai/ProCA ``core/utils/
prototype_dist_estimator.py`` with ``USE_MOMENTUM=False``; docs/methods.md §2.6).  A batch of
features ``f`` (N, A) with labels ``y`` (N,) (ignore index removed) updates, per class c with
``n_c`` pixels and batch mean ``m_c``:

    w_c = n_c / (n_c + N_c)       (0 when n_c = 0)
    P_c = (1 - w_c) P_c + w_c m_c
    N_c = N_c + n_c

i.e. ``P_c`` is the exact mean of every class-c feature seen so far.  ProCA keeps two estimators,
one over the 2048-d backbone features and one over the C-d logits, initialised from a file that
``tools/proca_prototype_init.py`` writes over the source set with the source-only model, in
ProCA's layout ``{'Proto': (C, A), 'Amount': (C,)}`` (``prototype_feat_dist.pth`` /
``prototype_out_dist.pth``).  The state lives in buffers (``mean``, ``count``): checkpoints carry it
and ``--resume`` continues exactly (the reference re-reads the initial file on restart).

The objective that reads the estimator updates it (``update_at='objective'``: ProCA updates with the
target batch, then the source batch, between the forward passes and the loss).  In multi-process
training counts and sums are summed over the ranks first (``sync=True``), so all ranks hold the
means of all ranks' pixels; the reference keeps one unsynchronised estimator per GPU.
"""
import os
from typing import Optional

import torch
from torch import nn

from mmseg_procl.errors import CheckpointError, load_failure
from mmseg_procl.registry import MODELS
from .class_feature_statistics import sum_over_ranks

FILE_KEYS = ('Proto', 'Amount')


def read_prototype_file(path: str, num_classes: int, feature_dim: int):
    """(Proto (C, A), Amount (C,)) float32 from a ProCA prototype file (``weights_only`` load).

    Raises:
        FileNotFoundError: the file does not exist (names the tool that writes it).
        CheckpointError: unreadable, not a dict with ``Proto`` / ``Amount``, or wrong shapes.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'ClassMeanEstimator: prototype file {path!r} does not exist; write it with '
                                'tools/proca_prototype_init.py CONFIG CHECKPOINT --out-dir DIR')
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # corrupt archive, truncated file, disallowed pickle global
        raise CheckpointError(f'cannot read prototype file {path!r}: {load_failure(path, err)}') from None
    if not isinstance(obj, dict) or any(not isinstance(obj.get(k), torch.Tensor) for k in FILE_KEYS):
        raise CheckpointError(f'prototype file {path!r}: expected a dict with tensors {FILE_KEYS} '
                              f'(ProCA layout), got {sorted(obj) if isinstance(obj, dict) else type(obj)}')
    proto, amount = obj['Proto'], obj['Amount']
    if tuple(proto.shape) != (num_classes, feature_dim) or tuple(amount.shape) != (num_classes,):
        raise CheckpointError(f'prototype file {path!r}: Proto {tuple(proto.shape)} and Amount '
                              f'{tuple(amount.shape)}; expected ({num_classes}, {feature_dim}) and '
                              f'({num_classes},)')
    return proto.float(), amount.float()


@MODELS.register_module()
class ClassMeanEstimator(nn.Module):
    """Prototype source: exact running class means (C, A) and pixel counts (C,) in buffers.

    Args:
        num_classes: C.
        feature_dim: A (2048 for ResNet-101 layer4 features, C for logits).
        init_file: ProCA prototype file to start from, or None (zeros).
        ignore_index: label of pixels that do not count.
        sync: sum each batch's counts and sums over the ranks of a multi-process run.
    """

    update_at = 'objective'

    def __init__(self, num_classes: int, feature_dim: int, init_file: Optional[str] = None,
                 ignore_index: int = 255, sync: bool = True) -> None:
        super().__init__()
        self.num_classes, self.feature_dim = num_classes, feature_dim
        self.ignore_index, self.sync, self.init_file = ignore_index, sync, init_file
        self.register_buffer('mean', torch.zeros(num_classes, feature_dim))
        self.register_buffer('count', torch.zeros(num_classes))
        if init_file is not None:
            proto, amount = read_prototype_file(init_file, num_classes, feature_dim)
            self.mean.copy_(proto)
            self.count.copy_(amount)

    def prototypes(self) -> torch.Tensor:
        """(C, A) class means."""
        return self.mean

    @torch.no_grad()
    def update(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        """Exact cumulative update with features (N, A) and labels (N,) (ignored labels skipped)."""
        valid = labels != self.ignore_index
        weight = valid.to(self.mean.dtype)
        safe = torch.where(valid, labels, torch.zeros_like(labels))
        n = torch.zeros_like(self.count).index_add_(0, safe, weight)
        sums = torch.zeros_like(self.mean).index_add_(0, safe, feats.to(self.mean.dtype) * weight[:, None])
        if self.sync:
            n, sums = sum_over_ranks(n, sums)
        batch_mean = sums / n.clamp(min=1.0)[:, None]
        w = torch.where(n > 0, n / (n + self.count).clamp(min=1.0), torch.zeros_like(n))[:, None]
        self.mean.copy_(self.mean * (1 - w) + batch_mean * w)
        self.count.add_(n)

    def save(self, path: str) -> None:
        """Write ``{'Proto': mean, 'Amount': count}`` (ProCA's layout) to ``path``."""
        torch.save({'Proto': self.mean.detach().cpu().clone(), 'Amount': self.count.detach().cpu().clone()},
                   path)
