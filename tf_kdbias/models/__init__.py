"""tf_kdbias.models: the architectures compared in the paper."""

import os
import zipfile

import keras

from tf_kdbias.errors import UserError

from tf_kdbias.models import channel_maxout  # noqa: F401  (registers ChannelMaxout)


def load_model(path: str) -> keras.Model:
    """Loads a saved `.keras` model of this suite (every custom layer registered).

    The one loader of run checkpoints: training (teachers), evaluation,
    export and analysis all load through it. A file that exists but cannot be
    read (cut short, overwritten, not a Keras archive) is a `UserError`
    naming the file and the fix.
    """
    # Registers the custom layers of the SVA models (ChannelMaxout: imported above).
    from tf_kdbias.models import sva  # noqa: F401  pylint: disable=import-outside-toplevel

    try:
        return keras.saving.load_model(path, compile=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as error:
        if not os.path.isfile(path):
            raise
        raise UserError(
            f"{path} is damaged and cannot be loaded ({type(error).__name__}: a cut-short or "
            "overwritten .keras archive). Retrain the run that wrote it: delete its folder "
            "(or its metrics.json and model.keras) and rerun the command that made it.") from error


def save_model_atomic(model: keras.Model, path: str) -> None:
    """Saves `model` to `path` whole or not at all (a kill leaves no half-written file)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)
