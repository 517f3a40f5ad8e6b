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
# but JAX is (`pip install -e ".[jax]"`), pick JAX unless the user chose.
if "KERAS_BACKEND" not in os.environ and not _installed("tensorflow") and _installed("jax"):
    os.environ["KERAS_BACKEND"] = "jax"
