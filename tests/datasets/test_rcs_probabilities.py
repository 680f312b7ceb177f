"""Rare-class-sampling class distribution (docs/methods.md §1.4 step 2) against a hand computation."""
import math

import numpy as np
import pytest

from mmseg_procl.datasets.class_stats import rcs_class_probabilities

STATS = [('a_labelTrainIds.png', {0: 300, 5: 10}), ('b_labelTrainIds.png', {0: 100, 7: 90})]


def test_classes_sorted_by_frequency_and_softmax_values():
    classes, probs = rcs_class_probabilities(STATS, temperature=1.0)
    assert classes == [5, 7, 0]                      # totals 10, 90, 400
    # f = (0.02, 0.18, 0.8) -> logits 1 - f = (0.98, 0.82, 0.2)
    z = [math.exp(0.98), math.exp(0.82), math.exp(0.2)]
    np.testing.assert_allclose(probs, [v / sum(z) for v in z], rtol=1e-6)


def test_low_temperature_concentrates_on_rarest_class():
    _, probs = rcs_class_probabilities(STATS, temperature=0.01)
    # ratio P(7) / P(5) = exp((0.82 - 0.98) / 0.01) = exp(-16)
    assert probs[1] / probs[0] == pytest.approx(math.exp(-16), rel=1e-4)
    assert probs.dtype == np.float32 and probs.sum() == pytest.approx(1.0, abs=1e-6)


def test_bad_temperature_and_empty_stats():
    with pytest.raises(ValueError, match='class_temp'):
        rcs_class_probabilities(STATS, temperature=0)
    with pytest.raises(ValueError, match='no labelled pixels'):
        rcs_class_probabilities([('x', {})], temperature=0.01)
