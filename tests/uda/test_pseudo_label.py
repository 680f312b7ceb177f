"""Pseudo-labels: argmax, batch-scalar confidence weight, masked crop rows (docs/methods.md §1.5 step 5)."""
import math

import torch

from mmseg_procl.uda.pseudo_label import pseudo_label_and_weight


def test_weight_is_batch_fraction_of_confident_pixels_with_masked_rows():
    logits = torch.zeros(2, 3, 4, 2)
    logits[:, 1] = math.log(0.98 / 0.01)        # p(class 1) = 0.98 >= 0.968: confident
    logits[1, :, 2:, :] = 0.0                   # lower half of image 1 uniform: not confident
    labels, weights, conf = pseudo_label_and_weight(logits, 0.968, ignore_top=1, ignore_bottom=1)
    assert labels[0].eq(1).all() and labels[1, :2].eq(1).all()
    q = 12 / 16                                  # 12 of the 16 pixels of the batch are confident
    expected = torch.full((2, 4, 2), q)
    expected[:, :1] = 0
    expected[:, -1:] = 0
    torch.testing.assert_close(weights, expected)
    assert abs(conf[0, 0, 0].item() - 0.98) < 1e-6


def test_no_masking_by_default_and_zero_weight_when_nothing_is_confident():
    _, weights, _ = pseudo_label_and_weight(torch.zeros(1, 19, 3, 3), 0.968)
    assert weights.eq(0).all()
