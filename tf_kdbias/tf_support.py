"""Where TensorFlow is optional: detection and the message when it is missing.

TensorFlow is the suite's primary backend, but training, distillation and
evaluation also run on Keras' JAX backend with no TensorFlow installed (e.g.
on a GPU machine that only has JAX). Features that truly need TensorFlow
(SavedModel export, TFDS downloads, TensorBoard summaries, tf.distribute)
check here and say so.
"""

import functools

from tf_kdbias.errors import UserError


@functools.lru_cache(maxsize=None)
def tensorflow_available() -> bool:
    """Whether `import tensorflow` works in this environment."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def require_tensorflow(feature: str) -> None:
    """Raises UserError naming `feature` when TensorFlow is not installed."""
    if not tensorflow_available():
        raise UserError(
            f"{feature} needs TensorFlow, which is not installed here. Install it "
            "(pip install -e \".[tf]\") or run this step on a machine that has it; the run "
            "directories written without TensorFlow (model.keras, metrics.json) work "
            "there as they are.")
