"""tf_kdbias: knowledge distillation as a way to transfer inductive biases."""

import importlib.util
import os

__version__ = "0.1.0"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


# Keras defaults to the TensorFlow backend. Where TensorFlow is not installed
# but JAX is (`pip install -e ".[jax]"`), pick JAX unless the user chose; with
# neither (a bare `pip install -e .`), say so instead of Keras' import error.
if "KERAS_BACKEND" not in os.environ and not _installed("tensorflow"):
    if not _installed("jax"):
        raise ImportError(
            "tf_kdbias needs a Keras backend and neither TensorFlow nor JAX is installed. "
            'Install one with the package: pip install -e ".[tf]" (TensorFlow) or '
            'pip install -e ".[jax]" (JAX), or set KERAS_BACKEND to one you have.')
    os.environ["KERAS_BACKEND"] = "jax"

# Before anything imports TensorFlow: its C++ start-up lines (oneDNN, CUDA
# driver, absl pre-init) are dropped, real warnings kept (see quiet_start).
from tf_kdbias import quiet_start  # noqa: E402

quiet_start.install()
