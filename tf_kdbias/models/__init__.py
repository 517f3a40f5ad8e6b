"""tf_kdbias.models: the architectures compared in the paper."""

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
