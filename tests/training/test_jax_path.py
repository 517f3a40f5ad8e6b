"""The MNIST table and the SVA classifiers on Keras' JAX backend in processes
that cannot import TensorFlow."""

import collections
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.distill.test_backends import jax_env
from tests.script_runner import run_script
from tf_kdbias import io_utils

TINY_EXPERIMENT = "tests/tiny_experiment.gin"


@pytest.fixture(scope="module")
def jax_table(tmp_path_factory, data_dir):
    workdir = str(tmp_path_factory.mktemp("jax_table"))
    done = run_script("reproduce.py", f"--gin_file={TINY_EXPERIMENT}", f"--workdir={workdir}",
                      f"--data_dir={data_dir}", "--parallel_runs=2", env=jax_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return workdir, done.stdout


def run_dir(workdir, name):
    return os.path.join(workdir, "runs", name, "seed_0")


def test_table_trains_and_distils_on_jax(jax_table):
    workdir, _ = jax_table
    results = io_utils.read_json(os.path.join(workdir, "results.json"))
    accuracy = {(r["student"], r["teacher"], r["eval_set"]): r["mean"]
                for r in results["rows"] if r["metric"] == "accuracy" and not r.get("baseline")}
    assert set(accuracy) == {(s, t, e) for s, t in [("cnn", None), ("mlp", None), ("mlp", "cnn")]
                             for e in ("mnist", "mnist_c/translate")}
    # The constant guess sits beside the models, scored on the same eval sets.
    guesses = {r["eval_set"] for r in results["rows"] if r.get("baseline")}
    assert guesses == {"mnist", "mnist_c/translate"}
    assert accuracy[("mlp", None, "mnist")] > 0.5, accuracy  # Chance is 0.1.
    for name in ("cnn", "mlp", "cnn_to_mlp"):  # Two epochs of 8 steps: each loss falls.
        history = io_utils.read_json(os.path.join(run_dir(workdir, name), "metrics.json"))["history"]
        assert history["loss"][-1] < history["loss"][0], (name, history["loss"])
    student = io_utils.read_json(os.path.join(run_dir(workdir, "cnn_to_mlp"), "metrics.json"))
    assert student["backend"] == "jax"
    assert student["history"]["distillation_loss"][-1] > 0
    assert os.listdir(os.path.join(run_dir(workdir, "cnn"), "logit_cache"))  # Cached teacher.


def test_parallel_runs_log_to_their_run_dirs_and_students_wait(jax_table):
    workdir, stdout = jax_table
    # The student starts only after its teacher is done.
    assert stdout.index("cnn seed 0: done") < stdout.index("cnn_to_mlp seed 0: starting")
    log = open(os.path.join(run_dir(workdir, "mlp"), "log.txt")).read()
    assert "TensorBoard summaries need TensorFlow" in log
    for name in ("cnn", "mlp", "cnn_to_mlp"):
        folder = run_dir(workdir, name)
        assert not os.path.exists(os.path.join(folder, "tensorboard"))
        for kept in ("config.gin", "operative_config.gin", "model.keras", "metrics.json"):
            assert os.path.exists(os.path.join(folder, kept)), (name, kept)


def test_export_without_tensorflow_says_what_is_missing(jax_table, tmp_path):
    workdir, _ = jax_table
    export_dir = str(tmp_path / "export")
    done = run_script("export.py", f"--run_dir={run_dir(workdir, 'mlp')}",
                      f"--export_dir={export_dir}", env=jax_env())
    assert done.returncode == 2
    assert "needs TensorFlow" in done.stderr
    assert 'pip install -e ".[tf]"' in done.stderr  # The extra that brings TensorFlow.
    assert not os.path.exists(export_dir)


def test_no_keras_backend_installed_is_named_with_the_fix():
    env = dict(jax_env(), TF_KDBIAS_TEST_BLOCK_ALSO="jax,jaxlib")
    del env["KERAS_BACKEND"]
    done = subprocess.run([sys.executable, "-c", "import tf_kdbias"], env=env,
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert "neither TensorFlow nor JAX is installed" in done.stderr
    assert 'pip install -e ".[tf]"' in done.stderr and 'pip install -e ".[jax]"' in done.stderr
    # With JAX there, the same process picks it.
    env.pop("TF_KDBIAS_TEST_BLOCK_ALSO")
    done = subprocess.run([sys.executable, "-c", "import tf_kdbias, keras; "
                           "print(keras.config.backend())"], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0 and done.stdout.strip() == "jax", done.stderr[-2000:]


SVA_JAX_BINDINGS = (
    "EPOCHS = 2",
    "GrammarSource.num_train = 400",
    "GrammarSource.num_validation = 50",
    "GrammarSource.num_test = 200",
    "build_lstm_classifier.embedding_dim = 16",
    "build_lstm_classifier.hidden_dim = 16",
    "build_transformer_seq_classifier.hidden_dim = 16",
    "build_transformer_seq_classifier.num_layers = 1",
    "build_transformer_seq_classifier.num_heads = 2",
    "run_training.eval_sets = ['sva/test']",
)
FRONTED_SOURCE = "gin_configs/sva/source_grammar_fronted.gin"


def sva_jax_args(model_gin):
    return ([f"--gin_file=gin_configs/sva/{model_gin}", f"--gin_file={FRONTED_SOURCE}"]
            + [f"--gin_bindings={b}" for b in SVA_JAX_BINDINGS])


def fronted_test_split():
    """The runs' test examples, generated here from the same gin files."""
    import gin

    from tf_kdbias.data.sva.sources import GrammarSource
    from tf_kdbias.gin_utils import parse_gin
    parse_gin(["gin_configs/sva/lstm.gin", FRONTED_SOURCE], list(SVA_JAX_BINDINGS))
    try:
        return GrammarSource().load_splits(None)["test"]
    finally:
        gin.clear_config()


def grouped(examples):
    """Examples by attractor count, as A-accuracy groups them (<= 4, distance <= 16)."""
    groups = collections.defaultdict(list)
    for example in examples:
        if example.n_attractors is not None and example.n_attractors <= 4 \
                and example.distance <= 16:
            groups[example.n_attractors].append(example)
    return groups


def recomputed_a_accuracy(run_dir, groups):
    """A-accuracy of the run's saved model, recomputed in this (TensorFlow)
    process one unpadded sentence at a time: the mean over attractor groups of
    the share of examples whose argmax is the verb number."""
    import keras

    from tf_kdbias.data.sva.encoding import classification_tokens
    from tf_kdbias.data.sva.vocabulary import Vocabulary
    from tf_kdbias.models import sva  # noqa: F401  Registers the layers.

    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    vocabulary = Vocabulary.load(os.path.join(run_dir, "vocab.txt"))
    accuracies = []
    for examples in groups.values():
        right = [int(np.argmax(model(np.array([vocabulary.encode(classification_tokens(e))]),
                                     training=False)[0])) == e.label for e in examples]
        accuracies.append(np.mean(right))
    return float(np.mean(accuracies))


def test_sva_classifiers_train_and_distil_on_jax(tmp_path, data_dir):
    """The grammar source needs no TensorFlow: an LSTM and an LSTM -> Transformer-seq
    student run under JAX, and the groups count the test split's attractors."""
    teacher, student = str(tmp_path / "lstm"), str(tmp_path / "lstm_to_transformer_seq")
    done = run_script("train.py", *sva_jax_args("lstm.gin"), f"--workdir={teacher}",
                      f"--data_dir={data_dir}", env=jax_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    done = run_script("distill.py", *sva_jax_args("transformer_seq.gin"),
                      f"--teacher_dir={teacher}", f"--workdir={student}",
                      f"--data_dir={data_dir}", env=jax_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    groups = grouped(fronted_test_split())
    for folder in (teacher, student):
        metrics = io_utils.read_json(os.path.join(folder, "metrics.json"))
        assert metrics["backend"] == "jax"
        history, test = metrics["history"], metrics["eval"]["sva/test"]
        assert history["loss"][-1] < history["loss"][0], history["loss"]
        assert test["count"] == 200
        assert [test[f"count_attractors_{k}"] for k in range(5)] == \
            [len(groups.get(k, [])) for k in range(5)]
        assert test["a_accuracy"] == pytest.approx(recomputed_a_accuracy(folder, groups))
    student_history = io_utils.read_json(os.path.join(student, "metrics.json"))["history"]
    assert all(np.isfinite(student_history["distillation_loss"]))
