"""Losses of the weakly-supervised prototype method (WDASS): image-level loss, edge loss, prototype
pixel contrast.

Das, Xian, Dai, Schiele, "Weakly-Supervised Domain Adaptive Semantic Segmentation with Prototypical
Contrastive Learning", CVPR 2023 (github.com/anurag-198/WDASS ``loss/image_label.py``,
``loss/edgeloss.py``, ``loss/contrast_loss.py``; docs/methods.md §2.7).  Pure functions on tensors:

* :func:`image_level_loss`: ``s_c = sigmoid(log((1/HW) sum_p exp z_c(p)))`` (log-sum-exp pooling of each
  class map), ``BCE(s, y)`` against multi-hot image labels ``y`` (mean over images and classes);
* :func:`edge_loss`: the L1 difference between the spatial-gradient magnitude of a Gumbel-softmax sample of
  the logits (tau 0.5; logits of ignored pixels zeroed) and that of the one-hot labels (ignored pixels as
  class 0, as the reference), each magnitude ``sqrt(gx^2 + gy^2 + 1e-6)`` from central differences with
  zero padding, divided by its maximum over the whole batch; the mean over pixels where the prediction's
  magnitude is >= 1e-8 and the mean over pixels where the label's is, averaged;
* :func:`prototype_pixel_contrast`: anchors ``f_i`` with classes ``y_i`` and domains ``d_i``, contrast
  vectors = the prototypes of the anchors' classes, ``s_ij = f_i . P_{y_j} / tau``; positives: same class
  (optionally only of the other domain), negatives: another class;
  ``l_i = -(tau / tau_b) mean_{j in pos} [s_ij - log(e^{s_ij} + sum_{k in neg} e^{s_ik})]``, averaged over
  all anchors (an anchor without positives counts 0, as the reference's ``/ (|pos| + 1e-8)``).
"""
from typing import Optional

import torch
import torch.nn.functional as F

from mmseg_procl.models.utils import nearest_labels

EDGE_THRESHOLD = 1e-8


def multi_hot(labels: torch.Tensor, num_classes: int, ignore_index: int = 255) -> torch.Tensor:
    """(B, C) float multi-hot of the classes present in (B, H, W) labels (``ignore_index`` skipped)."""
    flat = labels.reshape(labels.shape[0], -1).long()
    valid = flat != ignore_index
    out = torch.zeros(labels.shape[0], num_classes + 1, device=labels.device)
    out.scatter_(1, torch.where(valid, flat, torch.full_like(flat, num_classes)), 1.0)
    return out[:, :num_classes]


def image_level_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BCE of the log-sum-exp-pooled class scores of (B, C, H, W) logits against (B, C) multi-hot targets."""
    flat = logits.float().flatten(2)
    pooled = torch.logsumexp(flat, dim=2) - torch.log(torch.tensor(float(flat.shape[2])))
    # BCE of sigmoid(pooled) as the reference, in its logits form (stable, and allowed under CUDA autocast)
    return F.binary_cross_entropy_with_logits(pooled, targets.float())


def gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """``sqrt(gx^2 + gy^2 + 1e-6)`` of (N, C, H, W) maps, central differences ``(x[i+1] - x[i-1]) / 2`` with
    zero padding, divided by the maximum over the whole tensor."""
    padded = F.pad(x, (1, 1, 1, 1))
    gx = (padded[:, :, 1:-1, 2:] - padded[:, :, 1:-1, :-2]) / 2
    gy = (padded[:, :, 2:, 1:-1] - padded[:, :, :-2, 1:-1]) / 2
    mag = torch.sqrt(gx * gx + gy * gy + 1e-6)
    return mag / mag.max()


def gumbel_noise(shape, generator: Optional[torch.Generator] = None, device=None, eps: float = 1e-10):
    """Gumbel(0, 1) samples as the reference draws them: ``-log(eps - log(U + eps))``."""
    u = torch.rand(shape, generator=generator, device=device)
    return -torch.log(eps - torch.log(u + eps))


def edge_loss(logits: torch.Tensor, labels: torch.Tensor, noise: torch.Tensor, num_classes: int,
              tau: float = 0.5, ignore_index: int = 255) -> torch.Tensor:
    """WDASS's edge loss of (N, C, H, W) logits and (N, H, W) labels with Gumbel ``noise`` (N, C, H, W)."""
    ignored = labels == ignore_index
    logits = torch.where(ignored[:, None], torch.zeros_like(logits), logits.float())
    sample = F.softmax((logits + noise) / tau, dim=1)
    safe = torch.where(ignored, torch.zeros_like(labels), labels).long()
    target = torch.zeros_like(sample).scatter_(1, safe[:, None], 1.0)
    g = gradient_magnitude(sample).flatten(1)
    g_hat = gradient_magnitude(target).flatten(1)
    diff = (g - g_hat).abs()
    on_pred, on_label = (g >= EDGE_THRESHOLD).float(), (g_hat >= EDGE_THRESHOLD).float()
    eps = 1e-10
    return (0.5 * (diff * on_pred).sum() / (on_pred.sum() + eps)
            + 0.5 * (diff * on_label).sum() / (on_label.sum() + eps))


def prototype_pixel_contrast(anchors: torch.Tensor, labels: torch.Tensor, prototypes: torch.Tensor,
                             domains: Optional[torch.Tensor] = None, temperature: float = 0.1,
                             base_temperature: float = 0.07) -> torch.Tensor:
    """WDASS's contrast of (N, D) anchors with classes (N,) against the (C, D) prototypes of the anchors'
    classes; with ``domains`` (N,) only pairs of different domains are positives (the asymmetric
    inter-domain term); 0 for no anchors."""
    if anchors.shape[0] == 0:
        return anchors.sum() * 0
    logits = anchors @ prototypes[labels].T / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    same = labels[:, None] == labels[None, :]
    positive = same if domains is None else same & (domains[:, None] != domains[None, :])
    negative_sum = (logits.exp() * (~same)).sum(dim=1, keepdim=True)
    log_prob = logits - torch.log(logits.exp() + negative_sum)
    positive = positive.float()
    mean_log_prob = (positive * log_prob).sum(1) / (positive.sum(1) + 1e-8)
    loss = -(temperature / base_temperature) * mean_log_prob.mean()
    return torch.nan_to_num(loss, nan=0.0)


def merge_weak_labels(labels: torch.Tensor, weak: torch.Tensor, size,
                      ignore_index: int = 255) -> torch.Tensor:
    """WDASS's label merge: (B, h, w) ``labels`` (predictions) nearest-resized to the size of the (B, H, W)
    ``weak`` labels, replaced by the weak label wherever one is given, then nearest-resized to ``size``."""
    merged = torch.where(weak != ignore_index, weak.long(), nearest_labels(labels, weak.shape[1:]))
    return nearest_labels(merged, size)


def class_one_hot(labels: torch.Tensor, num_classes: int, ignore_index: int = 255) -> torch.Tensor:
    """(N, C) float one-hot of (N,) labels; ``ignore_index`` rows are 0."""
    valid = labels != ignore_index
    index = torch.where(valid, labels, torch.full_like(labels, num_classes)).long()
    hot = torch.zeros(labels.shape[0], num_classes + 1, device=labels.device)
    return hot.scatter_(1, index[:, None], 1.0)[:, :num_classes]        # no host read (F.one_hot checks)


def class_centres(anchor_feats: torch.Tensor, anchor_labels: torch.Tensor, num_classes: int,
                  ignore_index: int = 255):
    """((C, D) class means of (N_a, D) ``anchor_feats`` by (N_a,) ``anchor_labels``, (C,) anchor counts);
    a class without anchors has a zero row.  No gradient."""
    hot = class_one_hot(anchor_labels, num_classes, ignore_index)
    count = hot.sum(0)
    return hot.T @ anchor_feats.detach().float() / count.clamp(min=1)[:, None], count


def interpolation_matrix(size_in: int, size_out: int, device=None) -> torch.Tensor:
    """(size_out, size_in) weights of a 1-D bilinear resize (``align_corners=False``): row ``i`` holds the
    weights of the inputs that make output ``i``."""
    eye = torch.eye(size_in, device=device)[None, None]
    return F.interpolate(eye, size=(size_out, size_in), mode='bilinear', align_corners=False)[0, 0]


def upsampled_class_centres(feats: torch.Tensor, labels: torch.Tensor, num_classes: int,
                            ignore_index: int = 255):
    """:func:`class_centres` of the (B, D, h, w) ``feats`` bilinearly upsampled (``align_corners=False``) to
    the size of the (B, H, W) ``labels`` (WDASS's point-label anchors), without materialising the upsampled
    maps: the class masks are pooled by the transposed resize instead (same sums, up to rounding)."""
    (h, w), (height, width) = feats.shape[2:], labels.shape[1:]
    rows = interpolation_matrix(h, height, feats.device)                      # (H, h)
    cols = interpolation_matrix(w, width, feats.device)                       # (W, w)
    hot = class_one_hot(labels.reshape(-1), num_classes, ignore_index)
    hot = hot.view(labels.shape[0], height, width, num_classes)
    pooled = torch.einsum('bHWc,Hh,Ww->bchw', hot, rows, cols)
    sums = torch.einsum('bchw,bdhw->cd', pooled, feats.detach().float())
    count = hot.sum((0, 1, 2))
    return sums / count.clamp(min=1)[:, None], count


def weighted_prototypes(member_feats: torch.Tensor, member_labels: torch.Tensor, centres: torch.Tensor,
                        anchor_count: torch.Tensor, previous: torch.Tensor,
                        ignore_index: int = 255) -> torch.Tensor:
    """(C, D) prototypes from class ``centres`` (C, D): for every class with ``anchor_count`` > 0, the members
    of c (``member_labels`` (N,) == c, features ``member_feats`` (N, D)) weigh ``w_i = f_i . a_c``, normalised
    to sum 1, and ``P_c = sum_i w_i f_i`` (not renormalised; 0 when c has no member); other classes keep
    their ``previous`` row.  No gradient."""
    member_feats = member_feats.detach().float()
    member_hot = class_one_hot(member_labels, previous.shape[0], ignore_index)
    weights = (member_feats @ centres.T) * member_hot                                    # (N, C)
    total = weights.sum(0)
    new = (weights.T @ member_feats) / torch.where(total == 0, torch.ones_like(total), total)[:, None]
    return torch.where((anchor_count > 0)[:, None], new, previous.float())


def anchor_weighted_prototypes(member_feats: torch.Tensor, member_labels: torch.Tensor,
                               anchor_feats: torch.Tensor, anchor_labels: torch.Tensor,
                               previous: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """WDASS's prototypes (``utils/prototypes.py``): for every class c among ``anchor_labels`` (N_a,), the
    anchor ``a_c`` = mean of its ``anchor_feats`` (N_a, D); the members of c (``member_labels`` (N,) == c)
    weigh ``w_i = f_i . a_c``, normalised to sum 1, and ``P_c = sum_i w_i f_i`` (not renormalised; 0 when
    c has no member).  Classes without anchors keep their ``previous`` (C, D) row.  No gradient."""
    centres, count = class_centres(anchor_feats, anchor_labels, previous.shape[0], ignore_index)
    return weighted_prototypes(member_feats, member_labels, centres, count, previous, ignore_index)


def hard_anchor_sampling(feats: torch.Tensor, labels: torch.Tensor, preds: torch.Tensor, probs: torch.Tensor,
                         domains: torch.Tensor, max_samples: int = 512, max_views: int = 20,
                         easy_threshold: float = 0.95, ignore_index: int = 255,
                         generator: Optional[torch.Generator] = None):
    """WDASS's anchor sampling (``_hard_anchor_sampling`` of ``loss/contrast_loss.py``).

    ``feats`` (B, N, D), ``labels`` / ``preds`` (B, N) long, ``probs`` (B, N), ``domains`` (B,).  Per image,
    the classes of ``labels`` with more than ``max_views`` pixels; ``n_view = min(max_samples // (classes in
    the batch), max_views)``; per class ``n_view`` pixels: the "hard" ones (label c, prediction not c) first,
    then "easy" ones (label c, prediction c, probability > ``easy_threshold``), each drawn at random; a class
    with fewer than ``n_view`` such pixels is skipped.  Returns ``(anchors (M, D), labels (M,), domains
    (M,))`` with ``M = kept classes * n_view`` (empty when no class qualifies).  Reads tensor values on the
    host (as the reference): not for a sync-free step.
    """
    per_image = []
    for b in range(feats.shape[0]):
        classes, counts = torch.unique(labels[b], return_counts=True)
        per_image.append([int(c) for c, n in zip(classes, counts) if c != ignore_index and n > max_views])
    total = sum(len(c) for c in per_image)
    empty = (feats.new_zeros(0, feats.shape[2]), labels.new_zeros(0), domains.new_zeros(0))
    if total == 0:
        return empty
    n_view = min(max_samples // total, max_views)
    chosen, chosen_labels, chosen_domains = [], [], []
    for b, classes in enumerate(per_image):
        for c in classes:
            hard = torch.nonzero((labels[b] == c) & (preds[b] != c)).flatten()
            easy = torch.nonzero((labels[b] == c) & (preds[b] == c) & (probs[b] > easy_threshold)).flatten()
            if len(hard) + len(easy) < n_view:
                continue
            keep_hard = min(len(hard), n_view)
            hard = hard[torch.randperm(len(hard), generator=generator)[:keep_hard]]
            easy = easy[torch.randperm(len(easy), generator=generator)[:n_view - keep_hard]]
            chosen.append(feats[b, torch.cat([hard, easy])])
            chosen_labels.append(torch.full((n_view,), c, dtype=labels.dtype, device=labels.device))
            chosen_domains.append(domains[b].expand(n_view))
    if not chosen:
        return empty
    return torch.cat(chosen), torch.cat(chosen_labels), torch.cat(chosen_domains)
