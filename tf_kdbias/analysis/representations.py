"""Loading run models read-only and reading their logits and penultimate layer."""

from typing import Tuple

import keras
import numpy as np

from tf_kdbias.analysis.workdir import RunInfo
from tf_kdbias.models import load_model
from tf_kdbias.models.cnn import PENULTIMATE

BATCH_SIZE = 500


def load_run_model(run: RunInfo) -> keras.Model:
    """The run's trained model, uncompiled. Nothing is ever saved back."""
    return load_model(run.model_path)


def logits_and_penultimate(model: keras.Model, images: np.ndarray,
                           batch_size: int = BATCH_SIZE) -> Tuple[np.ndarray, np.ndarray]:
    """Inference-mode logits [n, classes] and penultimate activations [n, d].

    Args:
      model: a suite model with a layer named `penultimate`.
      images: uint8 [n, 28, 28, 1].
      batch_size: examples per forward pass.
    """
    probe = keras.Model(model.input, [model.output, model.get_layer(PENULTIMATE).output])
    logits, features = [], []
    for start in range(0, len(images), batch_size):
        batch_logits, batch_features = probe(images[start:start + batch_size], training=False)
        logits.append(np.asarray(batch_logits, np.float32))
        features.append(np.asarray(batch_features, np.float32).reshape(len(batch_logits), -1))
    return np.concatenate(logits), np.concatenate(features)


def predict_logits(model: keras.Model, images: np.ndarray,
                   batch_size: int = 1000) -> np.ndarray:
    """Inference-mode logits of a whole eval set."""
    return np.asarray(model.predict(images, batch_size=batch_size, verbose=0), np.float32)


def seeded_subset(num_items: int, num_examples: int, seed: int) -> np.ndarray:
    """Sorted indices of `num_examples` items drawn without replacement (all if
    fewer), the same for every model and every rerun with the same seed."""
    if num_examples >= num_items:
        return np.arange(num_items)
    return np.sort(np.random.default_rng(seed).choice(num_items, num_examples, replace=False))
