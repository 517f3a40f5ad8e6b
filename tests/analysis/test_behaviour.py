"""Per-sample behaviour measures against values worked out by hand."""

import math

import numpy as np
import pytest

from tf_kdbias.analysis import behaviour as B


def logits_of(probabilities) -> np.ndarray:
    return np.log(np.asarray(probabilities, np.float64))


def test_agreement_counts_equal_top_classes():
    a = np.array([[2.0, 0.0], [0.0, 1.0], [5.0, 1.0], [0.0, 3.0]])
    b = np.array([[1.0, 0.0], [1.0, 0.0], [9.0, 1.0], [1.0, 0.0]])
    assert B.prediction_agreement(a, b) == pytest.approx(0.5)


def test_jaccard_of_error_sets():
    a = np.array([1, 1, 0, 1, 0], bool)
    b = np.array([0, 1, 0, 1, 1], bool)
    assert B.error_jaccard(a, b) == pytest.approx(2 / 4)
    assert B.error_jaccard(np.zeros(3, bool), np.zeros(3, bool)) == 1.0
    assert B.error_jaccard(np.array([1, 0], bool), np.array([0, 1], bool)) == 0.0


def test_kl_matches_the_closed_form_and_is_asymmetric():
    p = logits_of([[0.5, 0.5], [0.2, 0.8]])
    q = logits_of([[0.9, 0.1], [0.2, 0.8]])
    first = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert B.mean_kl(p, q) == pytest.approx(first / 2)
    reverse = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    assert B.mean_kl(q, p) == pytest.approx(reverse / 2)
    # Logits are only defined up to a constant per example.
    assert B.mean_kl(p + 7.0, p) == pytest.approx(0.0, abs=1e-12)


def test_behaviour_matrices():
    labels = np.array([0, 1, 1, 0])
    right = np.eye(2)[labels] * 3
    wrong_last = right.copy()
    wrong_last[-1] = [0, 3]
    result = B.behaviour_matrices([right, wrong_last, wrong_last], labels)
    assert result["accuracy"] == [1.0, 0.75, 0.75]
    np.testing.assert_allclose(result["agreement"], [[1, .75, .75], [.75, 1, 1], [.75, 1, 1]])
    # Model 0 makes no errors, model 1 one: the union has one error, the intersection none.
    np.testing.assert_allclose(result["error_jaccard"], [[1, 0, 0], [0, 1, 1], [0, 1, 1]])
    kl = np.array(result["kl"])
    np.testing.assert_allclose(np.diag(kl), 0)
    assert kl[0, 1] > 0 and kl[1, 2] == pytest.approx(0)
    assert kl[0, 1] == pytest.approx(B.mean_kl(right, wrong_last))
