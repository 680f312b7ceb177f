"""Several prototypes per class: balanced assignment, momentum update, pixel-prototype contrast and the
LR / HR prototype-consistency term of PCPR's reconstruction.

The assignment and update follow ProtoSeg (Zhou et al., "Rethinking Semantic Segmentation: A Prototype
View", CVPR 2022, github.com/tfzhou/ProtoSeg ``lib/models/nets/hrnet.py`` ``prototype_learning`` and
``lib/utils/distributed.py`` ``distributed_sinkhorn``): the pixels of class c are spread over its K
prototypes by a few Sinkhorn-Knopp iterations on ``exp(cos / epsilon)``, each prototype moves towards the
normalised mean of its pixels with momentum.  Every function works on all pixels with a validity mask (no
boolean indexing), so none reads a value back to the host.  Used by
:class:`~mmseg_procl.uda.objectives.multi_prototype_contrast.MultiPrototypeContrast`.
"""
from typing import Optional, Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F

TINY = 1e-12


def sinkhorn_assign(sim: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor, num_classes: int,
                    epsilon: float = 0.05, iters: int = 3) -> torch.Tensor:
    """(N,) index in [0, K) of the prototype each pixel is assigned to within its own class.

    ``sim`` (N, K): cosine similarity of each pixel to the K prototypes of its class; ``labels`` (N,) long
    (any class where invalid); ``valid`` (N,) float 0/1.  Per class c (its n_c valid pixels), starting from
    ``Q = exp(sim / epsilon)`` normalised to sum 1, ``iters`` times: columns to 1/K, rows to 1/n_c; then
    the row-wise argmax (ProtoSeg's balanced clustering).
    """
    k = sim.shape[1]
    q = torch.exp(sim.float() / epsilon) * valid[:, None]
    total = q.new_zeros(num_classes).index_add_(0, labels, q.sum(dim=1))
    q = q / total[labels].clamp(min=TINY)[:, None]
    count = q.new_zeros(num_classes).index_add_(0, labels, valid.float())
    for _ in range(iters):
        column = q.new_zeros(num_classes, k).index_add_(0, labels, q)
        q = q / column[labels].clamp(min=TINY) / k
        q = q / q.sum(dim=1, keepdim=True).clamp(min=TINY) / count[labels].clamp(min=1)[:, None]
    return q.argmax(dim=1)


def assigned_means(feats: torch.Tensor, labels: torch.Tensor, assign: torch.Tensor, valid: torch.Tensor,
                   num_classes: int, num_prototypes: int, sync: bool = True
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
    """(sums (C*K, D), counts (C*K,)) of the valid features per (class, prototype), summed over the
    ranks of a multi-process run when ``sync``."""
    index = labels * num_prototypes + assign
    weights = valid.to(feats.dtype)
    sums = feats.new_zeros(num_classes * num_prototypes, feats.shape[1]).index_add_(
        0, index, feats * weights[:, None])
    counts = feats.new_zeros(num_classes * num_prototypes).index_add_(0, index, weights)
    if sync and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(sums)
        dist.all_reduce(counts)
    return sums, counts


def momentum_update(prototypes: torch.Tensor, sums: torch.Tensor, counts: torch.Tensor,
                    momentum: float) -> torch.Tensor:
    """(C, K, D) unit prototypes after ``normalise(m * p + (1 - m) * normalise(mean))`` for every
    prototype with at least one pixel; the others unchanged."""
    shape = prototypes.shape
    flat = prototypes.reshape(-1, shape[-1])
    mean = F.normalize(sums / counts.clamp(min=1)[:, None], dim=1)
    moved = F.normalize(momentum * flat + (1 - momentum) * mean, dim=1)
    return torch.where(counts[:, None] > 0, moved, flat).reshape(shape)


def multi_prototype_logits(embeddings: torch.Tensor, prototypes: torch.Tensor,
                           temperature: float) -> torch.Tensor:
    """(N, C*K) ``embeddings (N, D) . prototypes (C, K, D)^T / temperature``."""
    return embeddings @ prototypes.reshape(-1, prototypes.shape[-1]).t() / temperature


def prototype_contrast_loss(logits: torch.Tensor, labels: torch.Tensor, assign: torch.Tensor,
                            weights: torch.Tensor, num_prototypes: int) -> torch.Tensor:
    """Mean over valid pixels of ``w * CE(logits, c * K + k)`` (the assigned prototype of the pixel's class
    is the positive, every other prototype of every class a negative); ``weights`` (N,) are 0 on invalid
    pixels.  0 without valid pixels."""
    target = labels * num_prototypes + assign
    loss = F.cross_entropy(logits.float(), target, reduction='none')
    return (loss * weights).sum() / (weights > 0).sum().clamp(min=1)


def prototype_consistency_loss(lr_logits: torch.Tensor, hr_logits: torch.Tensor,
                               weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean over pixels of ``KL(softmax(hr) || softmax(lr))`` with the detail (HR) distribution as a fixed
    target; (N, C*K) prototype logits of the context (LR) and detail (HR) features of the same pixels."""
    target = torch.softmax(hr_logits.detach().float(), dim=1)
    kl = (target * (torch.log_softmax(hr_logits.detach().float(), dim=1)
                    - torch.log_softmax(lr_logits.float(), dim=1))).sum(dim=1)
    if weights is None:
        return kl.mean()
    return (kl * weights).sum() / (weights > 0).sum().clamp(min=1)
