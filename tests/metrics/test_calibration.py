import numpy as np
import pytest

from tf_kdbias.metrics.calibration import PAPER_NUM_BINS, ExpectedCalibrationError
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


def brute_force_sparse_ece(confidence, correct, num_bins):
    """ECE by walking the examples and filling a dict of bins.

    Bins follow tensorflow-probability's estimator (the paper's): an example's
    bin is floor(confidence * B) computed in float32, clipped to B - 1 (so 1.0
    lands in the last bin). With a million bins that rounding moves some
    examples to a neighbouring bin, so the convention is part of the estimator.
    """
    bins = {}
    for c, right in zip(np.asarray(confidence, np.float32), correct):
        b = min(int(np.floor(np.float32(c) * np.float32(num_bins))), num_bins - 1)
        n, conf_sum, right_sum = bins.get(b, (0, 0.0, 0))
        bins[b] = (n + 1, conf_sum + float(c), right_sum + int(right))
    return sum(abs(right_sum - conf_sum) for _, conf_sum, right_sum in bins.values()) / len(correct)


def _confidence_and_correct(logits, labels):
    probs = np.asarray(softmax(logits.astype(np.float32)), np.float32)
    return probs.max(axis=1), probs.argmax(axis=1) == labels


def test_paper_ece_equals_mean_gap_when_every_example_has_its_own_bin():
    """A closed form: with one example per bin, ECE = mean |confidence - correct|."""
    confidence = np.array([0.31, 0.52, 0.77, 0.99], np.float32)
    probs = np.stack([confidence, 1.0 - confidence], axis=1)
    labels = np.array([0, 1, 0, 0])
    metric = ExpectedCalibrationError(num_bins=PAPER_NUM_BINS, from_logits=False)
    metric.update_state(labels, probs)
    gaps = np.abs(confidence.astype(np.float64) - np.array([1, 0, 1, 1]))
    assert float(metric.result()) == pytest.approx(gaps.mean(), abs=1e-6)


@pytest.fixture(scope="module")
def trained_model_logits(mnist_test):
    """Logits of a small softmax classifier trained on 5000 MNIST test images,
    scored on 3000 others: confident, mostly right, some near-1 mistakes."""
    import keras

    keras.utils.set_random_seed(0)
    images = mnist_test.images.reshape(len(mnist_test.images), -1).astype(np.float32) / 255.0
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(10)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images[:5000], mnist_test.labels[:5000], epochs=3, batch_size=64, verbose=0)
    return np.asarray(model.predict(images[7000:], verbose=0)), mnist_test.labels[7000:]


def test_paper_ece_on_a_trained_model_matches_brute_force(trained_model_logits):
    logits, labels = trained_model_logits
    metric = ExpectedCalibrationError(num_bins=PAPER_NUM_BINS, name="ece_paper")
    for start in range(0, len(labels), 1000):  # Streaming over batches.
        metric.update_state(labels[start:start + 1000], logits[start:start + 1000])
    confidence, correct = _confidence_and_correct(logits, labels)
    expected = brute_force_sparse_ece(confidence, correct, PAPER_NUM_BINS)
    assert correct.mean() > 0.85  # Really trained, so the check is on realistic predictions.
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)
    # evaluate_logits reports the same number as `ece_paper`, and a smaller 15-bin `ece`.
    result = evaluate_logits(logits, labels)
    assert result["ece_paper"] == pytest.approx(expected, abs=1e-6)
    assert result["ece"] < result["ece_paper"]


def test_million_bins_need_no_one_hot():
    """A [batch, bins] one-hot of 10k examples by 1e6 bins would be 40 GB; the metric
    takes a 10k batch in one update. Random labels put right and wrong examples in
    shared bins, so a misplaced example would show."""
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=4.0, size=(10000, 10)).astype(np.float32)
    labels = rng.integers(0, 10, size=10000)
    probs = np.asarray(softmax(logits), np.float32)  # The same confidences on both sides.
    metric = ExpectedCalibrationError(num_bins=PAPER_NUM_BINS, from_logits=False)
    metric.update_state(labels, probs)
    expected = brute_force_sparse_ece(probs.max(axis=1), probs.argmax(axis=1) == labels,
                                      PAPER_NUM_BINS)
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)
