"""The authors' regularisers (gin_configs/sva/authors_regularisers.gin):
LSTM dropouts, L2 on every weight, the GPT-2 LM's tied output."""

import gin
import keras
import numpy as np
import pytest

from tf_kdbias.errors import UserError
from tf_kdbias.gin_utils import parse_gin
from tf_kdbias.models import sva
from tf_kdbias.models.weight_penalty import add_l2_penalty

AUTHORS = "gin_configs/sva/authors_regularisers.gin"
# quick_classification.gin's lighter LSTM dropout, which a table passes as a
# model binding, i.e. after every gin file of the run.
QUICK_LSTM = ["build_lstm_classifier.hidden_dropout = 0.2",
              "build_lstm_classifier.hidden_dim = 8", "build_lstm_classifier.embedding_dim = 8"]


@pytest.fixture(autouse=True)
def clean_gin():
    yield
    gin.clear_config()


def l2_by_hand(model, l2):
    return l2 * sum(float(np.sum(np.square(np.asarray(w)))) for w in model.trainable_weights)


@pytest.mark.parametrize("name", sorted(sva.SVA_CLASSIFIERS))
def test_l2_covers_every_trainable_weight(name):
    small = dict(vocabulary_size=20, hidden_dim=8,
                 **({"embedding_dim": 8} if name == "lstm" else {"num_layers": 1, "num_heads": 2}))
    plain = sva.SVA_CLASSIFIERS[name](**small)
    assert plain.losses == []
    model = sva.SVA_CLASSIFIERS[name](l2=1e-3, **small)
    assert len(model.losses) == len(model.trainable_weights)
    assert float(sum(model.losses)) == pytest.approx(l2_by_hand(model, 1e-3), rel=1e-5)


def test_l2_reaches_the_loss_a_model_trains_on():
    model = sva.build_lstm_classifier(vocabulary_size=20, hidden_dim=4, embedding_dim=4,
                                      hidden_dropout=0.0, input_dropout=0.0, l2=0.1)
    model.compile(optimizer="sgd",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    inputs, labels = np.array([[4, 5, 3], [6, 3, 0]]), np.array([0, 1])
    loss = model.evaluate(inputs, labels, verbose=0)
    logits = np.asarray(model(inputs))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    cross_entropy = -np.mean(log_probs[np.arange(2), labels])
    assert loss == pytest.approx(cross_entropy + l2_by_hand(model, 0.1), rel=1e-4)
    with pytest.raises(UserError, match="l2=-1"):
        add_l2_penalty(model, -1)


def test_authors_file_gives_the_lstm_its_dropouts_and_wins_over_table_bindings():
    # A table passes the file as an include binding after its model bindings.
    parse_gin(["gin_configs/sva/lstm.gin"], QUICK_LSTM + [f"include '{AUTHORS}'"])
    model = sva.build_lstm_classifier(vocabulary_size=20)
    for i in range(2):
        layer = model.get_layer(f"lstm{i}")
        assert (layer.dropout, layer.recurrent_dropout) == (0.8, 0.8)
    assert model.get_layer("output_dropout").rate == 0.8
    assert model.get_layer("hidden_dropout0").rate == 0.0
    assert model.get_layer("input_dropout").rate == 0.0
    assert float(sum(model.losses)) == pytest.approx(l2_by_hand(model, 1e-5), rel=1e-5)
    # Without the file, the table's own binding stands.
    parse_gin(["gin_configs/sva/lstm.gin"], QUICK_LSTM)
    plain = sva.build_lstm_classifier(vocabulary_size=20)
    assert plain.get_layer("output_dropout").rate == 0.2
    assert plain.get_layer("lstm0").recurrent_dropout == 0.0 and plain.losses == []


def test_authors_file_sets_transformer_l2_and_setup_dropouts():
    parse_gin(["gin_configs/sva/transformer_seq.gin"],
              ["build_transformer_seq_classifier.residual_dropout = 0.1",
               "build_transformer_seq_classifier.hidden_dim = 8",
               "build_transformer_seq_classifier.num_layers = 1",
               "build_transformer_seq_classifier.num_heads = 2", f"include '{AUTHORS}'"])
    model = sva.build_transformer_seq_classifier(vocabulary_size=20)
    block = model.get_layer("block0")
    assert (block.residual_dropout, block.attention_dropout) == (0.4, 0.6)
    assert model.get_layer("embedding_dropout").rate == 0.2
    assert float(sum(model.losses)) == pytest.approx(l2_by_hand(model, 1e-4), rel=1e-5)


def test_tied_transformer_lm_reads_logits_off_the_input_embedding():
    parse_gin([], [f"include '{AUTHORS}'"])
    model = sva.build_transformer_lm(vocabulary_size=30, hidden_dim=8, num_layers=1,
                                     num_heads=2)
    untied = sva.build_transformer_lm(vocabulary_size=30, hidden_dim=8, num_layers=1,
                                      num_heads=2, tie_embeddings=False)
    # The tie replaces the output Dense (8 x 30 kernel + 30 biases) by 30 biases.
    assert untied.count_params() - model.count_params() == 8 * 30
    inputs = np.array([[2, 5, 6, 0]])
    hidden = keras.Model(model.input, model.get_layer("penultimate").output)(inputs)
    embedding = model.get_layer("embedding")
    table = np.asarray(embedding.token_embedding.embeddings)
    bias = np.asarray(embedding.output_bias)
    expected = np.asarray(hidden) @ table.T + bias
    np.testing.assert_allclose(np.asarray(model(inputs)), expected, rtol=1e-5, atol=1e-5)


def test_tied_lm_saves_and_reloads(tmp_path):
    model = sva.build_transformer_lm(vocabulary_size=30, hidden_dim=8, num_layers=1,
                                     num_heads=2, tie_embeddings=True)
    path = str(tmp_path / "lm.keras")
    model.save(path)
    again = keras.saving.load_model(path, compile=False)
    inputs = np.array([[2, 5, 6, 0]])
    np.testing.assert_allclose(np.asarray(again(inputs)), np.asarray(model(inputs)), atol=1e-6)
