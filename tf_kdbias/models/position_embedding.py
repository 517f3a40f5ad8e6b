"""Token embeddings plus learned absolute position embeddings."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_kdbias")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Embeds token ids and adds a learned embedding of each position (GPT-2).

    Args:
      vocabulary_size: number of token ids.
      hidden_dim: embedding width.
      max_length: longest sequence the position table covers; longer inputs
        are an error, so callers truncate (the SVA encoders do).
      embeddings_initializer: initializer of both tables.

    Example:

    >>> layer = TokenAndPositionEmbedding(vocabulary_size=10, hidden_dim=4, max_length=8)
    >>> layer(np.array([[1, 2, 0]])).shape
    (1, 3, 4)
    """

    def __init__(self, vocabulary_size: int, hidden_dim: int, max_length: int,
                 embeddings_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = int(vocabulary_size)
        self.hidden_dim = int(hidden_dim)
        self.max_length = int(max_length)
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

    def call(self, token_ids):
        length = ops.shape(token_ids)[1]
        positions = ops.arange(length, dtype="int32")
        return self.token_embedding(token_ids) + self.position_embedding(positions)[None]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.hidden_dim,)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "hidden_dim": self.hidden_dim, "max_length": self.max_length,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer)}
