"""Function matching: teacher and student see the same view at every step; runs with
a live teacher, a view cache, or no teacher (mixup control); on TF and JAX."""

import json
import os

import gin
import keras
import numpy as np
import pytest

from tests.distill.test_backends import jax_env
from tests.script_runner import gin_args, run_script
from tests.tiny_runs import run_in_process
from tf_kdbias.data import views
from tf_kdbias.distill.distiller import Distiller
from tf_kdbias.errors import UserError
from tf_kdbias.training import function_matching
from tf_kdbias.models.mlp import build_mlp

MLP_GIN = "gin_configs/mnist_c/mlp.gin"
FM_GIN = "gin_configs/mnist_c/function_matching.gin"
TINY = ("EPOCHS = 2", "MnistTask.train_size = 512", "MnistTask.validation_size = 128",
        "build_mlp.hidden_units = (32, 16)", "make_optimizer.learning_rate = 3e-3",
        "run_training.eval_sets = ['mnist']")


@pytest.fixture(autouse=True)
def clean_gin():
    yield
    gin.clear_config()


class Log:
    """A plain holder: a list set on a Keras layer would be copied into a tracked one."""

    def __init__(self):
        self.entries = []


class Recorder(keras.layers.Layer):
    """Identity layer that logs each concrete input it sees and the mode."""

    def __init__(self, log: Log, **kwargs):
        super().__init__(**kwargs)
        self.log = log

    def call(self, inputs, training=None):
        if hasattr(inputs, "numpy"):  # Eager values only; not symbolic model building.
            self.log.entries.append((np.array(inputs), bool(training)))
        return inputs

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor(inputs.shape, inputs.dtype)


def recorded_mlp(log, seed, name):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((28, 28, 1), dtype="uint8")
    body = build_mlp(hidden_units=(16,), name=f"{name}_body")
    return keras.Model(inputs, body(Recorder(log)(inputs)), name=name)


@pytest.mark.parametrize("teacher_training", [False, True])
def test_teacher_and_student_receive_the_identical_view_each_step(mnist_test, teacher_training):
    images, labels = mnist_test.images[:96], mnist_test.labels[:96]
    spec = views.ViewSpec(mixup_alpha=1.0, seed=11)
    teacher_log, student_log = Log(), Log()
    distiller = Distiller(student=recorded_mlp(student_log, 1, "student"),
                          teacher=recorded_mlp(teacher_log, 0, "teacher"), temperature=2.0,
                          teacher_training=teacher_training)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), run_eagerly=True)
    batches = function_matching.view_batches(images, labels, spec, None, batch_size=32, seed=4,
                                             first_epoch=0, epochs=2)
    teacher_log.entries.clear(), student_log.entries.clear()
    distiller.fit(batches, epochs=2, steps_per_epoch=3, verbose=0)
    teacher_log, student_log = teacher_log.entries, student_log.entries

    expected = [x for x, _ in function_matching.view_batches(
        images, labels, spec, None, batch_size=32, seed=4, first_epoch=0, epochs=2)]
    assert len(teacher_log) == len(student_log) == len(expected) == 6
    for step, ((t_view, t_mode), (s_view, s_mode), view) in enumerate(
            zip(teacher_log, student_log, expected)):
        np.testing.assert_array_equal(t_view, s_view, err_msg=f"step {step}")
        np.testing.assert_array_equal(s_view, view, err_msg=f"step {step}")
        assert (t_mode, s_mode) == (teacher_training, True)
    # Views are mixed images, and epoch 1 draws new views of the same examples.
    order = [np.random.default_rng([4, e]).permutation(96) for e in (0, 1)]
    first, second = np.concatenate(expected[:3]), np.concatenate(expected[3:])
    assert np.mean(np.any(first != images[order[0]], axis=(1, 2, 3))) > 0.9
    by_example = [np.empty_like(first), np.empty_like(second)]
    by_example[0][order[0]], by_example[1][order[1]] = first, second
    assert np.mean(np.any(by_example[0] != by_example[1], axis=(1, 2, 3))) > 0.9


def test_cached_batches_pair_each_view_with_its_logits(mnist_test):
    images, labels = mnist_test.images[:50], mnist_test.labels[:50]
    spec = views.ViewSpec(seed=2)
    # Fake "logits" that name their example and view: [i, v, (i, v, 0...)].
    cached = np.zeros((50, 3, 10), np.float16)
    cached[:, :, 0] = np.arange(50)[:, None]
    cached[:, :, 1] = np.arange(3)[None, :]
    seen = []
    for epoch, (x, y) in enumerate(function_matching.view_batches(
            images, labels, spec, 3, batch_size=50, seed=0, first_epoch=0, epochs=5,
            cached_logits=cached)):
        example, view = x["teacher_logits"][:, 0].astype(int), x["teacher_logits"][:, 1].astype(int)
        assert np.all(view == epoch % 3)
        np.testing.assert_array_equal(x["inputs"],
                                      views.make_views(images, spec, example, epoch % 3))
        dominant, _ = views.view_labels(labels, spec, example, epoch % 3, 10)
        np.testing.assert_array_equal(y, dominant)
        seen.append(sorted(example))
    assert all(s == list(range(50)) for s in seen)  # Every example once per epoch.


def test_a_model_alone_trains_on_mixups_soft_targets(mnist_test):
    gin.bind_parameter("FunctionMatching.enabled", True)
    from tf_kdbias.tasks.mnist import MnistTask

    loss, metrics = function_matching.alone_objective(MnistTask())
    keras.utils.set_random_seed(0)
    model = build_mlp(hidden_units=(16,), dropout=0.0, l1=0.0, l2=0.0)
    model.compile(optimizer="sgd", loss=loss, metrics=metrics)
    images, labels = mnist_test.images[:64], mnist_test.labels[:64]
    spec = views.ViewSpec(seed=0)
    ((x, y),) = list(function_matching.view_batches(images, labels, spec, None, 64, 0, 0, 1,
                                                    soft_labels=True))
    order = np.random.default_rng([0, 0]).permutation(64)
    partners, levels = views.mixup_parameters(spec, 64, order, 0)
    log_q = np.asarray(model(x), np.float64)
    log_q = log_q - log_q.max(1, keepdims=True)
    log_q = log_q - np.log(np.exp(log_q).sum(1, keepdims=True))
    rows = np.arange(64)
    lam = levels / 256
    by_hand = -(lam * log_q[rows, labels[order]] + (1 - lam) * log_q[rows, labels[partners]])
    logs = model.evaluate(x, y, batch_size=64, return_dict=True, verbose=0)
    assert logs["loss"] == pytest.approx(by_hand.mean(), rel=1e-5)


def run_with_function_matching(run_dir, data_dir, bindings, teacher_dir=None):
    """run_training as `distill.py --gin_file=mlp.gin --gin_file=function_matching.gin` runs it."""
    from tf_kdbias import gin_utils
    from tf_kdbias.training import run as run_lib

    gin_utils.parse_gin([MLP_GIN, FM_GIN], bindings)
    try:
        return run_lib.run_training(str(run_dir), data_dir=data_dir, teacher_dir=teacher_dir)
    finally:
        gin.clear_config()


@pytest.fixture(scope="module")
def fm_runs(tmp_path_factory, data_dir):
    """A tiny MLP teacher; students by function matching, live and from a view cache."""
    root = tmp_path_factory.mktemp("fm")
    teacher = root / "teacher"
    run_in_process(teacher, data_dir, TINY)
    gin.clear_config()
    # SGD: Adam's normalised steps would magnify float16 differences of tiny gradients.
    sgd = ("make_optimizer.name = 'sgd'", "make_optimizer.learning_rate = 0.1")
    students = {name: run_with_function_matching(root / name, data_dir, TINY + sgd + extra,
                                                 teacher_dir=str(teacher))
                for name, extra in (("live", ()),
                                    ("cached", ("FunctionMatching.cache_views = 2",)))}
    return root, students


def test_view_cache_run_matches_the_live_teacher_run(fm_runs):
    root, students = fm_runs
    live = keras.saving.load_model(str(root / "live" / "model.keras"))
    cached = keras.saving.load_model(str(root / "cached" / "model.keras"))
    # Two epochs <= V = 2 cached views: the same views, logits rounded to float16.
    for a, b in zip(live.get_weights(), cached.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(students["live"]["history"]["distillation_loss"],
                               students["cached"]["history"]["distillation_loss"], rtol=1e-3)
    assert students["live"]["function_matching"]["teacher_mode"] == "inference"
    assert students["cached"]["function_matching"]["cache_views"] == 2
    assert students["live"]["function_matching"]["augmentations"] == ["mixup"]
    assert students["live"]["function_matching"]["overlapping_corruptions"] == []  # Mixup.
    caches = os.listdir(root / "teacher" / "logit_cache")
    # Views of the training split and the plain validation images; never the plain
    # training images, which these students do not see.
    assert sorted(f.split("_")[0] for f in caches) == ["train", "validation"]
    assert any("_V2_" in f for f in caches)


def test_bad_function_matching_settings_are_user_errors(fm_runs, data_dir, tmp_path):
    root, _ = fm_runs
    cases = {
        "teacher_training=True": ("FunctionMatching.cache_views = 2",
                                  "Distiller.teacher_training = True"),
        "MNIST-C test shifts": ("FunctionMatching.augmentations = ('mixup', 'translate')",),
    }
    for k, (message, bindings) in enumerate(cases.items()):
        with pytest.raises(UserError, match=message):
            run_with_function_matching(tmp_path / str(k), data_dir, TINY + bindings,
                                       teacher_dir=str(root / "teacher"))


def test_function_matching_runs_on_jax(fm_runs, tmp_path, data_dir):
    """A cached-view student on Keras' JAX backend, in a process without TensorFlow:
    the views come from the same numpy code, so the cache built on TensorFlow is reused."""
    root, _ = fm_runs
    student = run_script("distill.py", f"--gin_file={MLP_GIN}", f"--gin_file={FM_GIN}",
                         *gin_args(MLP_GIN, TINY)[1:],
                         "--gin_bindings=FunctionMatching.cache_views = 2",
                         f"--teacher_dir={root / 'teacher'}", f"--data_dir={data_dir}",
                         f"--workdir={tmp_path / 'student'}", env=jax_env())
    assert student.returncode == 0, student.stderr[-3000:]
    assert "Caching teacher logits on" not in student.stdout  # Same key on both backends.
    metrics = json.load(open(tmp_path / "student" / "metrics.json"))
    assert metrics["backend"] == "jax"
    assert metrics["history"]["loss"][-1] < metrics["history"]["loss"][0]
    assert metrics["function_matching"]["teacher_mode"] == "cached views (inference mode)"
