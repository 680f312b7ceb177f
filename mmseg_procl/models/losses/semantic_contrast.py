"""SePiCo's pixel-to-semantic contrastive losses, as pure functions (docs/methods.md §2.2).

SePiCo (Xie et al., "SePiCo: Semantic-Guided Pixel Contrast for Domain Adaptive Semantic
Segmentation", TPAMI 2023; github.com/BIT-DA/SePiCo ``mmseg/models/losses/contrastive_loss.py``).
Anchors are unit-norm pixel embeddings ``f`` (N, A) with labels ``y`` (N,); ``valid`` (N,) marks the
anchors that count (the rest contribute nothing, so no host synchronisation is needed to drop
them); ``tau`` is the temperature (100 in every released experiment, a divisor):

- ProtoCL: ``CE(f mu^T / tau, y)`` against the class means ``mu`` (C, A);
- DistCL: ``CE(logits, y) + lambda / (2 tau^2) * sum_a f_a^2 Sigma_{y,a}`` with
  ``logits_c = f . mu_c / tau + lambda / (2 tau^2) * sum_a f_a^2 Sigma_{c,a}`` (the closed-form
  bound of infinitely many samples of N(mu_c, diag Sigma_c));
- BankCL: for an anchor of class c, every entry q_j of c's memory bank is a positive,
  ``pos_j = f . q_j / tau``; every other class k contributes ``neg_k = mean_j f . q^k_j / tau``;
  the loss is ``-mean_j log(exp(pos_j) / (exp(pos_j) + sum_{k != c} exp(neg_k)))``;
- the regulariser ``sum_c log softmax(mean(f) mu^T / tau)_c / (C log C)`` over the anchors' mean.

Each is the mean over valid anchors, and 0 when there is none (as the reference).
"""
import math

import torch
import torch.nn.functional as F


def _masked_mean(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` (N,) over ``valid`` anchors; 0 when there is none."""
    weight = valid.to(values.dtype)
    return (values * weight).sum() / weight.sum().clamp(min=1.0)


def _safe_labels(labels: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Labels usable as indices: invalid anchors get class 0 (their loss is masked out)."""
    return torch.where(valid, labels, torch.zeros_like(labels))


def proto_contrast(feat: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor, mean: torch.Tensor,
                   tau: float) -> torch.Tensor:
    """ProtoCL: mean over valid anchors of ``CE(f mu^T / tau, y)``."""
    logits = feat @ mean.t() / tau
    ce = F.cross_entropy(logits, _safe_labels(labels, valid), reduction='none')
    return _masked_mean(ce, valid)


def dist_contrast(feat: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor, mean: torch.Tensor,
                  variance: torch.Tensor, tau: float, ratio: float = 1.0) -> torch.Tensor:
    """DistCL: the distribution-aware bound (see the module docstring)."""
    scaled = variance * ratio / tau
    second = 0.5 * feat.pow(2) @ scaled.t()                       # (N, C)
    logits = (feat @ mean.t() + second) / tau
    safe = _safe_labels(labels, valid)
    ce = F.cross_entropy(logits, safe, reduction='none')
    own = 0.5 * (feat.pow(2) * scaled[safe]).sum(dim=1) / tau
    return _masked_mean(ce + own, valid)


def bank_contrast(feat: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor, bank: torch.Tensor,
                  bank_size: torch.Tensor, tau: float) -> torch.Tensor:
    """BankCL over a memory bank ``bank`` (C, L, A) whose first ``bank_size[c]`` entries are used."""
    num_classes, length, _ = bank.shape
    used = torch.arange(length, device=bank.device)[None] < bank_size[:, None]       # (C, L)
    sims = torch.einsum('na,cla->ncl', feat, bank) / tau                              # (N, C, L)
    neg = (sims * used).sum(-1) / bank_size.clamp(min=1).to(sims.dtype)               # (N, C)
    safe = _safe_labels(labels, valid)
    own = safe[:, None] == torch.arange(num_classes, device=safe.device)              # (N, C)
    sum_exp_neg = torch.where(own, torch.zeros_like(neg), neg.exp()).sum(1, keepdim=True)
    pos = sims[torch.arange(feat.shape[0], device=feat.device), safe]                # (N, L)
    log_term = pos - torch.log(pos.exp() + sum_exp_neg)
    pos_used = used[safe].to(log_term.dtype)
    per_anchor = -(log_term * pos_used).sum(1) / pos_used.sum(1).clamp(min=1.0)
    return _masked_mean(per_anchor, valid)


def proto_regulariser(feat: torch.Tensor, valid: torch.Tensor, mean: torch.Tensor,
                      tau: float) -> torch.Tensor:
    """``sum_c log softmax(mean(f) mu^T / tau)_c / (C log C)`` over valid anchors (0 without any)."""
    weight = valid.to(feat.dtype)[:, None]
    count = weight.sum()
    mean_feat = (feat * weight).sum(0, keepdim=True) / count.clamp(min=1.0)
    num_classes = mean.shape[0]
    reg = torch.log_softmax(mean_feat @ mean.t() / tau, dim=1).sum() / (num_classes *
                                                                        math.log(num_classes))
    return torch.where(count > 0, reg, torch.zeros_like(reg))
