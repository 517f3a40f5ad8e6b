"""How a run is fit (`TrainSettings`) and the device policy behind its 'auto' values."""

import contextlib
import dataclasses

import gin
import keras

# Imports no backend; registers the fused engine's gin settings (fused_loop).
from tf_kdbias.training.fused import check_engine


@gin.configurable
@dataclasses.dataclass
class TrainSettings:
    """How a model is fit.

    Args:
      epochs: passes over the training split.
      batch_size: examples per step.
      seed: seeds weights, dropout, shuffling and the validation carve-out.
      trajectory_checkpoints: save weights at epochs 0, 1, 2, 4, ... and last.
      jit_compile: True, False or 'auto' (TensorFlow: XLA on GPU unless the
        model has a cuDNN LSTM, off on CPU where it slows convolutions down;
        JAX: always on).
      mixed_precision: True, False or 'auto' (float16 compute on GPU, the
        losses and KD math in float32; off on CPU).
      deterministic: True, False or 'auto': TF op determinism (same seed ->
        same numbers; a resumed run equals an uninterrupted one). 'auto' turns
        it on without a GPU, where it costs next to nothing.
      engine: 'standard' (Keras' fit) or 'fused' (JAX backend only: the
        training split on the device and an epoch's steps in one compiled
        call; same batches and math, see tf_kdbias/training/fused).
    """

    epochs: int = gin.REQUIRED
    batch_size: int = 128
    seed: int = 0
    trajectory_checkpoints: bool = True
    jit_compile: object = "auto"
    mixed_precision: object = "auto"
    deterministic: object = "auto"
    engine: str = "standard"

    def __post_init__(self):
        check_engine(self.engine, keras.config.backend())  # Fails before any work.


def resolve_jit_compile(setting, model: keras.Model) -> bool:
    """XLA policy for 'auto'.

    TensorFlow: on for GPU, off on CPU (where XLA halves convolution speed),
    never for cuDNN LSTMs (which XLA cannot compile). JAX: always on, since
    JAX without jit dispatches op by op (and has no cuDNN LSTM).
    """
    if setting != "auto":
        return bool(setting)
    if keras.config.backend() == "jax":
        return True
    has_lstm = any(isinstance(layer, keras.layers.LSTM) for layer in model._flatten_layers())
    return keras.config.backend() != "numpy" and has_gpu() and not has_lstm


def resolve_mixed_precision(setting) -> bool:
    return has_gpu() if setting == "auto" else bool(setting)


def resolve_deterministic(setting) -> bool:
    return (not has_gpu()) if setting == "auto" else bool(setting)


@contextlib.contextmanager
def op_determinism(enabled: bool):
    """Op determinism for the run only, so a caller's process is left as it was.

    TensorFlow only: JAX on CPU is deterministic as it is.
    """
    if keras.config.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf
    # Only `enable_op_determinism` is public; the other two live here.
    from tensorflow.python.framework import config as tf_config

    switch_on = enabled and not tf_config.is_op_determinism_enabled()
    if switch_on:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if switch_on:
            tf_config.disable_op_determinism()


def has_gpu() -> bool:
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf
        return bool(tf.config.list_physical_devices("GPU"))
    if keras.config.backend() == "jax":
        import jax
        return any(d.platform == "gpu" for d in jax.devices())
    return False
