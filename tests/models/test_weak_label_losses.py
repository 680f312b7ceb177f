"""WDASS's losses and prototypes against hand-computed values and the definitions."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmseg_procl.models.losses.weak_label import (anchor_weighted_prototypes, edge_loss, gradient_magnitude,
                                                  gumbel_noise, image_level_loss, multi_hot,
                                                  prototype_pixel_contrast)


def test_multi_hot_and_image_level_loss_by_hand():
    labels = torch.tensor([[[0, 2], [255, 2]]])
    assert multi_hot(labels, 3).tolist() == [[1.0, 0.0, 1.0]]
    # one image, two classes, two pixels: class 0 logits (0, ln 3), class 1 (ln 2, ln 2)
    logits = torch.tensor([[[[0.0, math.log(3.0)]], [[math.log(2.0), math.log(2.0)]]]])
    s0 = 1 / (1 + 1 / 2.0)              # sigmoid(log((1 + 3) / 2)) = 2 / 3
    s1 = 1 / (1 + 1 / 2.0)              # sigmoid(log((2 + 2) / 2)) = 2 / 3
    expected = -(math.log(s0) + math.log(1 - s1)) / 2          # targets (1, 0)
    value = image_level_loss(logits, torch.tensor([[1.0, 0.0]]))
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_gradient_magnitude_central_differences():
    x = torch.tensor([[[[0.0, 0.0, 4.0]]]])                  # one row: gx = (0-0)/2, (4-0)/2, (0-0)/2
    mag = gradient_magnitude(x)[0, 0, 0]
    raw = torch.sqrt(torch.tensor([0.0, 4.0, 0.0]) + 1e-6)   # gy = 0 (zero padding above and below)
    assert torch.allclose(mag, raw / raw.max())


def test_edge_loss_is_zero_for_a_perfect_prediction_and_matches_the_definition():
    labels = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 255]]])
    noise = torch.zeros(1, 2, 3, 4)
    full = labels.clamp(max=1)                 # every pixel labelled: a confident exact prediction costs 0
    perfect = F.one_hot(full, 2).permute(0, 3, 1, 2).float() * 1e4
    assert edge_loss(perfect, full, noise, 2).item() == pytest.approx(0.0, abs=1e-5)
    torch.manual_seed(0)
    logits = torch.randn(1, 2, 3, 4)
    noise = gumbel_noise(logits.shape, torch.Generator().manual_seed(1))
    masked = torch.where(labels[:, None] == 255, torch.zeros_like(logits), logits)
    g = gradient_magnitude(F.softmax((masked + noise) / 0.5, dim=1)).flatten()
    g_hat = gradient_magnitude(F.one_hot(torch.where(labels == 255, 0, labels), 2).permute(0, 3, 1, 2)
                               .float()).flatten()
    d = (g - g_hat).abs()
    expected = 0.5 * d[g >= 1e-8].mean() + 0.5 * d[g_hat >= 1e-8].mean()
    assert edge_loss(logits, labels, noise, 2).item() == pytest.approx(expected.item(), rel=1e-5)


def test_prototype_pixel_contrast_by_hand():
    protos = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    anchors = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    tau, base = 0.5, 0.25
    # contrast vectors: P_{y_j} = (1,0), (1,0), (0,1); s_ij = f_i . P_{y_j} / tau (row max subtracted:
    # a constant per row, which cancels in log_prob)
    s = [[2.0, 2.0, 0.0], [1.2, 1.2, 1.6], [0.0, 0.0, 2.0]]
    pos = [[0, 1], [0, 1], [2]]
    neg = [[2], [2], [0, 1]]
    per_anchor = []
    for i in range(3):
        terms = [s[i][j] - math.log(math.exp(s[i][j]) + sum(math.exp(s[i][k]) for k in neg[i]))
                 for j in pos[i]]
        per_anchor.append(-(tau / base) * sum(terms) / len(terms))
    value = prototype_pixel_contrast(anchors, labels, protos, temperature=tau, base_temperature=base)
    assert value.item() == pytest.approx(sum(per_anchor) / 3, rel=1e-5)
    # inter-domain: anchors 0, 2 are source (0), anchor 1 target (1): positives only across domains
    domains = torch.tensor([0, 1, 0])
    pos = [[1], [0], []]
    per_anchor = []
    for i in range(3):
        terms = [s[i][j] - math.log(math.exp(s[i][j]) + sum(math.exp(s[i][k]) for k in neg[i]))
                 for j in pos[i]]
        per_anchor.append(-(tau / base) * sum(terms) / len(terms) if terms else 0.0)
    value = prototype_pixel_contrast(anchors, labels, protos, domains, temperature=tau,
                                     base_temperature=base)
    assert value.item() == pytest.approx(sum(per_anchor) / 3, rel=1e-5)
    assert prototype_pixel_contrast(anchors[:0], labels[:0], protos).item() == 0.0


def test_anchor_weighted_prototypes_by_hand():
    previous = torch.tensor([[9.0, 9.0], [7.0, 7.0], [5.0, 5.0]])
    anchors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    anchor_labels = torch.tensor([0, 0, 2])
    members = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [3.0, 3.0]])
    member_labels = torch.tensor([0, 0, 255, 1])
    out = anchor_weighted_prototypes(members, member_labels, anchors, anchor_labels, previous)
    # class 0: anchor (0.5, 0.5); weights 1.0 and 0.5 -> (2/3, 1/3); P = (4/3, 1/3)
    assert torch.allclose(out[0], torch.tensor([4 / 3, 1 / 3]))
    assert out[1].tolist() == [7.0, 7.0]                 # no anchor of class 1: kept
    assert out[2].tolist() == [0.0, 0.0]                 # anchors but no member: 0 (as the reference)


def test_hard_anchor_sampling_takes_hard_pixels_first():
    from mmseg_procl.models.losses import hard_anchor_sampling
    # one image, 12 pixels: class 0 on pixels 0..6 (7 > max_views 3), class 1 on 7..9 (3: not > 3),
    # ignored 10, 11
    labels = torch.tensor([[0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 255, 255]])
    preds = torch.tensor([[1, 2, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0]])        # pixels 0, 1 of class 0 are hard
    probs = torch.tensor([[0.9, 0.9, 0.99, 0.5, 0.99, 0.99, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9]])
    feats = torch.arange(12.0).view(1, 12, 1)                      # the feature is the pixel index
    anchors, anchor_labels, domains = hard_anchor_sampling(
        feats, labels, preds, probs, torch.tensor([1]), max_samples=7, max_views=3,
        generator=torch.Generator().manual_seed(0))
    # one class qualifies: n_view = min(7 // 1, 3) = 3: both hard pixels and one easy one (2, 4 or 5;
    # 3 and 6 are below 0.95)
    picked = sorted(int(v) for v in anchors.flatten())
    assert picked[:2] == [0, 1] and picked[2] in (2, 4, 5)
    assert anchor_labels.tolist() == [0, 0, 0] and domains.tolist() == [1, 1, 1]
    # too few hard + easy pixels for n_view = 3 (max_samples 100 -> min(100, 3)): class skipped
    probs_low = torch.full_like(probs, 0.5)
    empty = hard_anchor_sampling(feats, labels, torch.zeros_like(preds), probs_low, torch.tensor([0]),
                                 max_views=3)
    assert empty[0].shape == (0, 1) and empty[1].numel() == 0
