"""tf_kdbias.models: the architectures compared in the paper."""

import importlib
import importlib.util

import keras

from tf_kdbias.models import channel_maxout  # noqa: F401  (registers ChannelMaxout)

# Modules whose custom layers must be registered before a saved model loads.
_OPTIONAL_LAYER_MODULES = ("tf_kdbias.models.sva",)


def register_custom_layers() -> None:
    for name in _OPTIONAL_LAYER_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def load_model(path: str) -> keras.Model:
    """Loads a saved `.keras` model of this suite (custom layers registered)."""
    register_custom_layers()
    return keras.saving.load_model(path, compile=False)
