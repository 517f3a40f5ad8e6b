"""Reads position 0 of a sequence (the CLS slot)."""

import keras


@keras.saving.register_keras_serializable(package="tf_kdbias")
class FirstPosition(keras.layers.Layer):
    """Returns `sequence[:, 0, :]`.

    Example:

    >>> FirstPosition()(np.arange(6, dtype="float32").reshape(1, 3, 2)).numpy()
    array([[0., 1.]], dtype=float32)
    """

    def call(self, sequence):
        return sequence[:, 0, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return super().get_config()
