"""ClassFeatureStatistics: per-class running statistics of pixel embeddings (SePiCo's ProtoEstimator).

SePiCo (Xie et al., TPAMI 2023; github.com/BIT-DA/SePiCo ``mmseg/models/utils/proto_estimator.py``,
used by ``mmseg/models/uda/sepico.py``; docs/methods.md §2.2).  Every iteration, before the stages,
the teacher's embeddings of the clean source images and the source labels (down-scaled to the
embedding grid by majority vote, ratio 0.75; ignore removed) update, per class c with ``n_c``
pixels in the batch, batch mean ``m_c`` and (biased) batch variance ``v_c``:

    w_c     = n_c / (n_c + N_c)                                      (0 when both are 0)
    Sigma_c = (1 - w_c) Sigma_c + w_c v_c + w_c (1 - w_c) (mu_c - m_c)^2
    mu_c    = (1 - w_c) mu_c + w_c m_c
    N_c     = N_c + n_c

i.e. the exact mean and diagonal variance of everything seen (not an EMA), and, when
``memory_length > 0``, appends ``m_c`` of every class present to class c's memory bank (a deque of
``memory_length`` entries that starts with one zero vector, as the reference's).  The state is kept
in buffers (``mean``, ``variance``, ``count``, ``bank``, ``bank_size``, ``bank_next``), so a
checkpoint carries it and ``--resume`` continues exactly (the reference does not save it).  The
update runs without host synchronisation (the bank is a ring buffer written with masks).

In multi-process training the batch's per-class pixel counts, sums and centred sums are summed over
the ranks before the update (``sync=True``), so every rank holds the same statistics of all ranks'
pixels, exactly those of one process seeing the union of the batches (the reference keeps separate
per-rank statistics; it trains on one GPU).
"""
from typing import Tuple

import torch
import torch.distributed as dist
from mmengine.dist import get_world_size
from torch import nn

from mmseg_procl.models.utils import flat_pixels, nearest_labels
from mmseg_procl.registry import MODELS
from mmseg_procl.uda.objectives.feature_distance import downscale_label_ratio

FEATURE_SOURCES = ('teacher', 'student')


def sum_over_ranks(*tensors: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """The tensors summed over all ranks (one all-reduce; unchanged in a single process)."""
    if get_world_size() == 1:
        return tensors
    flat = torch.cat([t.flatten() for t in tensors])
    dist.all_reduce(flat)
    return tuple(chunk.view_as(t) for chunk, t in zip(flat.split([t.numel() for t in tensors]), tensors))


def contrast_preparations(embeddings: torch.Tensor, labels: torch.Tensor, use_avg_pool: bool,
                          scale_min_ratio: float, num_classes: int, ignore_index: int = 255
                          ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(features (N, A), labels (N,), valid (N,)) of (B, A, h, w) embeddings and (B, H, W) labels.

    Labels are brought to the embedding grid by majority vote (``use_avg_pool``) or nearest
    neighbour; positions whose label is ``ignore_index`` are marked invalid (kept, not removed).
    """
    if use_avg_pool:
        scale = labels.shape[-1] // embeddings.shape[-1]
        small = downscale_label_ratio(labels, scale, scale_min_ratio, num_classes, ignore_index)
    else:
        small = nearest_labels(labels, embeddings.shape[-2:])
    feats = flat_pixels(embeddings)
    flat = small.reshape(-1)
    return feats, flat, flat != ignore_index


@MODELS.register_module()
class ClassFeatureStatistics(nn.Module):
    """Prototype source: class means, diagonal variances, pixel counts and memory banks (buffers).

    Args:
        num_classes: C.
        feature_dim: A, the embedding width (the projection head's ``channels``).
        memory_length: entries per class memory bank (BankCL); 0 disables the bank.
        features: whose embeddings update the statistics (``'teacher'``: SePiCo).
        head: the segmentor head producing the embeddings.
        images / labels: iteration-state entries of the images and their labels.
        scale_min_ratio / use_avg_pool: label down-scaling to the embedding grid.
        update_at: when the algorithm updates the source (``'iteration_start'``).
        sync: sum each batch's statistics over the ranks of a multi-process run (see the module doc).
    """

    def __init__(self, num_classes: int = 19, feature_dim: int = 512, memory_length: int = 0,
                 features: str = 'teacher', head: str = 'auxiliary_head', images: str = 'source',
                 labels: str = 'source_labels', scale_min_ratio: float = 0.75,
                 use_avg_pool: bool = True, ignore_index: int = 255,
                 update_at: str = 'iteration_start', sync: bool = True) -> None:
        super().__init__()
        if features not in FEATURE_SOURCES:
            raise ValueError(f'ClassFeatureStatistics: features must be one of {FEATURE_SOURCES}, got '
                             f'{features!r}')
        if memory_length < 0:
            raise ValueError(f'ClassFeatureStatistics: memory_length must be >= 0, got {memory_length}')
        self.num_classes, self.feature_dim, self.memory_length = num_classes, feature_dim, memory_length
        self.features, self.head, self.images, self.labels = features, head, images, labels
        self.scale_min_ratio, self.use_avg_pool = scale_min_ratio, use_avg_pool
        self.ignore_index, self.update_at, self.sync = ignore_index, update_at, sync
        self.register_buffer('mean', torch.zeros(num_classes, feature_dim))
        self.register_buffer('variance', torch.zeros(num_classes, feature_dim))
        self.register_buffer('count', torch.zeros(num_classes))
        length = max(memory_length, 1)
        self.register_buffer('bank', torch.zeros(num_classes, length, feature_dim))
        # the initial deque holds one zero vector per class (it counts until it is evicted)
        self.register_buffer('bank_size', torch.full((num_classes, ), 1 if memory_length else 0,
                                                     dtype=torch.long))
        self.register_buffer('bank_next', torch.full((num_classes, ), 1 % length, dtype=torch.long))

    def check_algorithm(self, name: str, algorithm) -> None:
        """At build time: the state entries, the head, its width, the classes and the teacher exist.

        Raises:
            ValueError: naming this source, the offending argument and what the algorithm offers.
        """
        where = f'prototype source {name!r} (ClassFeatureStatistics)'
        entries = algorithm.state_entries()
        for arg in ('images', 'labels'):
            if getattr(self, arg) not in entries:
                raise ValueError(f'{where}: {arg}={getattr(self, arg)!r} is not an entry of the '
                                 f'iteration state; expected one of {entries}')
        head = getattr(algorithm.model, self.head, None)
        if not isinstance(head, nn.Module):
            raise ValueError(f'{where}: head={self.head!r} is not a head of the segmentor '
                             f'{type(algorithm.model).__name__} (a projection head is configured as '
                             "model.auxiliary_head, e.g. type='ProjHead')")
        width = getattr(head, 'channels', None)
        if getattr(head, 'num_convs', 1) and isinstance(width, int) and width != self.feature_dim:
            raise ValueError(f'{where}: feature_dim={self.feature_dim}, but {self.head} produces '
                             f'{width}-channel embeddings')
        classes = getattr(getattr(algorithm.model, 'decode_head', None), 'num_classes', None)
        if isinstance(classes, int) and classes != self.num_classes:
            raise ValueError(f'{where}: num_classes={self.num_classes}, but the segmentor predicts '
                             f'{classes} classes')
        if self.features == 'teacher' and not hasattr(algorithm, 'teacher_embeddings'):
            raise ValueError(f"{where}: features='teacher', but {type(algorithm).__name__} has no "
                             "teacher; use features='student' or a self-training algorithm (DACS)")

    def prototypes(self) -> torch.Tensor:
        """(C, A) class means."""
        return self.mean

    @torch.no_grad()
    def update(self, state, algorithm) -> None:
        """Update from this iteration's embeddings of ``images`` and ``labels`` (see the module doc)."""
        model = algorithm.ema_model if self.features == 'teacher' else algorithm.model
        images = state[self.images]

        def embed() -> torch.Tensor:
            """The head's embeddings in float32 (under the optimizer wrapper's autocast, if any)."""
            with algorithm.forward_precision():
                return model.head_forward(self.head, model.extract_feat(images)).float()

        embeddings = state.cached(f'{self.features}:{self.head}:{self.images}', embed)
        feats, labels, valid = contrast_preparations(embeddings, state[self.labels], self.use_avg_pool,
                                                     self.scale_min_ratio, self.num_classes,
                                                     self.ignore_index)
        self.update_statistics(feats.detach(), labels, valid)

    @torch.no_grad()
    def update_statistics(self, feats: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor) -> None:
        """The exact cumulative update with features (N, A), labels (N,) and validity (N,)."""
        weight = valid.to(feats.dtype)
        safe = torch.where(valid, labels, torch.zeros_like(labels))
        n = torch.zeros_like(self.count).index_add_(0, safe, weight)                       # (C,)
        sums = torch.zeros_like(self.mean).index_add_(0, safe, feats * weight[:, None])
        n, sums = self._sum_over_ranks(n, sums)
        batch_mean = sums / n.clamp(min=1.0)[:, None]
        centred = (feats - batch_mean[safe]).pow(2) * weight[:, None]
        centred_sums, = self._sum_over_ranks(torch.zeros_like(self.mean).index_add_(0, safe, centred))
        batch_var = centred_sums / n.clamp(min=1.0)[:, None]
        w = n / (n + self.count)
        w = torch.where(torch.isnan(w), torch.zeros_like(w), w)[:, None]
        self.variance.copy_(self.variance * (1 - w) + batch_var * w
                            + w * (1 - w) * (self.mean - batch_mean).pow(2))
        self.mean.copy_(self.mean * (1 - w) + batch_mean * w)
        self.count.add_(n)
        if self.memory_length:
            self._append_to_bank(batch_mean, n > 0)

    def _sum_over_ranks(self, *tensors: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """The tensors summed over all ranks (one all-reduce; unchanged in a single process)."""
        return sum_over_ranks(*tensors) if self.sync else tensors

    def _append_to_bank(self, batch_mean: torch.Tensor, present: torch.Tensor) -> None:
        """Append the batch mean of every present class to its ring buffer (oldest entry evicted)."""
        rows = torch.arange(self.num_classes, device=self.bank.device)
        slot = self.bank[rows, self.bank_next]
        self.bank[rows, self.bank_next] = torch.where(present[:, None], batch_mean, slot)
        self.bank_next.copy_(torch.where(present, (self.bank_next + 1) % self.memory_length,
                                         self.bank_next))
        self.bank_size.copy_(torch.where(present, (self.bank_size + 1).clamp(max=self.memory_length),
                                         self.bank_size))
