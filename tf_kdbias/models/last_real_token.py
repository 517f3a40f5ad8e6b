"""Pools a padded sequence by reading its last real position."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_kdbias")
class LastRealToken(keras.layers.Layer):
    """Returns `sequence[b, n_b - 1]`, where n_b is row b's number of real tokens.

    Right padding is assumed (as the SVA encoders produce); a row without
    real tokens reads position 0.

    Example:

    >>> x = np.arange(6, dtype="float32").reshape(1, 3, 2)
    >>> LastRealToken()(x, padding_mask=np.array([[True, True, False]])).numpy()
    array([[2., 3.]], dtype=float32)
    """

    def call(self, sequence, padding_mask):
        lengths = ops.sum(ops.cast(padding_mask, "int32"), axis=1)
        last = ops.maximum(lengths - 1, 0)
        return ops.take_along_axis(sequence, last[:, None, None], axis=1)[:, 0, :]

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[0], sequence_shape[-1])

    def get_config(self):
        return super().get_config()
