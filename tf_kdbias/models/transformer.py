"""Transformer models for subject-verb agreement (docs/PAPER_SETUP.md, "Scenario 1").

- `build_transformer_classifier`: encoder, no causal mask, CLS at position 0.
- `build_transformer_seq_classifier`: causal mask, reads the last real token.
- `build_utransformer_seq_classifier`: one block applied at every layer
  (weights shared across depth, a Universal Transformer), causal.
- `build_transformer_lm`: GPT-2-style causal language model.

All are pre-LayerNorm GPT-2 stacks (4x MLP, GELU) over token + learned
position embeddings, with a final LayerNorm; padding is masked in attention
and pooling, so adding padding leaves every real position's output unchanged.
"""

import gin
import keras

from tf_kdbias.data.sva.vocabulary import BOS_ID
from tf_kdbias.models.cnn import LOGITS, PENULTIMATE
from tf_kdbias.models.first_position import FirstPosition
from tf_kdbias.models.last_real_token import LastRealToken
from tf_kdbias.models.lstm import DEFAULT_VOCABULARY_SIZE, _token_input
from tf_kdbias.models.padding_mask import PaddingMask
from tf_kdbias.models.position_embedding import TokenAndPositionEmbedding
from tf_kdbias.models.prepend_token import PrependToken
from tf_kdbias.models.transformer_block import TransformerBlock
from tf_kdbias.models.weight_penalty import add_l2_penalty

# Longest input (tokens, CLS included): Linzen sentences have at most 50
# words, the real test sets up to 72.
DEFAULT_MAX_LENGTH = 128


def _embed(token_ids, vocabulary_size, hidden_dim, max_length, embedding_dropout,
           embedding=None):
    embedding = embedding or TokenAndPositionEmbedding(vocabulary_size, hidden_dim, max_length,
                                                       name="embedding")
    return keras.layers.Dropout(embedding_dropout, name="embedding_dropout")(
        embedding(token_ids))


def _encoder(x, padding_mask, num_layers, num_heads, residual_dropout, attention_dropout,
             causal, share_weights=False):
    """num_layers blocks (or one block applied num_layers times) + final LN."""
    shared = None
    for i in range(num_layers):
        block = shared or TransformerBlock(
            num_heads, residual_dropout=residual_dropout, attention_dropout=attention_dropout,
            causal=causal, name="shared_block" if share_weights else f"block{i}")
        if share_weights:
            shared = block
        x = block(x, padding_mask=padding_mask)
    return keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)


def _classifier_head(features, num_classes, name, token_ids, l2=0.0):
    features = keras.layers.Identity(name=PENULTIMATE)(features)
    logits = keras.layers.Dense(num_classes, name=LOGITS)(features)
    return add_l2_penalty(keras.Model(token_ids, logits, name=name), l2)


@gin.configurable
def build_transformer_classifier(vocabulary_size: int = DEFAULT_VOCABULARY_SIZE,
                                 hidden_dim: int = 128,
                                 num_layers: int = 6,
                                 num_heads: int = 8,
                                 embedding_dropout: float = 0.2,
                                 residual_dropout: float = 0.4,
                                 attention_dropout: float = 0.6,
                                 max_length: int = DEFAULT_MAX_LENGTH,
                                 num_classes: int = 2,
                                 name: str = "transformer",
                                 l2: float = 0.0) -> keras.Model:
    """Bidirectional Transformer classifier read at a CLS slot (position 0).

    The model prepends `<bos>` (never present in classification inputs) as
    the CLS token, encodes without a causal mask and reads position 0.

    Args:
      vocabulary_size: number of token ids.
      hidden_dim: model width d (docs/PAPER_SETUP.md, "Scenario 1": 128).
      num_layers: blocks (docs/PAPER_SETUP.md, "Scenario 1": 6).
      num_heads: attention heads (docs/PAPER_SETUP.md, "Scenario 1": 8).
      embedding_dropout: dropout on the embeddings (docs/PAPER_SETUP.md, "Scenario 1": 0.2).
      residual_dropout: dropout on each residual branch (docs/PAPER_SETUP.md, "Scenario 1": 0.4).
      attention_dropout: dropout on attention probabilities (docs/PAPER_SETUP.md,
        "Scenario 1": 0.6).
      max_length: longest input, CLS included.
      num_classes: number of logits.
      name: model name.
      l2: L2 coefficient on every weight (0: none; the authors' 1e-4 in
        gin_configs/sva/authors_regularisers.gin).

    Example:

    >>> model = build_transformer_classifier(vocabulary_size=50, hidden_dim=8,
    ...                                      num_layers=1, num_heads=2)
    >>> model(np.array([[4, 5, 3, 0]])).shape
    (1, 2)
    """
    token_ids = _token_input()
    with_cls = PrependToken(BOS_ID, name="prepend_cls")(token_ids)
    padding_mask = PaddingMask(name="padding_mask")(with_cls)
    x = _embed(with_cls, vocabulary_size, hidden_dim, max_length, embedding_dropout)
    x = _encoder(x, padding_mask, num_layers, num_heads, residual_dropout, attention_dropout,
                 causal=False)
    cls = FirstPosition(name="read_cls")(x)
    return _classifier_head(cls, num_classes, name, token_ids, l2)


def _seq_classifier(vocabulary_size, hidden_dim, num_layers, num_heads, embedding_dropout,
                    residual_dropout, attention_dropout, max_length, num_classes, name,
                    share_weights, l2=0.0):
    token_ids = _token_input()
    padding_mask = PaddingMask(name="padding_mask")(token_ids)
    x = _embed(token_ids, vocabulary_size, hidden_dim, max_length, embedding_dropout)
    x = _encoder(x, padding_mask, num_layers, num_heads, residual_dropout, attention_dropout,
                 causal=True, share_weights=share_weights)
    last = LastRealToken(name="read_last")(x, padding_mask=padding_mask)
    return _classifier_head(last, num_classes, name, token_ids, l2)


@gin.configurable
def build_transformer_seq_classifier(vocabulary_size: int = DEFAULT_VOCABULARY_SIZE,
                                     hidden_dim: int = 128,
                                     num_layers: int = 6,
                                     num_heads: int = 8,
                                     embedding_dropout: float = 0.2,
                                     residual_dropout: float = 0.4,
                                     attention_dropout: float = 0.6,
                                     max_length: int = DEFAULT_MAX_LENGTH,
                                     num_classes: int = 2,
                                     name: str = "transformer_seq",
                                     l2: float = 0.0) -> keras.Model:
    """Causal Transformer classifier read at the last real token (`<eos>`).

    Args: as `build_transformer_classifier` (the sizes of docs/PAPER_SETUP.md,
    "Scenario 1", as defaults).

    Example:

    >>> model = build_transformer_seq_classifier(vocabulary_size=50, hidden_dim=8,
    ...                                          num_layers=1, num_heads=2)
    >>> model(np.array([[4, 5, 3, 0]])).shape
    (1, 2)
    """
    return _seq_classifier(vocabulary_size, hidden_dim, num_layers, num_heads,
                           embedding_dropout, residual_dropout, attention_dropout, max_length,
                           num_classes, name, share_weights=False, l2=l2)


@gin.configurable
def build_utransformer_seq_classifier(vocabulary_size: int = DEFAULT_VOCABULARY_SIZE,
                                      hidden_dim: int = 256,
                                      num_layers: int = 6,
                                      num_heads: int = 8,
                                      embedding_dropout: float = 0.2,
                                      residual_dropout: float = 0.4,
                                      attention_dropout: float = 0.6,
                                      max_length: int = DEFAULT_MAX_LENGTH,
                                      num_classes: int = 2,
                                      name: str = "utransformer_seq",
                                      l2: float = 0.0) -> keras.Model:
    """Universal Transformer classifier: one causal block applied `num_layers`
    times with shared weights, read at the last real token (docs/PAPER_SETUP.md,
    "Scenario 1": d=256).

    Args: as `build_transformer_classifier`; `num_layers` counts applications
    of the one shared block.

    Example:

    >>> model = build_utransformer_seq_classifier(vocabulary_size=50, hidden_dim=8,
    ...                                           num_layers=3, num_heads=2)
    >>> len([w for w in model.weights if "shared_block" in w.path]) > 0
    True
    """
    return _seq_classifier(vocabulary_size, hidden_dim, num_layers, num_heads,
                           embedding_dropout, residual_dropout, attention_dropout, max_length,
                           num_classes, name, share_weights=True, l2=l2)


@gin.configurable
def build_transformer_lm(vocabulary_size: int = DEFAULT_VOCABULARY_SIZE,
                         hidden_dim: int = 512,
                         num_layers: int = 6,
                         num_heads: int = 8,
                         embedding_dropout: float = 0.2,
                         residual_dropout: float = 0.2,
                         attention_dropout: float = 0.2,
                         max_length: int = DEFAULT_MAX_LENGTH,
                         name: str = "transformer_lm",
                         tie_embeddings: bool = False,
                         l2: float = 0.0) -> keras.Model:
    """GPT-2-style causal language model (docs/PAPER_SETUP.md, "Scenario 1": d=512; small: d=256).

    Logits over the vocabulary at every position; the layer `penultimate` is
    the final-LayerNorm output. Layers and heads are our choice (6 and 8, as
    the classifiers); dropouts too. With `tie_embeddings` (GPT-2's and the
    authors' choice) the logits are the final states times the transposed
    input token embedding, plus a bias per token; otherwise a separate Dense.
    `l2`: L2 coefficient on every weight (0: none).

    Example:

    >>> model = build_transformer_lm(vocabulary_size=50, hidden_dim=8, num_layers=1,
    ...                              num_heads=2)
    >>> model(np.array([[2, 5, 6, 0]])).shape
    (1, 4, 50)
    """
    token_ids = _token_input()
    padding_mask = PaddingMask(name="padding_mask")(token_ids)
    embedding = TokenAndPositionEmbedding(vocabulary_size, hidden_dim, max_length,
                                          use_output_bias=tie_embeddings, name="embedding")
    x = _embed(token_ids, vocabulary_size, hidden_dim, max_length, embedding_dropout,
               embedding)
    x = _encoder(x, padding_mask, num_layers, num_heads, residual_dropout, attention_dropout,
                 causal=True)
    x = keras.layers.Identity(name=PENULTIMATE)(x)
    if tie_embeddings:
        logits = keras.layers.Identity(name=LOGITS)(embedding(x, reverse=True))
    else:
        logits = keras.layers.Dense(vocabulary_size, name=LOGITS)(x)
    return add_l2_penalty(keras.Model(token_ids, logits, name=name), l2)
