import numpy as np
import pytest

from tf_kdbias.metrics.calibration import ExpectedCalibrationError
from tf_kdbias.metrics.evaluation import evaluate_logits


def brute_force_ece(probs, labels, num_bins):
    """ECE by looping over examples and bins, as its definition reads."""
    total, ece = len(labels), 0.0
    for b in range(num_bins):
        lo, hi = b / num_bins, (b + 1) / num_bins
        members = [i for i in range(total)
                   if lo <= probs[i].max() < hi or (b == num_bins - 1 and probs[i].max() == 1.0)]
        if not members:
            continue
        confidence = sum(probs[i].max() for i in members) / len(members)
        accuracy = sum(int(np.argmax(probs[i]) == labels[i]) for i in members) / len(members)
        ece += len(members) / total * abs(accuracy - confidence)
    return ece


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("num_bins", [1, 10, 15, 20])
def test_ece_matches_brute_force_over_batches(num_bins):
    rng = np.random.default_rng(num_bins)
    logits = rng.normal(scale=3.0, size=(503, 10)).astype(np.float32)
    labels = rng.integers(0, 10, size=503)
    metric = ExpectedCalibrationError(num_bins=num_bins)
    for start in range(0, 503, 64):  # Streaming: uneven last batch.
        metric.update_state(labels[start:start + 64], logits[start:start + 64])
    expected = brute_force_ece(softmax(logits.astype(np.float64)), labels, num_bins)
    assert float(metric.result()) == pytest.approx(expected, abs=1e-5)


def test_ece_of_perfectly_calibrated_bins_is_zero():
    # Two examples at confidence 0.75 in one bin, one of them... use 4: 3 right, 1 wrong.
    probs = np.array([[0.75, 0.25]] * 4, dtype=np.float32)
    labels = np.array([0, 0, 0, 1])
    metric = ExpectedCalibrationError(num_bins=10, from_logits=False)
    metric.update_state(labels, probs)
    assert float(metric.result()) == pytest.approx(0.0, abs=1e-6)


def test_ece_reset_and_overconfidence():
    metric = ExpectedCalibrationError(num_bins=10, from_logits=False)
    metric.update_state([1, 1], [[0.9, 0.1], [0.9, 0.1]])  # Confident and always wrong.
    assert float(metric.result()) == pytest.approx(0.9, abs=1e-6)
    metric.reset_state()
    metric.update_state([0], [[0.55, 0.45]])
    assert float(metric.result()) == pytest.approx(0.45, abs=1e-6)


def test_evaluate_logits_against_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 10)).astype(np.float32)
    labels = rng.integers(0, 10, size=200)
    result = evaluate_logits(logits, labels, num_bins=15)
    probs = softmax(logits.astype(np.float64))
    assert result["accuracy"] == pytest.approx(np.mean(probs.argmax(1) == labels))
    assert result["nll"] == pytest.approx(-np.mean(np.log(probs[np.arange(200), labels])), rel=1e-5)
    assert result["ece"] == pytest.approx(brute_force_ece(probs, labels, 15), abs=1e-5)
