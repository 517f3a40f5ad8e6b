"""train -> distill -> evaluate -> export on a slice of real MNIST, via the scripts."""

import json
import os

import numpy as np
import pytest

from tf_kdbias.models import load_model

from tests.script_runner import gin_args, run_script, run_script_in_process


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("e2e")
    teacher, student = str(root / "cnn"), str(root / "cnn_to_mlp")
    done = run_script("train.py", *gin_args("gin_configs/mnist_c/cnn.gin"),
                      f"--workdir={teacher}", f"--data_dir={data_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    done = run_script("distill.py", *gin_args("gin_configs/mnist_c/mlp.gin"),
                      f"--teacher_dir={teacher}", f"--workdir={student}", f"--data_dir={data_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    return root, teacher, student


def test_run_directories_hold_what_a_run_promises(runs):
    _, teacher, student = runs
    for run_dir in (teacher, student):
        files = set(os.listdir(run_dir))
        assert {"model.keras", "metrics.json", "config.gin", "operative_config.gin",
                "tensorboard", "trajectory"} <= files
        metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
        assert set(metrics["eval"]) == {"mnist", "mnist_c/translate"}
        assert metrics["epochs"] == 2 and metrics["task"] == "mnist"
        # The operative config records what the run really used.
        assert "EPOCHS = 2" in open(os.path.join(run_dir, "operative_config.gin")).read()
        assert sorted(os.listdir(os.path.join(run_dir, "trajectory"))) == [
            "epoch_0000.weights.h5", "epoch_0001.weights.h5", "epoch_0002.weights.h5"]
    student_metrics = json.load(open(os.path.join(student, "metrics.json")))
    assert student_metrics["teacher_dir"] == os.path.abspath(teacher)
    assert "distillation_loss" in student_metrics["history"]
    # The teacher's logits were cached beside the teacher, keyed by content.
    caches = os.listdir(os.path.join(teacher, "logit_cache"))
    assert any(name.startswith("train_") for name in caches)


def test_recorded_accuracy_is_the_saved_models_on_the_mnist_test_set(runs, mnist_test):
    """metrics.json's MNIST accuracy equals a recomputation from model.keras on
    all 10000 test images (not a subset, not another split, not the untrained
    model). Not "above chance": after 16 steps the BatchNorm moving statistics
    (momentum 0.99) are still near their start, so these tiny runs score about
    0.1 in inference mode; test_training_reduces_the_loss checks they learn."""
    _, teacher, student = runs
    for run_dir in (teacher, student):
        recorded = json.load(open(os.path.join(run_dir, "metrics.json")))["eval"]["mnist"]
        model = load_model(os.path.join(run_dir, "model.keras"))
        logits = model.predict(mnist_test.images, batch_size=1000, verbose=0)
        assert len(mnist_test.labels) == 10000
        accuracy = float(np.mean(np.argmax(logits, axis=-1) == mnist_test.labels))
        assert recorded["accuracy"] == pytest.approx(accuracy, abs=1e-6), run_dir


def test_training_reduces_the_loss(runs):
    _, teacher, student = runs
    for run_dir, key in ((teacher, "loss"), (student, "distillation_loss")):
        history = json.load(open(os.path.join(run_dir, "metrics.json")))["history"]
        assert len(history[key]) == 2 and history[key][1] < history[key][0]


def test_evaluate_script_matches_the_run_and_writes_json(runs, data_dir):
    _, teacher, _ = runs
    done = run_script("evaluate.py", f"--run_dir={teacher}", "--eval_sets=mnist",
                      f"--data_dir={data_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    evaluation = json.load(open(os.path.join(teacher, "evaluation.json")))
    recorded = json.load(open(os.path.join(teacher, "metrics.json")))["eval"]["mnist"]
    assert evaluation["mnist"]["accuracy"] == pytest.approx(recorded["accuracy"], abs=1e-6)


def test_exported_saved_model_matches_keras(runs, mnist_test):
    import tensorflow as tf

    root, student, _ = runs  # The CNN: its custom max-out layer must load too.
    export_dir = str(root / "export")
    done = run_script("export.py", f"--run_dir={student}", f"--export_dir={export_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    serving = tf.saved_model.load(export_dir).signatures["serving_default"]
    assert serving.structured_input_signature[1]["image"].dtype == tf.uint8
    images = mnist_test.images[:300]
    exported = serving(image=tf.constant(images))["logits"].numpy()
    assert exported.shape == (300, 10) and exported.dtype == np.float32
    model = load_model(os.path.join(student, "model.keras"))
    np.testing.assert_allclose(exported, model.predict(images, verbose=0), rtol=1e-4, atol=1e-4)


def test_missing_teacher_checkpoint_is_an_error(tmp_path, data_dir):
    # distill.py's main() here: the same error path (cli.run_main) as its command line.
    done = run_script_in_process("distill.py", *gin_args("gin_configs/mnist_c/mlp.gin"),
                                 f"--teacher_dir={tmp_path / 'never_trained'}",
                                 f"--workdir={tmp_path / 'student'}", f"--data_dir={data_dir}")
    assert done.returncode == 2
    assert "has no model.keras" in done.stderr and "Traceback" not in done.stderr
    assert not os.path.exists(tmp_path / "student" / "metrics.json")


def test_unknown_gin_binding_is_an_error(tmp_path, data_dir):
    done = run_script_in_process("train.py", "--gin_file=gin_configs/mnist_c/mlp.gin",
                                 "--gin_bindings=build_mlp.hiden_units = (3,)",
                                 f"--workdir={tmp_path / 'run'}", f"--data_dir={data_dir}")
    assert done.returncode == 2
    assert "hiden_units" in done.stderr and "Traceback" not in done.stderr
    assert not os.path.exists(tmp_path / "run" / "metrics.json")
