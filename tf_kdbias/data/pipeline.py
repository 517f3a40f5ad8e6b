"""Input pipelines from in-memory arrays: tf.data, or numpy without TensorFlow.

On the TensorFlow backend batches come from tf.data. On the other backends
(JAX, PyTorch) they come from numpy, so those need no TensorFlow installed;
the element structure, the batching and the pairing of each example with its
teacher logits are the same, and so is the contract of `make_epoch_dataset`
(the order of epoch e is a pure function of (seed, e)), although the two
permutations differ (tf.random index_shuffle vs numpy's Generator).
"""

from typing import Optional

import keras
import numpy as np

from tf_kdbias.batch_format import INPUTS_KEY, TEACHER_LOGITS_KEY

# Batches prepared ahead of the training step. One batch is a single gather,
# far cheaper than a training step, so two are enough to never wait.
PREFETCH_BATCHES = 2


def make_dataset(inputs: np.ndarray, labels: np.ndarray,
                 teacher_logits: Optional[np.ndarray] = None,
                 batch_size: int = 128, shuffle: bool = False, seed: int = 0,
                 sample_weight: Optional[np.ndarray] = None):
    """Batches (inputs, labels[, sample_weight]); teacher logits ride along.

    The pipeline shuffles and batches example *indices* and gathers every
    array with the same index batch, so shuffling can never pair an example
    with another example's teacher logits. Shuffling indices gives the same
    order as shuffling the examples themselves (same seed, same buffer), but
    costs one gather per batch instead of per-example work in tf.data, which
    competes with training for the CPU.

    tf.data autotuning is off: its model thread is joined in the iterator's
    destructor, which made fit() hang for up to seconds after its last epoch
    (docs/BENCHMARKS.md, "fit() exit stall"). Nothing here needs tuning.
    """
    if not _use_tf_data():
        return ArrayBatches(_elements(inputs, labels, teacher_logits, sample_weight),
                            batch_size, shuffle=shuffle, seed=seed)
    import tensorflow as tf

    gather_batch = _batch_gatherer(inputs, labels, teacher_logits, sample_weight)
    indices = tf.data.Dataset.range(len(labels))
    if shuffle:
        indices = indices.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    dataset = indices.batch(batch_size).map(gather_batch).prefetch(PREFETCH_BATCHES)
    return dataset.with_options(_options_without_autotune())


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    """Batches in one pass, the last one possibly partial."""
    return -(-num_examples // batch_size)


def make_epoch_dataset(inputs: np.ndarray, labels: np.ndarray,
                       teacher_logits: Optional[np.ndarray] = None,
                       batch_size: int = 128, seed: int = 0, first_epoch: int = 0,
                       epochs: int = 1, sample_weight: Optional[np.ndarray] = None):
    """Shuffled training batches of epochs `first_epoch` .. `epochs - 1`, in order.

    Unlike `make_dataset(shuffle=True)`, whose order in an epoch depends on
    how many epochs the process has already drawn, the order of epoch `e` is
    a pure function of `(seed, e)`, so a run resumed at epoch `e` sees exactly
    the batches an uninterrupted run sees. Fit it with
    `steps_per_epoch=steps_per_epoch(len(labels), batch_size)`, so that Keras
    keeps one iterator across epochs.

    Like `make_dataset`, each batch gathers every array with the same
    indices, so teacher logits stay paired with their examples.
    """
    if not _use_tf_data():
        return _numpy_epoch_batches(_elements(inputs, labels, teacher_logits, sample_weight),
                                    batch_size, seed, first_epoch, epochs)
    import tensorflow as tf

    num_examples = len(labels)
    steps = steps_per_epoch(num_examples, batch_size)
    gather_batch = _batch_gatherer(inputs, labels, teacher_logits, sample_weight)
    last_index = tf.constant(num_examples - 1, tf.int64)

    def batch_at(global_step):
        epoch = global_step // steps
        start = (global_step % steps) * batch_size
        positions = tf.range(start, tf.minimum(start + batch_size, num_examples))
        # A stateless permutation of the examples, one per (seed, epoch).
        order = tf.random.experimental.index_shuffle(
            positions, tf.stack([tf.constant(seed, tf.int64), epoch]), last_index)
        return gather_batch(order)

    steps_range = tf.data.Dataset.range(first_epoch * steps, epochs * steps)
    dataset = steps_range.map(batch_at).prefetch(PREFETCH_BATCHES)
    options = _options_without_autotune()
    # In-memory data has no files to split among workers (the default policy
    # tries that first, and warns): each worker takes its part of every batch.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return dataset.with_options(options)


def _use_tf_data() -> bool:
    return keras.config.backend() == "tensorflow"


def _elements(inputs, labels, teacher_logits, sample_weight):
    """The structure of one batch: (features, labels[, sample_weight])."""
    features = inputs if teacher_logits is None else {
        INPUTS_KEY: inputs, TEACHER_LOGITS_KEY: teacher_logits}
    return (features, labels) if sample_weight is None else (features, labels, sample_weight)


def _gather(elements, indices):
    return keras.tree.map_structure(lambda column: column[indices], elements)


def epoch_order(num_examples: int, seed: int, epoch: int) -> np.ndarray:
    """The numpy path's permutation of the examples for (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(num_examples)


class ArrayBatches(keras.utils.PyDataset):
    """Batches of in-memory arrays for `fit`/`evaluate` on backends without tf.data.

    Args:
      elements: a tuple (features, labels[, sample_weight]) of arrays (or
        dicts of arrays) with a common first dimension.
      batch_size: examples per batch; the last batch may be smaller.
      shuffle: reshuffle every epoch, seeded by (seed, epoch).
      seed: the shuffling seed.

    Example:

    >>> batches = ArrayBatches((images, labels), batch_size=128)
    >>> model.evaluate(batches)
    """

    def __init__(self, elements, batch_size: int, shuffle: bool = False, seed: int = 0):
        super().__init__()
        self.elements = elements
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.num_examples = len(keras.tree.flatten(elements)[0])
        self.epoch = 0
        self.order = self._order()

    def _order(self):
        if not self.shuffle:
            return np.arange(self.num_examples)
        return epoch_order(self.num_examples, self.seed, self.epoch)

    def __len__(self):
        return steps_per_epoch(self.num_examples, self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch {index} of {len(self)}.")
        start = index * self.batch_size
        return _gather(self.elements, self.order[start:start + self.batch_size])

    def on_epoch_end(self):
        self.epoch += 1
        self.order = self._order()


def _numpy_epoch_batches(elements, batch_size, seed, first_epoch, epochs):
    """Batches of epochs `first_epoch` .. `epochs - 1` as one generator (numpy path)."""
    num_examples = len(keras.tree.flatten(elements)[0])
    for epoch in range(first_epoch, epochs):
        order = epoch_order(num_examples, seed, epoch)
        for start in range(0, num_examples, batch_size):
            yield _gather(elements, order[start:start + batch_size])


def _batch_gatherer(inputs, labels, teacher_logits, sample_weight):
    """A function from an index batch to the batch of every array."""
    import tensorflow as tf

    elements = _elements(inputs, labels, teacher_logits, sample_weight)
    # On the host: tf.data runs on the CPU, and a GPU copy would travel back.
    with tf.device("/cpu:0"):
        columns = tf.nest.map_structure(tf.convert_to_tensor, elements)

    def gather_batch(indices):
        return tf.nest.map_structure(lambda column: tf.gather(column, indices), columns)

    return gather_batch


def _options_without_autotune():
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options
