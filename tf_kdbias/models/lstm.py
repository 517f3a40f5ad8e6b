"""LSTM models for subject-verb agreement: a classifier and a language model."""

import gin
import keras

from tf_kdbias.models.cnn import LOGITS, PENULTIMATE
from tf_kdbias.models.padding_mask import PaddingMask
from tf_kdbias.models.tied_embedding import TiedEmbedding

# The SVA tasks bind the real size from their vocabulary into every builder.
DEFAULT_VOCABULARY_SIZE = 10000


def _token_input() -> keras.KerasTensor:
    """Right-padded int token ids of any length (0 = <pad>)."""
    return keras.Input(shape=(None,), dtype="int32", name="token_ids")


def _lstm_stack(x, padding_mask, num_layers: int, hidden_dim: int, hidden_dropout: float,
                last_returns_sequences: bool):
    """Stacked LSTMs; masked steps carry the state, so a non-sequence output
    is the state after the last real token."""
    for i in range(num_layers):
        sequences = last_returns_sequences or i < num_layers - 1
        x = keras.layers.LSTM(hidden_dim, return_sequences=sequences, name=f"lstm{i}")(
            x, mask=padding_mask)
        if i < num_layers - 1:
            x = keras.layers.Dropout(hidden_dropout, name=f"hidden_dropout{i}")(x)
    return x


@gin.configurable
def build_lstm_classifier(vocabulary_size: int = DEFAULT_VOCABULARY_SIZE,
                          embedding_dim: int = 256,
                          hidden_dim: int = 256,
                          num_layers: int = 2,
                          input_dropout: float = 0.2,
                          hidden_dropout: float = 0.8,
                          num_classes: int = 2,
                          name: str = "lstm") -> keras.Model:
    """The LSTM verb-number classifier of SETUP.md (2 x 256, last real token).

    Embedding -> Dropout(input_dropout) -> LSTM x num_layers (Dropout
    (hidden_dropout) between layers) -> the state after the last real token
    (the layer `penultimate`) -> Dropout(hidden_dropout) -> Dense `logits`.

    Args:
      vocabulary_size: number of token ids (the task's vocabulary).
      embedding_dim: width of the word embeddings (our choice: = hidden_dim).
      hidden_dim: LSTM units per layer.
      num_layers: stacked LSTM layers.
      input_dropout: dropout on the embeddings.
      hidden_dropout: dropout between LSTM layers and before the logits.
      num_classes: number of logits (2: VBZ, VBP).
      name: model name.

    Example:

    >>> model = build_lstm_classifier(vocabulary_size=50, hidden_dim=8, embedding_dim=8)
    >>> model(np.array([[4, 5, 3, 0]])).shape
    (1, 2)
    """
    token_ids = _token_input()
    padding_mask = PaddingMask(name="padding_mask")(token_ids)
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, name="embedding")(token_ids)
    x = keras.layers.Dropout(input_dropout, name="input_dropout")(x)
    x = _lstm_stack(x, padding_mask, num_layers, hidden_dim, hidden_dropout,
                    last_returns_sequences=False)
    x = keras.layers.Identity(name=PENULTIMATE)(x)
    x = keras.layers.Dropout(hidden_dropout, name="output_dropout")(x)
    logits = keras.layers.Dense(num_classes, name=LOGITS)(x)
    return keras.Model(token_ids, logits, name=name)


@gin.configurable
def build_lstm_lm(vocabulary_size: int = DEFAULT_VOCABULARY_SIZE,
                  hidden_dim: int = 512,
                  num_layers: int = 2,
                  input_dropout: float = 0.2,
                  hidden_dropout: float = 0.2,
                  name: str = "lstm_lm") -> keras.Model:
    """The LSTM language model of SETUP.md with tied input/output embeddings.

    TiedEmbedding -> Dropout -> LSTM x num_layers (return sequences) ->
    Dropout -> the layer `penultimate` -> logits = h @ E^T + b over the
    vocabulary, at every position. The embedding width equals `hidden_dim`
    so the tie needs no projection. Small: 2 x 512; big: 2 x 1024.

    Args:
      vocabulary_size: number of token ids.
      hidden_dim: LSTM units per layer and embedding width.
      num_layers: stacked LSTM layers.
      input_dropout: dropout on the embeddings.
      hidden_dropout: dropout between layers and before the output (our
        choice: SETUP.md gives no LM dropout).
      name: model name.

    Example:

    >>> model = build_lstm_lm(vocabulary_size=50, hidden_dim=8)
    >>> model(np.array([[2, 5, 6, 0]])).shape
    (1, 4, 50)
    """
    token_ids = _token_input()
    padding_mask = PaddingMask(name="padding_mask")(token_ids)
    embedding = TiedEmbedding(vocabulary_size, hidden_dim, name="embedding")
    x = keras.layers.Dropout(input_dropout, name="input_dropout")(embedding(token_ids))
    x = _lstm_stack(x, padding_mask, num_layers, hidden_dim, hidden_dropout,
                    last_returns_sequences=True)
    x = keras.layers.Dropout(hidden_dropout, name="output_dropout")(x)
    x = keras.layers.Identity(name=PENULTIMATE)(x)
    logits = embedding(x, reverse=True)
    return keras.Model(token_ids, keras.layers.Identity(name=LOGITS)(logits), name=name)
