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
