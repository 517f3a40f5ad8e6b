"""Token embeddings plus learned absolute position embeddings."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_kdbias")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Embeds token ids and adds a learned embedding of each position (GPT-2).

    `layer(hidden, reverse=True)` maps hidden states back to vocabulary
    logits with the transposed token table (plus an output bias when
    `use_output_bias`): a GPT-2 language model's output tied to its input
    embedding.

    Args:
      vocabulary_size: number of token ids.
      hidden_dim: embedding width.
      max_length: longest sequence the position table covers; longer inputs
        are an error, so callers truncate (the SVA encoders do).
      embeddings_initializer: initializer of both tables.
      use_output_bias: give the reverse mapping a learned bias per token.

    Example:

    >>> layer = TokenAndPositionEmbedding(vocabulary_size=10, hidden_dim=4, max_length=8)
    >>> layer(np.array([[1, 2, 0]])).shape
    (1, 3, 4)
    >>> layer(np.zeros((1, 3, 4)), reverse=True).shape
    (1, 3, 10)
    """

    def __init__(self, vocabulary_size: int, hidden_dim: int, max_length: int,
                 embeddings_initializer="glorot_uniform", use_output_bias: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = int(vocabulary_size)
        self.hidden_dim = int(hidden_dim)
        self.max_length = int(max_length)
        self.use_output_bias = bool(use_output_bias)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.token_embedding = keras.layers.Embedding(
            self.vocabulary_size, self.hidden_dim,
            embeddings_initializer=self.embeddings_initializer, name="token_embedding")
        self.position_embedding = keras.layers.Embedding(
            self.max_length, self.hidden_dim,
            embeddings_initializer=self.embeddings_initializer, name="position_embedding")

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        self.position_embedding.build((self.max_length,))
        self.output_bias = (self.add_weight(shape=(self.vocabulary_size,), initializer="zeros",
                                            name="output_bias")
                            if self.use_output_bias else None)

    def call(self, inputs, reverse=False):
        if reverse:
            logits = ops.matmul(inputs, ops.transpose(self.token_embedding.embeddings))
            return logits if self.output_bias is None else logits + self.output_bias
        length = ops.shape(inputs)[1]
        positions = ops.arange(length, dtype="int32")
        return self.token_embedding(inputs) + self.position_embedding(positions)[None]

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return tuple(input_shape[:-1]) + (self.vocabulary_size,)
        return tuple(input_shape) + (self.hidden_dim,)

    def compute_output_spec(self, inputs, reverse=False):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape, reverse),
                                 dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "hidden_dim": self.hidden_dim, "max_length": self.max_length,
                "use_output_bias": self.use_output_bias,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer)}
