"""An embedding whose transpose also maps hidden states to vocabulary logits."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_kdbias")
class TiedEmbedding(keras.layers.Layer):
    """A token embedding that can also run in reverse.

    `layer(ids)` embeds; `layer(hidden, reverse=True)` returns `hidden @ E^T`
    (plus an optional output bias): language-model logits with input and
    output embeddings tied (Press & Wolf, 2017).

    Args:
      vocabulary_size: number of token ids.
      hidden_dim: embedding width (the hidden width the LM ends in).
      use_output_bias: add a learned bias per vocabulary entry in reverse.
      embeddings_initializer: initializer of the embedding table.

    Example:

    >>> layer = TiedEmbedding(10, 4)
    >>> h = layer(np.array([[1, 2]]))
    >>> layer(h, reverse=True).shape
    (1, 2, 10)
    """

    def __init__(self, vocabulary_size: int, hidden_dim: int, use_output_bias: bool = True,
                 embeddings_initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = int(vocabulary_size)
        self.hidden_dim = int(hidden_dim)
        self.use_output_bias = bool(use_output_bias)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        # The reverse call receives masked hidden states; logits need no mask.
        self.supports_masking = True

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(shape=(self.vocabulary_size, self.hidden_dim),
                                          initializer=self.embeddings_initializer,
                                          name="embeddings")
        self.output_bias = (self.add_weight(shape=(self.vocabulary_size,), initializer="zeros",
                                            name="output_bias")
                            if self.use_output_bias else None)

    def call(self, inputs, reverse=False):
        if not reverse:
            return ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)
        logits = ops.matmul(inputs, ops.transpose(self.embeddings))
        return logits + self.output_bias if self.output_bias is not None else logits

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_spec(self, inputs, reverse=False):
        if reverse:
            shape = tuple(inputs.shape[:-1]) + (self.vocabulary_size,)
        else:
            shape = tuple(inputs.shape) + (self.hidden_dim,)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "hidden_dim": self.hidden_dim, "use_output_bias": self.use_output_bias,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer)}
