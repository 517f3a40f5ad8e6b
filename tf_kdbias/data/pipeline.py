"""tf.data input pipelines from in-memory arrays."""

from typing import Optional

import numpy as np

from tf_kdbias.distill.distiller import INPUTS_KEY, TEACHER_LOGITS_KEY

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


def _batch_gatherer(inputs, labels, teacher_logits, sample_weight):
    """A function from an index batch to the batch of every array."""
    import tensorflow as tf

    features = inputs if teacher_logits is None else {
        INPUTS_KEY: inputs, TEACHER_LOGITS_KEY: teacher_logits}
    elements = (features, labels) if sample_weight is None else (features, labels, sample_weight)
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
