"""Agreement metrics against values computed by hand."""

import numpy as np
import pytest

from tf_kdbias.metrics import agreement


def test_micro_a_and_d_accuracy_by_hand():
    # ex: 0     1     2     3     4     5     6     7
    correct = np.array([1, 0, 1, 1, 0, 1, 1, 0], bool)
    n_int = np.array([0, 0, 1, 2, 2, 1, 5, 0])
    n_diff = np.array([0, 0, 1, 2, 1, 1, 5, 0])
    distance = np.array([1, 1, 3, 5, 5, 3, 9, 17])
    m = agreement.agreement_accuracies(correct, n_int, n_diff, distance)
    assert m["micro_accuracy"] == pytest.approx(5 / 8)  # All examples.
    # Grouped metrics skip ex 6 (5 intervening) and ex 7 (distance 17);
    # ex 4 has a non-attractor intervening noun: no attractor group.
    assert (m["count_attractors_0"], m["accuracy_attractors_0"]) == (2, 0.5)  # ex 0, 1
    assert (m["count_attractors_1"], m["accuracy_attractors_1"]) == (2, 1.0)  # ex 2, 5
    assert (m["count_attractors_2"], m["accuracy_attractors_2"]) == (1, 1.0)  # ex 3
    assert m["count_attractors_3"] == 0 and m["accuracy_attractors_3"] is None
    assert m["a_accuracy"] == pytest.approx((0.5 + 1.0 + 1.0) / 3)
    # Distances: 1 -> ex 0, 1 (0.5); 3 -> ex 2, 5 (1.0); 5 -> ex 3, 4 (0.5).
    assert m["accuracy_distance_5"] == 0.5 and m["count_distance_9"] == 0
    assert m["d_accuracy"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)


def test_d_accuracy_is_not_available_without_distances():
    m = agreement.agreement_accuracies(np.array([True, False]), np.array([0, 1]),
                                       np.array([0, 1]), distance=None)
    assert m["d_accuracy"] is None and "accuracy_distance_1" not in m
    assert m["a_accuracy"] == pytest.approx(0.5)


def test_binary_ece_with_twenty_bins_by_hand():
    # Confidences 0.731 (bin 14) right, 0.731 wrong, 0.982 (bin 19) right.
    logits = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 4.0]], np.float32)
    labels = np.array([0, 1, 1])
    low, high = 1 / (1 + np.exp(-1.0)), 1 / (1 + np.exp(-4.0))
    expected = 2 / 3 * abs(0.5 - low) + 1 / 3 * abs(1.0 - high)
    assert agreement.binary_ece(logits, labels) == pytest.approx(expected, abs=1e-6)


def test_nll_and_perplexity():
    logits = np.log(np.array([[0.25, 0.75], [0.5, 0.5]], np.float32))
    assert agreement.mean_nll(logits, np.array([1, 0])) == pytest.approx(
        -(np.log(0.75) + np.log(0.5)) / 2, rel=1e-5)
    assert agreement.perplexity(2 * np.log(4.0), 2) == pytest.approx(4.0)
    assert agreement.perplexity(0.0, 0) is None
