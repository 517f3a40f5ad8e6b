"""Prepends a fixed token id to every sequence (a BERT-style CLS slot)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_kdbias")
class PrependToken(keras.layers.Layer):
    """Adds `token_id` at position 0 of each row of token ids.

    The Transformer classifier reads its prediction at this position. Using a
    vocabulary id (`<bos>`, which never occurs in classification inputs)
    makes the CLS vector an ordinary learned embedding and keeps it unmasked.

    Args:
      token_id: the id put in front.

    Example:

    >>> PrependToken(token_id=2)(np.array([[5, 0]])).numpy()
    array([[2, 5, 0]], dtype=int32)
    """

    def __init__(self, token_id: int, **kwargs):
        super().__init__(**kwargs)
        self.token_id = int(token_id)

    def call(self, token_ids):
        batch = ops.shape(token_ids)[0]
        first = ops.full((batch, 1), self.token_id, dtype=token_ids.dtype)
        return ops.concatenate([first, token_ids], axis=1)

    def compute_output_spec(self, token_ids):
        length = None if token_ids.shape[1] is None else token_ids.shape[1] + 1
        return keras.KerasTensor((token_ids.shape[0], length), dtype=token_ids.dtype)

    def get_config(self):
        return {**super().get_config(), "token_id": self.token_id}
