"""What produced a run: package version, git commit, config text."""

import os
import subprocess

import tf_kdbias
from tf_kdbias import io_utils


def git_commit() -> str:
    """The commit of the checkout tf_kdbias runs from, or 'unknown'."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(tf_kdbias.__file__)))
    try:
        out = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance() -> dict:
    import keras
    return {"tf_kdbias_version": tf_kdbias.__version__, "git_commit": git_commit(),
            "keras_version": keras.__version__, "backend": keras.config.backend()}


def precision() -> dict:
    """How this process computes: the dtype policy and the float32 matmul precision.

    JAX runs float32 matmuls and convolutions as TF32 on GPUs with tensor
    cores unless `jax_default_matmul_precision` says otherwise; TensorFlow
    does the same while TF32 execution is enabled (its default). On a CPU
    both compute in true float32.
    """
    import keras
    policy = keras.config.dtype_policy().name
    if keras.config.backend() == "jax":
        import jax
        platform = jax.default_backend()
        setting = jax.config.jax_default_matmul_precision
        tf32 = platform == "gpu" and setting in (None, "default", "tensorfloat32")
        how = f"jax_default_matmul_precision={setting}"
    elif keras.config.backend() == "tensorflow":
        import tensorflow as tf
        platform = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
        tf32 = platform == "gpu" and tf.config.experimental.tensor_float_32_execution_enabled()
        how = f"tensor_float_32_execution={tf32}"
    else:
        platform, tf32, how = "unknown", False, keras.config.backend()
    matmul = "tf32" if tf32 else ("float32" if platform != "unknown" else "unknown")
    return {"dtype_policy": policy, "matmul": matmul, "platform": platform, "setting": how}


def write_config(run_dir: str, filename: str, config_text: str) -> None:
    """Writes the gin config to the run dir and, when TF is there, to
    TensorBoard as text (t5x-style), so a run shows how it was made."""
    io_utils.write_text_atomic(os.path.join(run_dir, filename), config_text)
    try:
        import tensorflow as tf
    except ImportError:
        return
    writer = tf.summary.create_file_writer(os.path.join(run_dir, "tensorboard", "config"))
    with writer.as_default():
        # Markdown needs indented lines to keep gin's layout.
        tf.summary.text(filename, "    " + config_text.replace("\n", "\n    "), step=0)
    writer.close()
