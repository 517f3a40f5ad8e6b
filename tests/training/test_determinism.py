"""Same seed -> identical metrics.json (CPU); another seed -> another run.
The training order is a pure function of (seed, epoch)."""

import numpy as np

from tests.tiny_runs import TINY_RUN_BINDINGS, run_in_process
from tf_kdbias.data.pipeline import make_epoch_dataset
from tf_kdbias.rundir import comparable_metrics


def test_same_seed_same_metrics_other_seed_other_run(tiny_run, tmp_path, data_dir):
    _, first = tiny_run
    again = run_in_process(tmp_path / "again", data_dir)
    other = run_in_process(tmp_path / "other", data_dir,
                           bindings=TINY_RUN_BINDINGS + ("SEED = 1",))
    assert comparable_metrics(again) == comparable_metrics(first)
    assert other["seed"] == 1
    assert other["history"]["loss"] != first["history"]["loss"]
    assert other["eval"] != first["eval"]


def batch_indices(dataset):
    """Per batch, the example indices (read back from the teacher logits)."""
    return [features["teacher_logits"].numpy()[:, 0].astype(int) for features, _ in dataset]


def index_arrays(n):
    images = np.zeros((n, 2), np.uint8)
    labels = np.arange(n) % 10
    logits = np.repeat(np.arange(n, dtype=np.float32)[:, None], 10, axis=1)
    return images, labels, logits


def test_epoch_order_depends_only_on_seed_and_epoch():
    images, labels, logits = index_arrays(100)
    full = batch_indices(make_epoch_dataset(images, labels, logits, batch_size=32, seed=3,
                                            epochs=3))
    resumed = batch_indices(make_epoch_dataset(images, labels, logits, batch_size=32, seed=3,
                                               first_epoch=2, epochs=3))
    assert [len(b) for b in full] == [32, 32, 32, 4] * 3  # Epochs never share a batch.
    epochs = [np.concatenate(full[4 * e:4 * e + 4]) for e in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(100))
    assert not np.array_equal(epochs[0], epochs[1])
    np.testing.assert_array_equal(np.concatenate(resumed), epochs[2])
    other_seed = batch_indices(make_epoch_dataset(images, labels, logits, batch_size=32,
                                                  seed=4, epochs=1))
    assert not np.array_equal(np.concatenate(other_seed), epochs[0])


def test_epoch_batches_keep_examples_with_their_logits_and_weights():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(70, 4, 4, 1), dtype=np.uint8)
    labels = np.arange(70) % 10
    logits = np.repeat(np.arange(70, dtype=np.float32)[:, None], 10, axis=1)
    weights = np.linspace(0, 1, 70).astype(np.float32)
    for features, batch_labels, batch_weights in make_epoch_dataset(
            images, labels, logits, batch_size=16, seed=1, epochs=2, sample_weight=weights):
        index = features["teacher_logits"].numpy()[:, 0].astype(int)
        np.testing.assert_array_equal(features["inputs"].numpy(), images[index])
        np.testing.assert_array_equal(batch_labels.numpy(), labels[index])
        np.testing.assert_array_equal(batch_weights.numpy(), weights[index])
