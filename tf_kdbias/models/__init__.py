"""tf_kdbias.models: the architectures compared in the paper."""

import os

import keras

from tf_kdbias.models import channel_maxout  # noqa: F401  (registers ChannelMaxout)


def load_model(path: str) -> keras.Model:
    """Loads a saved `.keras` model of this suite (every custom layer registered).

    The one loader of run checkpoints: training (teachers), evaluation,
    export and analysis all load through it.
    """
    # Registers the custom layers of the SVA models (ChannelMaxout: imported above).
    from tf_kdbias.models import sva  # noqa: F401  pylint: disable=import-outside-toplevel

    return keras.saving.load_model(path, compile=False)


def save_model_atomic(model: keras.Model, path: str) -> None:
    """Saves `model` to `path` whole or not at all (a kill leaves no half-written file)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)
