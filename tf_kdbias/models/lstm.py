"""LSTM models for subject-verb agreement: a classifier and a language model."""

from typing import Optional

import gin
import keras

from tf_kdbias.models.cnn import LOGITS, PENULTIMATE
from tf_kdbias.models.padding_mask import PaddingMask
from tf_kdbias.models.tied_embedding import TiedEmbedding
from tf_kdbias.models.weight_penalty import add_l2_penalty

# The SVA tasks bind the real size from their vocabulary into every builder.
DEFAULT_VOCABULARY_SIZE = 10000


def _token_input() -> keras.KerasTensor:
    """Right-padded int token ids of any length (0 = <pad>)."""
    return keras.Input(shape=(None,), dtype="int32", name="token_ids")


def _lstm_stack(x, padding_mask, num_layers: int, hidden_dim: int, hidden_dropout: float,
                last_returns_sequences: bool, lstm_dropout: float = 0.0,
                recurrent_dropout: float = 0.0):
    """Stacked LSTMs; masked steps carry the state, so a non-sequence output
    is the state after the last real token. `hidden_dropout` goes between
    layers; `lstm_dropout` / `recurrent_dropout` inside each layer (on its
    inputs / its recurrent state; the latter rules out the cuDNN kernel)."""
    for i in range(num_layers):
        sequences = last_returns_sequences or i < num_layers - 1
        x = keras.layers.LSTM(hidden_dim, return_sequences=sequences, dropout=lstm_dropout,
                              recurrent_dropout=recurrent_dropout, name=f"lstm{i}")(
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
                          name: str = "lstm",
                          lstm_dropout: float = 0.0,
                          recurrent_dropout: float = 0.0,
                          between_layer_dropout: Optional[float] = None,
                          l2: float = 0.0) -> keras.Model:
    """The LSTM verb-number classifier of the paper (2 x 256, last real token;
    docs/PAPER_SETUP.md, "Scenario 1").

    Embedding -> Dropout(input_dropout) -> LSTM x num_layers (Dropout
    (between_layer_dropout) between layers) -> the state after the last real
    token (the layer `penultimate`) -> Dropout(hidden_dropout) -> Dense
    `logits`. The authors' regularisers (gin_configs/sva/authors_regularisers.gin)
    are dropout and recurrent dropout 0.8 inside every layer, 0.8 before the
    output and L2 1e-5 on all weights.

    Args:
      vocabulary_size: number of token ids (the task's vocabulary).
      embedding_dim: width of the word embeddings (our choice: = hidden_dim).
      hidden_dim: LSTM units per layer.
      num_layers: stacked LSTM layers.
      input_dropout: dropout on the embeddings.
      hidden_dropout: dropout before the logits (and between LSTM layers
        unless `between_layer_dropout` says otherwise).
      num_classes: number of logits (2: VBZ, VBP).
      name: model name.
      lstm_dropout: dropout on each LSTM layer's inputs, inside the layer.
      recurrent_dropout: dropout on each LSTM layer's recurrent state; any
        value above 0 rules out the cuDNN kernel on a GPU (docs/SVA.md).
      between_layer_dropout: dropout between LSTM layers; None: hidden_dropout.
      l2: L2 coefficient on every weight (0: none).

    Example:

    >>> model = build_lstm_classifier(vocabulary_size=50, hidden_dim=8, embedding_dim=8)
    >>> model(np.array([[4, 5, 3, 0]])).shape
    (1, 2)
    """
    token_ids = _token_input()
    padding_mask = PaddingMask(name="padding_mask")(token_ids)
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, name="embedding")(token_ids)
    x = keras.layers.Dropout(input_dropout, name="input_dropout")(x)
    x = _lstm_stack(x, padding_mask, num_layers, hidden_dim,
                    hidden_dropout if between_layer_dropout is None else between_layer_dropout,
                    last_returns_sequences=False, lstm_dropout=lstm_dropout,
                    recurrent_dropout=recurrent_dropout)
    x = keras.layers.Identity(name=PENULTIMATE)(x)
    x = keras.layers.Dropout(hidden_dropout, name="output_dropout")(x)
    logits = keras.layers.Dense(num_classes, name=LOGITS)(x)
    return add_l2_penalty(keras.Model(token_ids, logits, name=name), l2)


@gin.configurable
def build_lstm_lm(vocabulary_size: int = DEFAULT_VOCABULARY_SIZE,
                  hidden_dim: int = 512,
                  num_layers: int = 2,
                  input_dropout: float = 0.2,
                  hidden_dropout: float = 0.2,
                  name: str = "lstm_lm") -> keras.Model:
    """The LSTM language model of the paper with tied input/output embeddings
    (docs/PAPER_SETUP.md, "Scenario 1").

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
        choice: docs/PAPER_SETUP.md, "Scenario 1", gives no LM dropout).
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
