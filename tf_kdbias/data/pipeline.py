"""tf.data input pipelines from in-memory arrays."""

from typing import Optional

import numpy as np

from tf_kdbias.distill.distiller import INPUTS_KEY, TEACHER_LOGITS_KEY


def make_dataset(inputs: np.ndarray, labels: np.ndarray,
                 teacher_logits: Optional[np.ndarray] = None,
                 batch_size: int = 128, shuffle: bool = False, seed: int = 0,
                 sample_weight: Optional[np.ndarray] = None):
    """Batches (inputs, labels[, sample_weight]); teacher logits ride along.

    The logits are sliced together with the inputs, so shuffling can never
    pair an example with another example's teacher logits.
    """
    import tensorflow as tf

    features = inputs if teacher_logits is None else {
        INPUTS_KEY: inputs, TEACHER_LOGITS_KEY: teacher_logits}
    elements = (features, labels) if sample_weight is None else (features, labels, sample_weight)
    dataset = tf.data.Dataset.from_tensor_slices(elements)
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
