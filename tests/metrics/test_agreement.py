"""Agreement metrics against values computed by hand."""

import numpy as np
import pytest

from tf_kdbias.metrics import agreement
from tf_kdbias.metrics.calibration import PAPER_NUM_BINS


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


def test_class_balanced_accuracy_by_hand():
    # ex:      0  1  2  3  4  5  6  7
    correct = np.array([1, 1, 0, 1, 0, 1, 1, 1], bool)
    labels = np.array([0, 1, 1, 1, 0, 0, 1, 1])
    n = np.array([1, 1, 1, 1, 2, 2, 2, 3])
    m = agreement.agreement_accuracies(correct, n, n, labels=labels,
                                       attractor_groups=(1, 2, 3))
    # Group 1: singular 1/1, plural 2/3; group 2: singular 1/2, plural 1/1;
    # group 3: plural only, so not defined.
    assert m["balanced_accuracy_attractors_1"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert m["balanced_accuracy_attractors_2"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["balanced_accuracy_attractors_3"] is None
    assert m["balanced_a_accuracy"] == pytest.approx(((1 + 2 / 3) / 2 + 0.75) / 2)
    # All examples: singular 2/3, plural 4/5.
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    # Groups 1..3 only: no group 0, and A-accuracy is their mean.
    assert "accuracy_attractors_0" not in m and m["count_attractors_3"] == 1
    assert m["a_accuracy"] == pytest.approx((3 / 4 + 2 / 3 + 1.0) / 3)


def test_constant_guesses_score_half_class_balanced_whatever_the_skew():
    rng = np.random.default_rng(0)
    labels = (rng.random(500) < 0.9).astype(int)  # 90% plural.
    n = rng.integers(1, 6, size=500)
    for guess in (0, 1):
        m = agreement.agreement_accuracies(labels == guess, n, n, labels=labels,
                                           attractor_groups=(1, 2, 3, 4, 5))
        assert m["balanced_accuracy"] == 0.5 and m["balanced_a_accuracy"] == 0.5
        share = [np.mean(labels[n == k] == guess) for k in range(1, 6)]
        assert m["a_accuracy"] == pytest.approx(np.mean(share))


def test_groups_beyond_the_largest_are_skipped():
    correct = np.array([True, False, True])
    n = np.array([4, 5, 6])
    default = agreement.agreement_accuracies(correct, n, n)
    assert default["count_attractors_4"] == 1 and "count_attractors_5" not in default
    wider = agreement.agreement_accuracies(correct, n, n, attractor_groups=(4, 5))
    assert (wider["count_attractors_5"], wider["accuracy_attractors_5"]) == (1, 0.0)


def paper_bin(confidence, num_bins):
    """The bin the paper's estimator (tensorflow-probability's) gives a
    confidence: floor(confidence * B) with the product taken in float32,
    clipped to B - 1 (so 1.0 lands in the last bin). With 10^6 bins the
    float32 rounding can move a confidence next to an edge into the
    neighbouring bin, so it is part of the estimator."""
    product = np.float32(confidence) * np.float32(num_bins)
    return min(int(np.floor(product)), num_bins - 1)


def brute_force_ece(logits, labels, num_bins):
    """A loop over examples, then over the occupied bins. Probabilities are
    float32, as the estimator computes them from float32 logits."""
    sums = {}
    for row, label in zip(np.asarray(logits, np.float32), labels):
        p = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
        b = paper_bin(p.max(), num_bins)
        confidence_sum, right = sums.get(b, (0.0, 0))
        sums[b] = (confidence_sum + float(p.max()), right + int(p.argmax() == label))
    return sum(abs(c - r) for c, r in sums.values()) / len(labels)


@pytest.mark.parametrize("num_bins", [20, PAPER_NUM_BINS])
def test_paper_ece_matches_a_brute_force_loop(num_bins):
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3.0, size=(400, 2))
    logits[:5] = [[0.0, 30.0], [30.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 40.0]]
    labels = rng.integers(0, 2, size=400)
    # The estimator sums in float32, hence the tolerance.
    assert agreement.binary_ece_paper(logits, labels, num_bins) == pytest.approx(
        brute_force_ece(logits, labels, num_bins), abs=1e-6)


def test_paper_ece_with_twenty_bins_equals_the_keras_metric():
    rng = np.random.default_rng(2)
    logits = rng.normal(scale=2.0, size=(300, 2)).astype(np.float32)
    labels = rng.integers(0, 2, size=300)
    assert agreement.binary_ece_paper(logits, labels, 20) == pytest.approx(
        agreement.binary_ece(logits, labels), abs=1e-5)
    assert agreement.binary_ece_paper(np.zeros((0, 2)), np.zeros(0)) is None


def test_empty_groups_are_reported_and_the_authors_convention_is_an_option():
    """Attractor groups 3 and 4 and most distances have no examples: ours
    averages the others and says which were empty; the authors' convention
    counts each empty group as 0."""
    import gin

    correct = np.array([1, 0, 1, 1, 1], bool)
    n_int = np.array([0, 0, 1, 2, 2])
    distance = np.array([1, 2, 2, 4, 4])
    ours = agreement.agreement_accuracies(correct, n_int, n_int, distance)
    assert ours["a_accuracy"] == pytest.approx((0.5 + 1.0 + 1.0) / 3)
    assert ours["a_accuracy_empty_groups"] == 2
    assert ours["d_accuracy"] == pytest.approx((1.0 + 0.5 + 1.0) / 3)  # Distances 1, 2, 4.
    assert ours["d_accuracy_empty_groups"] == 13
    assert agreement.empty_groups(ours) == {
        "attractors": [3, 4], "distance": [3] + list(range(5, 17))}
    gin.parse_config("empty_group_convention.convention = 'zero'")
    try:
        authors = agreement.agreement_accuracies(correct, n_int, n_int, distance)
    finally:
        gin.clear_config()
    assert authors["a_accuracy"] == pytest.approx((0.5 + 1.0 + 1.0 + 0 + 0) / 5)
    assert authors["d_accuracy"] == pytest.approx((1.0 + 0.5 + 1.0) / 16)
    assert authors["a_accuracy_empty_groups"] == 2  # Still said.


def test_an_unknown_empty_group_convention_is_a_user_error():
    from tf_kdbias.errors import UserError

    with pytest.raises(UserError, match="'skip'.*'zero'"):
        agreement.empty_group_convention("ignore")
