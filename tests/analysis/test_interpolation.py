"""Weight interpolation, BatchNorm re-estimation and barriers."""

import keras
import numpy as np
import pytest

from tests.analysis import tiny_workdir
from tf_kdbias.analysis import interpolation as I
from tf_kdbias.analysis.workdir import list_runs
from tf_kdbias.data.mnist import ImageSplit
from tf_kdbias.models import channel_maxout  # noqa: F401  Registers the layer.


def load(workdir, name) -> keras.Model:
    return keras.saving.load_model(str(workdir / "runs" / name / "model.keras"), compile=False)


def cross_entropy_and_accuracy(model, split):
    """Written out independently of the module under test."""
    logits = np.asarray(model(split.images, training=False), np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -np.mean(log_probs[np.arange(len(split.labels)), split.labels])
    return loss, np.mean(logits.argmax(axis=1) == split.labels)


@pytest.fixture(scope="module")
def test_split(mnist_test):
    return mnist_test.take(np.arange(300))


def test_interpolate_weights():
    a = [np.zeros((2, 2), np.float32), np.array([1.0, 3.0], np.float32)]
    b = [np.ones((2, 2), np.float32), np.array([3.0, -1.0], np.float32)]
    for got, want in zip(I.interpolate_weights(a, b, 0.0), a):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(I.interpolate_weights(a, b, 1.0), b):
        np.testing.assert_array_equal(got, want)
    middle = I.interpolate_weights(a, b, 0.25)
    np.testing.assert_allclose(middle[1], [1.5, 2.0])
    assert middle[0].dtype == np.float32


def test_barrier():
    assert I.barrier([1.0, 3.0, 2.0]) == pytest.approx(1.5)
    assert I.barrier([1.0, 0.5, 2.0]) == pytest.approx(0.5)  # The worse endpoint counts.
    assert I.barrier([0.9, 0.5, 0.7], higher_is_worse=False) == pytest.approx(0.3)


def test_barrier_above_line():
    alphas = [0.0, 0.5, 1.0]
    assert I.barrier_above_line([1.0, 3.0, 2.0], alphas) == pytest.approx(1.5)
    # Monotone between unequal endpoints: a barrier by max-minus-mean, none above the line.
    assert I.barrier([1.0, 1.5, 2.0]) == pytest.approx(0.5)
    assert I.barrier_above_line([1.0, 1.5, 2.0], alphas) == pytest.approx(0.0)
    assert I.barrier_above_line([1.0, 1.2, 2.0], alphas) == pytest.approx(0.0)


def test_path_endpoints_reproduce_the_endpoint_models(tiny_workdir_path, test_split):
    model_a = load(tiny_workdir_path, "mlp/seed_0")
    model_b = load(tiny_workdir_path, "mlp/seed_1")
    weights_before = [w.copy() for w in model_a.get_weights()]
    path = I.interpolation_path(model_a, model_b, {"test": test_split}, bn_images=None,
                                num_points=3)
    curve = path["curves"]["test"]
    loss_a, accuracy_a = cross_entropy_and_accuracy(model_a, test_split)
    loss_b, accuracy_b = cross_entropy_and_accuracy(model_b, test_split)
    assert path["alphas"] == [0.0, 0.5, 1.0]
    assert curve["loss"][0] == pytest.approx(loss_a, rel=1e-5)
    assert curve["loss"][-1] == pytest.approx(loss_b, rel=1e-5)
    assert (curve["accuracy"][0], curve["accuracy"][-1]) == (accuracy_a, accuracy_b)
    assert path["endpoint_models"]["a"]["test"]["loss"] == pytest.approx(loss_a, rel=1e-5)
    # The midpoint is a different network, and the endpoints were not touched.
    assert curve["loss"][1] != pytest.approx(loss_a, rel=1e-3)
    for before, after in zip(weights_before, model_a.get_weights()):
        np.testing.assert_array_equal(before, after)


def product_model() -> keras.Model:
    """x -> logits [0, x * a * b]: two scalar weights in series (b's first
    output column is 0 at both ends, hence all along the line)."""
    inputs = keras.Input((1,))
    hidden = keras.layers.Dense(1, use_bias=False, name="a")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, use_bias=False, name="b")(hidden))


def test_path_follows_a_loss_known_in_closed_form():
    """With a = 1 -> -2 and b = 1 -> -1.5, the product along the line is
    p(alpha) = (1 - 3 alpha)(1 - 2.5 alpha), so for label 1 the loss is
    mean_i log(1 + exp(-x_i p(alpha))), and p < 0 (wrong class) only on (1/3, 0.4)."""
    model_a, model_b = product_model(), product_model()
    model_a.set_weights([np.array([[1.0]]), np.array([[0.0, 1.0]])])
    model_b.set_weights([np.array([[-2.0]]), np.array([[0.0, -1.5]])])
    x = np.linspace(0.5, 3.0, 12, dtype=np.float32)
    toy = ImageSplit(x[:, None], np.ones(12, np.int64))
    path = I.interpolation_path(model_a, model_b, {"toy": toy}, bn_images=None, num_points=9)

    alphas = np.linspace(0.0, 1.0, 9)  # Steps of 1/8: 0.375 lies in (1/3, 0.4).
    p = (1 - 3 * alphas) * (1 - 2.5 * alphas)
    loss = np.mean(np.logaddexp(0.0, -np.outer(x, p)), axis=0)
    accuracy = np.where((alphas > 1 / 3) & (alphas < 0.4), 0.0, 1.0)
    curve, barrier = path["curves"]["toy"], path["barrier"]["toy"]
    np.testing.assert_allclose(curve["loss"], loss, rtol=1e-5)
    np.testing.assert_array_equal(curve["accuracy"], accuracy)
    assert barrier["loss"] == pytest.approx(loss.max() - 0.5 * (loss[0] + loss[-1]), rel=1e-5)
    line = (1 - alphas) * loss[0] + alphas * loss[-1]
    assert barrier["loss_above_line"] == pytest.approx(np.max(loss - line), rel=1e-5)
    assert barrier["accuracy"] == 1.0  # Both ends right everywhere, one point wrong everywhere.


def test_path_with_batchnorm_reestimation(tiny_workdir_path, test_split, data_dir):
    """The midpoint of the path is the averaged network with re-estimated
    statistics, as composed here by hand, scored by this file's own loss."""
    model_a = load(tiny_workdir_path, "mlp/seed_0")
    model_b = load(tiny_workdir_path, "cnn_to_mlp/seed_0")
    images, _ = tiny_workdir.training_data(data_dir)
    path = I.interpolation_path(model_a, model_b, {"test": test_split}, bn_images=images,
                                num_points=3, seed=5)
    averaged_weights = [0.5 * (a + b) for a, b in zip(model_a.get_weights(),
                                                      model_b.get_weights())]
    keras.utils.set_random_seed(5)
    midpoint = keras.models.clone_model(model_a)
    midpoint.set_weights(averaged_weights)
    for _ in range(2):  # The path re-estimates at alpha 0 first: the same dropout draws.
        I.reestimate_batchnorm(midpoint, images)
    loss, accuracy = cross_entropy_and_accuracy(midpoint, test_split)
    curve = path["curves"]["test"]
    assert curve["loss"][1] == pytest.approx(loss, rel=1e-4)
    assert curve["accuracy"][1] == pytest.approx(accuracy)
    # Re-estimation matters: the averaged stored statistics give another loss.
    averaged = keras.models.clone_model(model_a)
    averaged.set_weights(averaged_weights)
    assert cross_entropy_and_accuracy(averaged, test_split)[0] != pytest.approx(loss, rel=1e-3)


@pytest.mark.parametrize("architecture,bn_input_layer,frozen", [
    ("mlp", "relu0", False), ("cnn", "maxout0", False),
    ("mlp", "relu0", True)])  # A frozen model (trainable=False), like a loaded teacher.
def test_reestimated_statistics_are_averages_of_batch_statistics(architecture, bn_input_layer,
                                                                frozen, data_dir):
    keras.utils.set_random_seed(0)
    model = tiny_workdir.tiny_model(architecture)
    model.trainable = not frozen
    images, _ = tiny_workdir.training_data(data_dir)
    images = images[:300]  # Two batches of 128; the last 44 images are dropped.
    I.reestimate_batchnorm(model, images, batch_size=128)
    # bn0 comes before any Dropout, so its input is deterministic.
    bn_input = keras.Model(model.input, model.get_layer(bn_input_layer).output)
    axes = tuple(range(len(bn_input.output.shape) - 1))
    batches = [np.asarray(bn_input(images[k:k + 128]), np.float64) for k in (0, 128)]
    expected_mean = np.mean([b.mean(axis=axes) for b in batches], axis=0)
    expected_variance = np.mean([b.var(axis=axes) for b in batches], axis=0)
    bn = model.get_layer("bn0")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_mean), expected_mean,
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_variance), expected_variance,
                               rtol=1e-3, atol=1e-6)
    assert bn.momentum == 0.99  # Restored.
    assert bn.trainable == (not frozen)  # Restored too.


def test_choose_pairs(tiny_workdir_path):
    runs = list_runs(str(tiny_workdir_path))
    names = lambda pairs: [(a.name, b.name) for a, b in pairs]  # noqa: E731
    assert names(I.choose_pairs(runs, "same_setup")) == [("mlp/seed_0", "mlp/seed_1")]
    assert names(I.choose_pairs(runs, "same_architecture")) == [
        ("mlp/seed_0", "mlp/seed_1"), ("mlp/seed_0", "cnn_to_mlp/seed_0"),
        ("mlp/seed_1", "cnn_to_mlp/seed_0")]
