"""Runs the project's absl scripts in a subprocess, as a user would."""

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

# Settings that keep a tiny MNIST run to a few seconds.
TINY_MNIST_BINDINGS = (
    "EPOCHS = 2",
    "MnistTask.train_size = 1024",
    "MnistTask.validation_size = 256",
    "build_cnn.filters = (8, 8, 8)",
    "build_cnn.maxout_units = (8, 8, 4)",
    "build_mlp.hidden_units = (32, 16)",
    "make_optimizer.learning_rate = 3e-3",
    "run_training.eval_sets = ['mnist', 'mnist_c/translate']",
)


def run_script(name, *args, env=None):
    """Returns the CompletedProcess of `python scripts/<name> args...`."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run([sys.executable, os.path.join(REPO_ROOT, "scripts", name), *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, env=full_env,
                          timeout=600)


def gin_args(gin_file, bindings=TINY_MNIST_BINDINGS):
    return [f"--gin_file={gin_file}"] + [f"--gin_bindings={b}" for b in bindings]
