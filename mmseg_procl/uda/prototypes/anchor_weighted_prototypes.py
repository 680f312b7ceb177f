"""AnchorWeightedPrototypes: the real (target) and synthetic (source) class prototypes of the
weakly-supervised prototype method (WDASS).

Das, Xian, Dai, Schiele, "Weakly-Supervised Domain Adaptive Semantic Segmentation with Prototypical
Contrastive Learning", CVPR 2023 (github.com/anurag-198/WDASS ``utils/prototypes.py``, its use in
``train.py``; docs/methods.md §2.7).  Recomputed every iteration, per class present in the batch:

    a_c = mean of the anchor pixels' features (class c of the anchor labels G)
    P_c = sum_i w_i f_i,  w_i = (f_i . a_c) / sum_j (f_j . a_c)  over the member pixels (class c of L)

Classes absent from the batch keep their previous prototype (buffers: saved in checkpoints, continued by
``--resume``; zeros at the start).  No running average.

* ``domain='target'`` (P^R, updated at the start of every iteration from the algorithm's state): features =
  the teacher's embeddings of the target batch; members L = the teacher's low-resolution labels with
  confidence >= 0.95, overwritten by the weak labels (points: merged at full resolution, then resized to the
  feature grid; coarse / image: the weak labels resized to the grid first, as the reference; the same map for
  sizes that are multiples of the grid); anchors G by weak-label kind: ``coarse`` = the weak labels on the
  feature grid, ``point`` = the weak labels at full resolution against the bilinearly upsampled features,
  ``image`` = L.
* ``domain='source'`` (P^S, ``update_at='objective'``): updated by ``WeakPrototypeContrast`` with the
  student's detached source embeddings, the source labels on the feature grid serving as G and L.

The reference keeps one set per GPU (no averaging across ranks); so does this source.
"""
import torch
from torch import nn

from mmseg_procl.models.losses.weak_label import (class_centres, merge_weak_labels, upsampled_class_centres,
                                                  weighted_prototypes)
from mmseg_procl.models.utils import flat_pixels, nearest_labels
from mmseg_procl.registry import MODELS

WEAK_LABEL_KINDS = ('image', 'point', 'coarse')
DOMAINS = ('target', 'source')


@MODELS.register_module()
class AnchorWeightedPrototypes(nn.Module):
    """Prototype source: WDASS's anchor-weighted class prototypes (C, D) in a buffer.

    Args:
        num_classes: C.
        feature_dim: D (the representation head's 256).
        domain: ``'target'`` (P^R, from the teacher, at the iteration start) or ``'source'`` (P^S, updated
            by the objective reading it).
        weak_label: the target's weak-label kind (``image`` / ``point`` / ``coarse``), which decides the
            anchors of P^R; must equal the algorithm's ``weak_label``.
        ignore_index: label of unlabelled pixels.

    Call graph: ``update(state, algorithm)`` (target) -> ``anchor_centres`` -> ``weighted_prototypes``;
    ``update_members(feats, labels)`` (source).
    """

    def __init__(self, num_classes: int = 19, feature_dim: int = 256, domain: str = 'target',
                 weak_label: str = 'point', ignore_index: int = 255) -> None:
        super().__init__()
        if domain not in DOMAINS:
            raise ValueError(f'AnchorWeightedPrototypes: domain must be one of {DOMAINS}, got {domain!r}')
        if weak_label not in WEAK_LABEL_KINDS:
            raise ValueError(f'AnchorWeightedPrototypes: weak_label must be one of {WEAK_LABEL_KINDS}, got '
                             f'{weak_label!r}')
        self.num_classes, self.feature_dim, self.domain = num_classes, feature_dim, domain
        self.weak_label, self.ignore_index = weak_label, ignore_index
        self.update_at = 'iteration_start' if domain == 'target' else 'objective'
        self.register_buffer('value', torch.zeros(num_classes, feature_dim))

    def prototypes(self) -> torch.Tensor:
        """(C, D) prototypes."""
        return self.value

    def check_algorithm(self, name: str, algorithm) -> None:
        """At build time: the class count of the decode head and the width of the representation head; a
        target source needs WDASS's state entries and the algorithm's weak-label kind."""
        self._check_sizes(name, algorithm)
        if self.domain != 'target':
            return
        if 'target_region_labels' not in algorithm.state_entries():
            raise ValueError(f"prototype source {name!r} (AnchorWeightedPrototypes, domain='target') reads "
                             'the teacher embeddings and weak labels of the WDASS algorithm; '
                             f'{type(algorithm).__name__} has none')
        if getattr(algorithm, 'weak_label', None) != self.weak_label:
            raise ValueError(f"prototype source {name!r}: weak_label={self.weak_label!r} but the algorithm "
                             f"trains with weak_label={getattr(algorithm, 'weak_label', None)!r}")

    def _check_sizes(self, name: str, algorithm) -> None:
        """Raise unless num_classes / feature_dim equal the decode head's classes / the embeddings' width."""
        segmentor = algorithm.model
        classes = getattr(getattr(segmentor, 'decode_head', None), 'num_classes', self.num_classes)
        head = getattr(segmentor, getattr(algorithm, 'embedding_head', 'auxiliary_head'), None)
        width = getattr(head, 'channels', self.feature_dim)
        if (classes, width) != (self.num_classes, self.feature_dim):
            raise ValueError(f'prototype source {name!r}: num_classes={self.num_classes}, feature_dim='
                             f'{self.feature_dim}, but the decode head predicts {classes} classes and the '
                             f'representation head gives {width}-d embeddings')

    @torch.no_grad()
    def update(self, state, algorithm) -> None:
        """P^R from this iteration's teacher embeddings, region labels L and weak labels."""
        teacher, weak = state['teacher_target'], state['weak_labels']
        feats = teacher['embeddings']
        grid = feats.shape[2:]
        if self.weak_label != 'point':           # the reference resizes these weak labels to the grid first
            weak = nearest_labels(weak, grid)
        members = merge_weak_labels(teacher['labels'], weak, grid, self.ignore_index)
        centres, count = self.anchor_centres(feats, members, weak)
        self.value.copy_(weighted_prototypes(flat_pixels(feats), members.reshape(-1), centres, count,
                                             self.value, self.ignore_index))

    def anchor_centres(self, feats: torch.Tensor, members: torch.Tensor, weak: torch.Tensor):
        """((C, D) anchors, (C,) anchor counts) of the weak-label kind (see the module doc)."""
        if self.weak_label == 'point':                          # full-resolution points
            return upsampled_class_centres(feats, weak, self.num_classes, self.ignore_index)
        anchors = members if self.weak_label == 'image' else weak
        return class_centres(flat_pixels(feats), anchors.reshape(-1), self.num_classes, self.ignore_index)

    @torch.no_grad()
    def update_members(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        """P^S: (B, D, h, w) features with (B, h, w) labels as both anchors and members."""
        flat, labels = flat_pixels(feats), labels.reshape(-1)
        centres, count = class_centres(flat, labels, self.num_classes, self.ignore_index)
        self.value.copy_(weighted_prototypes(flat, labels, centres, count, self.value, self.ignore_index))
