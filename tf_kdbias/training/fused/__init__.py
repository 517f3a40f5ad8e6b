"""The fused training engine for Keras' JAX backend (`TrainSettings.engine = 'fused'`).

The standard engine is Keras' `fit`: one compiled call per step, each batch
gathered on the host and copied to the device. On a GPU, small models such
as the paper's MLP and CNN then spend most of a step on that dispatch and
copy, not on arithmetic. The fused engine keeps the training split on the
device and runs an epoch's steps in one compiled call: a `jax.lax.scan` over
the trainer's own stateless `train_step` (Keras' JAX step, which calls the
Distiller's `compute_loss`), so both engines compute the same math, batch by
batch, in the same order (`engine.epoch_batches`).

  engine.py  one run: `FusedFitter`, and `fit_run` used by training/run.py.
  seeds.py   runs that differ only by seed trained together (`jax.vmap`).
  flops.py   FLOPs per example and device peaks, for the benchmark.

This module imports neither JAX nor TensorFlow: training/settings.py imports it on any
backend, to validate the setting and to register `fused_loop` with gin.
"""

import gin

ENGINES = ("standard", "fused")


@gin.configurable
def fused_loop(loop: str = "auto") -> str:
    """How the fused engine loops over an epoch's steps (gin: `fused_loop.loop`).

    Args:
      loop: 'scan' (the epoch as one compiled call), 'steps' (one call per
        step, on the same device-resident data) or 'auto' (scan, except for
        convolutions on a CPU: see engine.resolve_loop). All compute the
        same steps.
    """
    return loop


def check_engine(engine: str, backend: str) -> None:
    """Raises UserError for an unknown engine or 'fused' off the JAX backend.

    Args:
      engine: the value of `TrainSettings.engine`.
      backend: `keras.config.backend()`.
    """
    from tf_kdbias.errors import UserError

    if engine not in ENGINES:
        raise UserError(f"TrainSettings.engine={engine!r} is not an engine; use one of "
                        f"{list(ENGINES)}.")
    if engine == "fused" and backend != "jax":
        raise UserError(f"TrainSettings.engine='fused' runs on Keras' JAX backend, but this "
                        f"process uses {backend!r}. Set KERAS_BACKEND=jax, or use "
                        "TrainSettings.engine='standard'.")
