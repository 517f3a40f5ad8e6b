import os

import keras
import numpy as np
import pytest

from tf_kdbias.models.cnn import LOGITS, PENULTIMATE, build_cnn
from tf_kdbias.models.mlp import build_mlp


def count_params(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_paper_cnn_sizes_follow_setup():
    model = build_cnn()
    shapes = {layer.name: layer.output.shape for layer in model.layers}
    # 28 -conv-> 26 -pool1-> 26 -conv-> 24 -pool2-> 12 -conv-> 10 -pool2-> 5.
    assert shapes["conv0"][1:] == (26, 26, 128) and shapes["maxout0"][-1] == 128
    assert shapes["conv1"][1:] == (24, 24, 64) and shapes["maxout1"][-1] == 64
    assert shapes["conv2"][1:] == (10, 10, 64) and shapes["maxout2"][-1] == 16
    assert shapes[PENULTIMATE][1:] == (16,) and shapes[LOGITS][1:] == (10,)
    # Conv kernels + biases (by hand), BN gammas/betas, Dense(16 -> 10).
    conv = (9 * 1 * 128 + 128) + (9 * 128 * 64 + 64) + (9 * 64 * 64 + 64)
    batchnorm = 2 * (128 + 64 + 16)
    assert count_params(model) == conv + batchnorm + 16 * 10 + 10


def test_paper_mlp_sizes_follow_setup():
    model = build_mlp()
    dense = 784 * 512 + 512 + 512 * 128 + 128 + 128 * 32 + 32 + 32 * 10 + 10
    batchnorm = 2 * (512 + 128 + 32)
    assert count_params(model) == dense + batchnorm
    assert model.get_layer(PENULTIMATE).output.shape[1:] == (32,)


@pytest.mark.parametrize("builder", [lambda: build_cnn(filters=(8, 8, 8), maxout_units=(8, 4, 4)),
                                     lambda: build_mlp(hidden_units=(16, 8))])
def test_models_take_raw_uint8_and_scale_inside(builder):
    model = builder()
    assert model.input.dtype == "uint8"
    images = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28, 1)).astype(np.uint8)
    logits = model(images, training=False)
    assert logits.shape == (3, 10)
    # The first layer maps 255 to 1.0.
    scaled = keras.Model(model.input, model.get_layer("rescale").output)(images)
    np.testing.assert_allclose(np.asarray(scaled), images / 255.0, rtol=1e-6)


def test_models_save_and_load_with_custom_layers(tmp_path):
    model = build_cnn(filters=(8, 8, 8), maxout_units=(8, 4, 4))
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    x = np.random.default_rng(0).integers(0, 256, size=(2, 28, 28, 1)).astype(np.uint8)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)


def test_mismatched_block_settings_are_rejected():
    with pytest.raises(ValueError, match="one entry per block"):
        build_cnn(filters=(8, 8), maxout_units=(8, 8, 8))
