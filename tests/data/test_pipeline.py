import numpy as np

from tf_kdbias.data.pipeline import make_dataset
from tf_kdbias.benchmarks.legacy_pipeline import legacy_make_dataset


def arrays(n=300):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28, 1), dtype=np.uint8)
    labels = np.arange(n) % 10
    # Each example's logits encode its index, to check pairing exactly.
    logits = np.repeat(np.arange(n, dtype=np.float32)[:, None], 10, axis=1)
    return images, labels, logits


def epoch_indices(dataset):
    return np.concatenate([features["teacher_logits"].numpy()[:, 0] for features, _ in dataset])


def test_shuffled_epochs_are_permutations_with_logits_paired():
    images, labels, logits = arrays()
    dataset = make_dataset(images, labels, logits, batch_size=64, shuffle=True, seed=1)
    epochs = []
    for _ in range(2):
        for features, batch_labels in dataset:
            index = features["teacher_logits"].numpy()[:, 0].astype(int)
            np.testing.assert_array_equal(features["inputs"].numpy(), images[index])
            np.testing.assert_array_equal(batch_labels.numpy(), labels[index])
        epochs.append(epoch_indices(dataset))
    assert sorted(epochs[0]) == list(range(300))
    assert not np.array_equal(epochs[0], epochs[1])  # Reshuffled every epoch.


def test_same_order_as_shuffling_the_examples_themselves():
    # Runs made before the index-gather pipeline keep their batch order.
    images, labels, logits = arrays()
    new = make_dataset(images, labels, logits, batch_size=64, shuffle=True, seed=5)
    old = legacy_make_dataset(images, labels, logits, batch_size=64, shuffle=True, seed=5)
    np.testing.assert_array_equal(epoch_indices(new), epoch_indices(old))
    assert new.element_spec == old.element_spec


def test_unshuffled_batches_keep_order_and_sample_weights():
    images, labels, _ = arrays(130)
    weights = np.linspace(0, 1, 130).astype(np.float32)
    batches = list(make_dataset(images, labels, batch_size=64, sample_weight=weights))
    assert [len(b[1]) for b in batches] == [64, 64, 2]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), images)
    np.testing.assert_array_equal(np.concatenate([b[2] for b in batches]), weights)


def test_autotuning_stays_off():
    # Its model thread is joined when an iterator is destroyed, which stalled
    # the end of fit() (docs/BENCHMARKS.md).
    images, labels, _ = arrays(10)
    assert make_dataset(images, labels).options().autotune.enabled is False


# The numpy path (backends without tf.data), tested directly: it is pure numpy.

def test_numpy_epoch_batches_depend_only_on_seed_and_epoch():
    from tf_kdbias.data.pipeline import _numpy_epoch_batches
    labels = np.arange(10)
    elements = ({"inputs": labels * 10, "teacher_logits": np.eye(10)[labels]}, labels)
    whole = list(_numpy_epoch_batches(elements, batch_size=4, seed=1, first_epoch=0, epochs=3))
    resumed = list(_numpy_epoch_batches(elements, batch_size=4, seed=1, first_epoch=2, epochs=3))
    assert [len(b[1]) for b in whole] == [4, 4, 2] * 3
    for a, b in zip(whole[6:], resumed):  # Epoch 2 is the same batches either way.
        np.testing.assert_array_equal(a[1], b[1])
    epochs = [np.concatenate([b[1] for b in whole[i:i + 3]]) for i in (0, 3, 6)]
    for order in epochs:
        assert sorted(order) == list(range(10))  # Each epoch is a permutation.
    assert not np.array_equal(epochs[0], epochs[1])
    for features, batch_labels in whole:  # Logits and inputs stay with their labels.
        np.testing.assert_array_equal(np.argmax(features["teacher_logits"], -1), batch_labels)
        np.testing.assert_array_equal(features["inputs"], batch_labels * 10)


def test_array_batches_cover_every_example_once_per_epoch():
    from tf_kdbias.data.pipeline import ArrayBatches
    labels = np.arange(7)
    batches = ArrayBatches((labels * 2, labels, labels % 2), batch_size=3, shuffle=True, seed=0)
    assert len(batches) == 3
    first = np.concatenate([batches[i][1] for i in range(3)])
    batches.on_epoch_end()
    second = np.concatenate([batches[i][1] for i in range(3)])
    assert sorted(first) == sorted(second) == list(range(7))
    assert not np.array_equal(first, second)
    x, y, w = batches[0]
    np.testing.assert_array_equal(x, y * 2)
    np.testing.assert_array_equal(w, y % 2)
