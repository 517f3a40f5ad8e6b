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

    features = inputs if teacher_logits is None else {
        INPUTS_KEY: inputs, TEACHER_LOGITS_KEY: teacher_logits}
    elements = (features, labels) if sample_weight is None else (features, labels, sample_weight)
    # On the host: tf.data runs on the CPU, and a GPU copy would travel back.
    with tf.device("/cpu:0"):
        columns = tf.nest.map_structure(tf.convert_to_tensor, elements)

    def gather_batch(indices):
        return tf.nest.map_structure(lambda column: tf.gather(column, indices), columns)

    indices = tf.data.Dataset.range(len(labels))
    if shuffle:
        indices = indices.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    dataset = indices.batch(batch_size).map(gather_batch).prefetch(PREFETCH_BATCHES)
    return dataset.with_options(_options_without_autotune())


def _options_without_autotune():
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options
