"""The mask of real tokens of a padded batch of token ids."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_kdbias")
class PaddingMask(keras.layers.Layer):
    """Returns `token_ids != pad_id` as a boolean mask.

    Every SVA model computes this once and hands it to its recurrent,
    attention and pooling layers, so padding is masked explicitly rather
    than by Keras' implicit mask propagation.

    Args:
      pad_id: the padding id (0 = `<pad>` in every SVA vocabulary).

    Example:

    >>> PaddingMask()(np.array([[5, 7, 0]])).numpy()
    array([[ True,  True, False]])
    """

    def __init__(self, pad_id: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.pad_id = int(pad_id)

    def call(self, token_ids):
        return ops.not_equal(token_ids, self.pad_id)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, token_ids):
        return keras.KerasTensor(token_ids.shape, dtype="bool")

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}
