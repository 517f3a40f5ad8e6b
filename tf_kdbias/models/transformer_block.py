"""A pre-LayerNorm (GPT-2) Transformer block with explicit padding masks."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_kdbias")
class TransformerBlock(keras.layers.Layer):
    """x + Dropout(SelfAttention(LN(x))), then x + Dropout(MLP(LN(x))).

    The MLP is Dense(mlp_ratio * d, GELU) -> Dense(d). Attention never looks
    at padding: the key mask is the padding mask, combined with a causal
    mask when `causal`. Padding rows produce values nobody reads.

    Args:
      num_heads: attention heads; must divide the input width.
      mlp_ratio: MLP width as a multiple of the input width.
      residual_dropout: dropout on each branch before the residual add.
      attention_dropout: dropout on the attention probabilities.
      causal: whether position i may attend only to positions <= i.

    Example:

    >>> block = TransformerBlock(num_heads=2, causal=True)
    >>> x = np.zeros((1, 3, 8), "float32")
    >>> block(x, padding_mask=np.array([[True, True, False]])).shape
    (1, 3, 8)
    """

    def __init__(self, num_heads: int, mlp_ratio: int = 4, residual_dropout: float = 0.0,
                 attention_dropout: float = 0.0, causal: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.mlp_ratio = int(mlp_ratio)
        self.residual_dropout = float(residual_dropout)
        self.attention_dropout = float(attention_dropout)
        self.causal = bool(causal)

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        if hidden_dim % self.num_heads:
            raise ValueError(f"TransformerBlock: width {hidden_dim} is not divisible by "
                             f"num_heads={self.num_heads}.")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="attention_norm")
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, hidden_dim // self.num_heads, dropout=self.attention_dropout,
            name="attention")
        self.attention_output_dropout = keras.layers.Dropout(self.residual_dropout)
        self.mlp_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="mlp_norm")
        self.mlp_hidden = keras.layers.Dense(self.mlp_ratio * hidden_dim, activation="gelu",
                                             name="mlp_hidden")
        self.mlp_output = keras.layers.Dense(hidden_dim, name="mlp_output")
        self.mlp_output_dropout = keras.layers.Dropout(self.residual_dropout)
        self.attention_norm.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.mlp_norm.build(input_shape)
        self.mlp_hidden.build(input_shape)
        self.mlp_output.build(tuple(input_shape[:-1]) + (self.mlp_ratio * hidden_dim,))

    def attention_mask(self, padding_mask):
        """[batch, query, key] booleans: keys must be real (and not later)."""
        key_mask = ops.cast(padding_mask, "bool")[:, None, :]
        if not self.causal:
            return key_mask
        length = ops.shape(padding_mask)[1]
        positions = ops.arange(length)
        causal = positions[None, :, None] >= positions[None, None, :]
        return ops.logical_and(key_mask, causal)

    def call(self, x, padding_mask, training=None):
        h = self.attention_norm(x)
        h = self.attention(h, h, attention_mask=self.attention_mask(padding_mask),
                           training=training)
        x = x + self.attention_output_dropout(h, training=training)
        h = self.mlp_output(self.mlp_hidden(self.mlp_norm(x)))
        return x + self.mlp_output_dropout(h, training=training)

    def compute_output_shape(self, x_shape, padding_mask_shape=None):
        return x_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads,
                "mlp_ratio": self.mlp_ratio, "residual_dropout": self.residual_dropout,
                "attention_dropout": self.attention_dropout, "causal": self.causal}
