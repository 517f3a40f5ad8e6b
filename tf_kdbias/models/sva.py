"""Every subject-verb agreement model builder, registered with gin on import."""

from tf_kdbias.models.lstm import build_lstm_classifier, build_lstm_lm  # noqa: F401
from tf_kdbias.models.transformer import (  # noqa: F401
    build_transformer_classifier, build_transformer_lm, build_transformer_seq_classifier,
    build_utransformer_seq_classifier)

SVA_CLASSIFIERS = {
    "lstm": build_lstm_classifier,
    "transformer": build_transformer_classifier,
    "transformer_seq": build_transformer_seq_classifier,
    "utransformer_seq": build_utransformer_seq_classifier,
}
SVA_LANGUAGE_MODELS = {"lstm_lm": build_lstm_lm, "transformer_lm": build_transformer_lm}
