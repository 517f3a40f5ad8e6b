"""SVA models: padding is really masked, the sizes of docs/PAPER_SETUP.md, saving."""

import keras
import numpy as np
import pytest

from tf_kdbias.models import sva
from tf_kdbias.models.cnn import PENULTIMATE

VOCABULARY_SIZE = 40
TINY = {
    "lstm": dict(embedding_dim=8, hidden_dim=8),
    "lstm_lm": dict(hidden_dim=8),
}
TINY_TRANSFORMER = dict(hidden_dim=8, num_layers=2, num_heads=2)
BUILDERS = {**sva.SVA_CLASSIFIERS, **sva.SVA_LANGUAGE_MODELS}


def tiny_model(name):
    keras.utils.set_random_seed(0)
    return BUILDERS[name](vocabulary_size=VOCABULARY_SIZE, **TINY.get(name, TINY_TRANSFORMER))


def right_padded_batch():
    rows = [[4, 9, 12, 3], [5, 3], [7, 8, 9, 10, 11, 3]]
    batch = np.zeros((len(rows), 6), np.int32)
    for i, row in enumerate(rows):
        batch[i, :len(row)] = row
    return batch


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_more_padding_changes_no_real_output(name):
    model = tiny_model(name)
    batch = right_padded_batch()
    padded = np.pad(batch, ((0, 0), (0, 9)))
    out, out_padded = np.asarray(model(batch)), np.asarray(model(padded))
    if out.ndim == 3:  # Language model: compare the real positions.
        real = batch != 0
        out, out_padded = out[real], out_padded[:, :batch.shape[1]][real]
    np.testing.assert_allclose(out, out_padded, atol=2e-5)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_padding_never_leaks_into_real_positions(name):
    """Garbage ids where the mask says padding would show any leak; here the
    padding id is 0, so compare a row alone with the row in a longer batch."""
    model = tiny_model(name)
    batch = right_padded_batch()
    alone = np.asarray(model(batch[1:2, :2]))
    in_batch = np.asarray(model(batch))[1:2]
    if alone.ndim == 3:
        in_batch = in_batch[:, :2]
    np.testing.assert_allclose(alone, in_batch, atol=2e-5)


def test_classifiers_expose_penultimate_and_two_logits():
    for name in sva.SVA_CLASSIFIERS:
        model = tiny_model(name)
        assert model.output.shape[1:] == (2,)
        assert model.get_layer(PENULTIMATE).output.shape[-1] == 8


def widths(model, layer_type):
    return [layer for layer in model._flatten_layers() if isinstance(layer, layer_type)]


def test_default_sizes_follow_setup():
    lstm = sva.build_lstm_classifier(vocabulary_size=100)
    assert [l.units for l in widths(lstm, keras.layers.LSTM)] == [256, 256]
    assert [l.rate for l in widths(lstm, keras.layers.Dropout)][:1] == [0.2]
    from tf_kdbias.models.transformer_block import TransformerBlock
    for builder, d in ((sva.build_transformer_classifier, 128),
                       (sva.build_transformer_seq_classifier, 128)):
        blocks = widths(builder(vocabulary_size=100), TransformerBlock)
        assert len(blocks) == 6 and blocks[0].num_heads == 8
        assert blocks[0].attention_dropout == 0.6 and blocks[0].residual_dropout == 0.4
        assert builder(vocabulary_size=100).get_layer(PENULTIMATE).output.shape[-1] == d
    universal = sva.build_utransformer_seq_classifier(vocabulary_size=100)
    assert len(widths(universal, TransformerBlock)) == 1  # One block, shared by 6 layers.
    assert universal.get_layer(PENULTIMATE).output.shape[-1] == 256
    assert widths(sva.build_transformer_lm(vocabulary_size=100), TransformerBlock)[0] \
        .mlp_hidden.units == 4 * 512


def test_universal_transformer_shares_one_block_across_depth():
    shallow = sva.build_utransformer_seq_classifier(vocabulary_size=50, hidden_dim=8,
                                                    num_layers=1, num_heads=2)
    deep = sva.build_utransformer_seq_classifier(vocabulary_size=50, hidden_dim=8,
                                                 num_layers=6, num_heads=2)
    assert shallow.count_params() == deep.count_params()


def test_lstm_lm_ties_input_and_output_embeddings():
    model = sva.build_lstm_lm(vocabulary_size=50, hidden_dim=8, num_layers=1)
    lstm_params = 4 * (8 * 8 + 8 * 8 + 8)
    assert model.count_params() == 50 * 8 + 50 + lstm_params  # One table + output bias.


@pytest.mark.parametrize("name", ["transformer", "lstm_lm"])
def test_saved_models_reload_with_their_layers(tmp_path, name):
    model = tiny_model(name)
    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    batch = right_padded_batch()
    np.testing.assert_allclose(np.asarray(model(batch)), np.asarray(reloaded(batch)), atol=1e-6)
