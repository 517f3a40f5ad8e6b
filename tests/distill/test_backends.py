"""The Distiller on Keras' JAX backend, without TensorFlow, against the TF path.

The JAX side runs in a subprocess (a process has one Keras backend) with
TensorFlow made unimportable, as on a JAX-only GPU machine.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tests.distill import backend_steps

NO_TF_SITE = os.path.join(REPO_ROOT, "tests", "no_tensorflow")


def jax_env():
    """Environment of a JAX-backend process that cannot import TensorFlow."""
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join([NO_TF_SITE, REPO_ROOT, env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(scope="module")
def shared_state(tmp_path_factory, mnist_test):
    """A batch, its teacher logits and initial weights, written by the TF side."""
    workdir = str(tmp_path_factory.mktemp("backends"))
    keras.utils.set_random_seed(0)
    teacher, student = backend_steps.build_pair()
    n = backend_steps.STEPS * backend_steps.BATCH
    images, labels = mnist_test.images[:n], mnist_test.labels[:n]
    teacher.save_weights(os.path.join(workdir, "teacher.weights.h5"))
    student.save_weights(os.path.join(workdir, "student.weights.h5"))
    np.savez(os.path.join(workdir, "batch.npz"), images=images, labels=labels,
             teacher_logits=np.asarray(teacher.predict(images, verbose=0)))
    return workdir


@pytest.fixture(scope="module")
def jax_steps(shared_state):
    """{mode: out.npz} of every mode's steps, taken in one JAX process."""
    outputs = {mode: os.path.join(shared_state, f"jax_{mode}.npz") for mode in backend_steps.MODES}
    result = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "tests", "distill", "backend_steps.py"),
         shared_state, *[part for mode, path in outputs.items() for part in (mode, path)]],
        env=jax_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return outputs


@pytest.mark.parametrize("mode", backend_steps.MODES)
def test_jax_steps_match_tensorflow_steps(shared_state, jax_steps, mode):
    ours = backend_steps.run_steps(shared_state, mode)
    theirs = dict(np.load(jax_steps[mode]))
    assert sorted(ours) == sorted(theirs)
    # The logged schedule advances step by step on both backends.
    np.testing.assert_allclose(theirs["log/distill_rate"], [0.9, 0.6, 0.3], rtol=1e-6)
    assert ours["log/distillation_loss"][0] > 0
    for key in ours:
        np.testing.assert_allclose(theirs[key], ours[key], rtol=2e-4, atol=2e-5, err_msg=key)
    initial_teacher, _ = backend_steps.build_pair()
    initial_teacher.load_weights(os.path.join(shared_state, "teacher.weights.h5"))
    kernel = initial_teacher.get_weights()[0]
    # Only online distillation trains the teacher, on either backend.
    assert np.array_equal(theirs["teacher/0"], kernel) == (mode != "online")
