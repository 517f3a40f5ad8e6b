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


def run_script_in_process(name, *args, env=None):
    """`run_script` without a new process: scripts/<name>'s main() runs here.

    For tests that need what a script does, not its process boundary (each
    script keeps real command-line tests): the same flags, the same error
    path (`cli.run_main`: exit status 2, the message on stderr), and its
    stdout/stderr captured into the result. `env` is set for the call (and
    for the processes the script starts); gin's config and the script's
    flags are removed afterwards, so nothing leaks into later tests.
    """
    import contextlib
    import importlib.util
    import io

    import gin
    import pytest
    from absl import app, flags, logging  # noqa: F401  Their flags are not the script's.

    path = os.path.join(REPO_ROOT, "scripts", name)
    before = set(flags.FLAGS)
    stdout, stderr, returncode = io.StringIO(), io.StringIO(), 0
    with pytest.MonkeyPatch.context() as patch:
        for key, value in (env or {}).items():
            patch.setenv(key, value)
        patch.chdir(REPO_ROOT)
        try:
            spec = importlib.util.spec_from_file_location(f"script_{name[:-3]}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)  # Defines the script's flags.
            argv = flags.FLAGS([path, *args])
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                module.main(argv)
        except SystemExit as exit_:
            returncode = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            for flag in set(flags.FLAGS) - before:
                delattr(flags.FLAGS, flag)
            flags.FLAGS.unparse_flags()
            gin.clear_config()
    return subprocess.CompletedProcess([path, *args], returncode, stdout.getvalue(),
                                       stderr.getvalue())
