"""The fused JAX engine (TrainSettings.engine='fused') against Keras' fit.

The JAX side runs in subprocesses that cannot import TensorFlow
(tests/training/fused_steps.py, scripts/train.py and distill.py with
KERAS_BACKEND=jax); this process compares what they saved.

Tolerance. Both engines run the trainer's own `train_step` on the same
batches from the same state, so they compute the same function; but XLA
compiles a step inside a `lax.scan` (and, for a group of seeds, with a
batch dimension) separately from a standalone step and may fuse or
reassociate float32 sums differently (most runs here are bit-identical on
CPU, a vmapped group is not). Values must agree to 1e-5 of each tensor's
largest magnitude, a few float32 roundings per step over this file's 21
steps; counters and RNG states must be equal.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tests.distill.test_backends import jax_env
from tests.script_runner import gin_args, run_script
from tf_kdbias import io_utils

FUSED_STEPS = os.path.join(REPO_ROOT, "tests", "training", "fused_steps.py")
RELATIVE_TOLERANCE = 1e-5
PAIR_CASES = ("student", "per_step", "cached")
SEEDS = (3, 11)  # fused_steps.SEEDS


@pytest.fixture(scope="module")
def fused_steps(tmp_path_factory, mnist_test):
    """All cases of fused_steps.py, run once in one JAX process."""
    workdir = tmp_path_factory.mktemp("fused_steps")
    data_path, out_path = str(workdir / "data.npz"), str(workdir / "out.npz")
    np.savez(data_path, images=mnist_test.images[:260], labels=mnist_test.labels[:260])
    done = subprocess.run([sys.executable, FUSED_STEPS, data_path, out_path, *PAIR_CASES,
                           "seeds", "resume"], cwd=REPO_ROOT, env=jax_env(), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return dict(np.load(out_path))


def assert_close(expected, actual, what):
    expected, actual = np.asarray(expected), np.asarray(actual)
    assert expected.shape == actual.shape, what
    if not np.issubdtype(expected.dtype, np.floating):
        np.testing.assert_array_equal(actual, expected, err_msg=what)  # Counters, RNG states.
        return
    scale = max(float(np.max(np.abs(expected))), 1e-6) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=0, atol=RELATIVE_TOLERANCE * scale,
                               err_msg=what)


def entries(results, prefix):
    """{name under prefix: array} for one run's snapshot."""
    return {key[len(prefix):]: value for key, value in results.items()
            if key.startswith(prefix) and not key[len(prefix):].startswith("initial/")}


@pytest.mark.parametrize("case, loop", [(case, "fused") for case in PAIR_CASES]
                         + [("per_step", "fused_steps")])
def test_fused_training_equals_keras_fit(fused_steps, case, loop):
    """Three epochs of 7 steps (the last batch partial), with validation; the
    fused engine scanning each epoch, or (fused_steps) one call per step."""
    standard = entries(fused_steps, f"{case}/standard/")
    fused = entries(fused_steps, f"{case}/{loop}/")
    assert set(standard) == set(fused)
    # Both started from the very same state (same seed, same build).
    for key, value in entries(fused_steps, f"{case}/standard/initial/").items():
        np.testing.assert_array_equal(fused_steps[f"{case}/{loop}/initial/{key}"], value)
    for key in sorted(standard):
        assert_close(standard[key], fused[key], f"{case}: {key}")
    # The runs did train: weights moved, the loss history has an entry per epoch.
    moved = [key for key in standard if key.startswith("trainable/")
             and not np.array_equal(standard[key], fused_steps[f"{case}/standard/initial/{key}"])]
    assert len(moved) >= 6, moved
    assert len(standard["log/loss"]) == 3 and "log/val_loss" in standard


def test_per_step_teacher_runs_in_training_mode_with_its_own_rng(fused_steps):
    """The teacher's dropout RNG advanced (a frozen teacher in inference mode
    would leave it alone), identically in both engines."""
    initial = entries(fused_steps, "per_step/standard/initial/")
    standard = entries(fused_steps, "per_step/standard/")
    rng_keys = [key for key in standard if key.startswith("non_trainable/")
                and standard[key].dtype.kind in "iu" and standard[key].shape == (2,)]
    advanced = [key for key in rng_keys if not np.array_equal(standard[key], initial[key])]
    assert len(advanced) >= 4, rng_keys  # Two dropout layers each in student and teacher.
    for key in advanced:
        np.testing.assert_array_equal(fused_steps[f"per_step/fused/{key}"], standard[key])
    # The distillation term was part of the objective: loss = r KD + (1 - r) CE + reg.
    logs = {k: v for k, v in standard.items() if k.startswith("log/")}
    assert np.all(logs["log/distillation_loss"] > 0)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_vmapped_seed_equals_that_seed_alone(fused_steps, seed):
    alone = entries(fused_steps, f"seeds/alone/{seed}/")
    group = entries(fused_steps, f"seeds/group/{seed}/")
    assert set(alone) == set(group)
    for key in sorted(alone):
        assert_close(alone[key], group[key], f"seed {seed}: {key}")


def test_seeds_of_a_group_differ(fused_steps):
    """Each seed has its own init, dropout RNG and batch order, so the runs differ."""
    first, second = (entries(fused_steps, f"seeds/group/{s}/") for s in SEEDS)
    assert not np.allclose(first["trainable/000"], second["trainable/000"], atol=1e-3)
    assert not np.allclose(first["log/loss"], second["log/loss"])
    # The shared images are stored once; the labels too (same training split).
    assert fused_steps["seeds/shared_data_leaves"].all()


def test_a_resumed_fused_run_equals_an_uninterrupted_one(fused_steps):
    """Stopped after epoch 1, restored from its backup into a fresh trainer: the
    same weights, optimizer and RNG states and history, bit for bit."""
    uninterrupted = entries(fused_steps, "resume/uninterrupted/")
    resumed = entries(fused_steps, "resume/resumed/")
    assert set(uninterrupted) == set(resumed)
    for key in sorted(uninterrupted):
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)


def test_epoch_batches_follow_the_standard_order():
    """Epoch e's batches are numpy's permutation for (seed, e), cut in order."""
    from tf_kdbias.training.fused.engine import epoch_batches

    for count, batch in ((200, 32), (256, 32), (5, 8)):
        full, rest = epoch_batches(count, batch, seed=7, epoch=3)
        order = np.random.default_rng([7, 3]).permutation(count)
        expected = [order[i:i + batch] for i in range(0, count, batch)]
        got = list(full) + ([] if rest is None else [rest[0]])
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)
        assert (rest is None) == (count % batch == 0)


def test_the_loop_is_named_and_auto_avoids_scanned_convolutions_on_a_cpu():
    import jax

    from tf_kdbias.errors import UserError
    from tf_kdbias.training.fused import engine
    from tf_kdbias.models.cnn import build_cnn
    from tf_kdbias.models.mlp import build_mlp

    on_cpu = jax.default_backend() == "cpu"
    cnn = build_cnn(filters=(4, 4, 4), maxout_units=(4, 4, 2))
    assert engine.resolve_loop("auto", cnn) == ("steps" if on_cpu else "scan")
    assert engine.resolve_loop("auto", build_mlp(hidden_units=(8,))) == "scan"
    assert engine.resolve_loop("scan", cnn) == "scan"
    with pytest.raises(UserError, match="fused_loop.loop='unrolled'"):
        engine.resolve_loop("unrolled")


def test_fused_engine_needs_jax_and_a_known_name():
    from tf_kdbias.errors import UserError
    from tf_kdbias.training.settings import TrainSettings

    with pytest.raises(UserError, match="KERAS_BACKEND=jax"):
        TrainSettings(epochs=1, engine="fused")  # This process runs TensorFlow.
    with pytest.raises(UserError, match=r"\['standard', 'fused'\]"):
        TrainSettings(epochs=1, engine="turbo")
    assert TrainSettings(epochs=1).engine == "standard"


MLP_GIN = "gin_configs/mnist_c/mlp.gin"
RUN_BINDINGS = ("EPOCHS = 2", "MnistTask.train_size = 600", "MnistTask.validation_size = 200",
                "build_mlp.hidden_units = (32, 16)", "make_optimizer.learning_rate = 3e-3",
                "run_training.eval_sets = ['mnist']")
STUDENT_BINDINGS = RUN_BINDINGS + ("Distiller.teacher_training = True",
                                   "Distiller.kd_loss = 'soft_cross_entropy'",
                                   "Distiller.distill_rate = 0.5")


def fused(bindings):
    # Scan whole epochs, as on a GPU ('auto' would take a step per call on a CPU).
    return bindings + ("TrainSettings.engine = 'fused'", "fused_loop.loop = 'scan'")


def run_jax(script, bindings, workdir, data_dir, *extra):
    done = run_script(script, *gin_args(MLP_GIN, bindings), f"--workdir={workdir}",
                      f"--data_dir={data_dir}", *extra, env=jax_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return io_utils.read_json(os.path.join(workdir, "metrics.json"))


def save_teacher(folder):
    """An (untrained) MLP teacher with dropout as a finished run's model.keras.

    Saved by this TensorFlow process: .keras files load on any backend, and
    training it first would only slow the test down.
    """
    import keras

    from tests.fake_runs import save_finished_run
    from tf_kdbias.models.mlp import build_mlp

    keras.utils.set_random_seed(5)
    save_finished_run(folder, build_mlp(hidden_units=(32,), dropout=0.3, name="teacher"))


def test_fused_runs_write_what_standard_runs_write(tmp_path, data_dir):
    """scripts/distill.py on the fused engine, the teacher in training mode at every
    step, against the same student trained by Keras' fit()."""
    teacher = tmp_path / "teacher"
    save_teacher(teacher)
    students = {}
    for engine, bindings in (("standard", STUDENT_BINDINGS), ("fused", fused(STUDENT_BINDINGS))):
        folder = tmp_path / engine
        students[engine] = run_jax("distill.py", bindings, folder, data_dir,
                                   f"--teacher_dir={teacher}")
        assert sorted(os.listdir(folder / "trajectory")) == [
            "epoch_0000.weights.h5", "epoch_0001.weights.h5", "epoch_0002.weights.h5"]
        assert not (folder / "backup").exists()  # Removed once the run finished.
        assert (folder / "model.keras").exists()
    standard, fused_run = students["standard"], students["fused"]
    assert set(standard["history"]) == set(fused_run["history"])
    assert "val_loss" in fused_run["history"] and "distillation_loss" in fused_run["history"]
    for name, values in standard["history"].items():
        np.testing.assert_allclose(fused_run["history"][name], values, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    for metric, value in standard["eval"]["mnist"].items():
        if value is not None:
            np.testing.assert_allclose(fused_run["eval"]["mnist"][metric], value, rtol=1e-4,
                                       atol=1e-5, err_msg=metric)
