"""SVA tasks end to end: train -> distill -> export on tiny grammar data, the
Linzen fixture through the task, and sequence (per-token) distillation."""

import collections
import gzip
import json
import os

import gin
import keras
import numpy as np
import pytest

from tests.data.sva import linzen_fixture
from tests.experiments.script_runner import run_script
from tf_kdbias.data.sva import linzen, testsets
from tf_kdbias.data.sva.encoding import encode_classification
from tf_kdbias.data.sva.sources import GrammarSource, LinzenSource
from tf_kdbias.data.sva.vocabulary import Vocabulary
from tf_kdbias.distill.distiller import Distiller
from tf_kdbias.experiments.sva_task import SvaClassificationTask, SvaLanguageModelTask
from tf_kdbias.models import sva

TINY_SVA_BINDINGS = (
    "EPOCHS = 1",
    "GrammarSource.num_train = 400",
    "GrammarSource.num_validation = 50",
    "GrammarSource.num_test = 200",
    "build_lstm_classifier.embedding_dim = 8",
    "build_lstm_classifier.hidden_dim = 8",
    "build_transformer_seq_classifier.hidden_dim = 8",
    "build_transformer_seq_classifier.num_layers = 1",
    "build_transformer_seq_classifier.num_heads = 2",
    "run_training.eval_sets = ['sva/test', 'sva/linzen_testset']",
)


@pytest.fixture(autouse=True)
def clean_gin():
    """Tasks bind the vocabulary size into gin; leave no bindings behind."""
    yield
    gin.clear_config()


def sva_args(model_gin):
    files = [f"--gin_file=gin_configs/sva/{model_gin}",
             "--gin_file=gin_configs/sva/source_grammar.gin"]
    return files + [f"--gin_bindings={b}" for b in TINY_SVA_BINDINGS]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("sva")
    teacher, student = str(root / "lstm"), str(root / "lstm_to_transformer_seq")
    done = run_script("train.py", *sva_args("lstm.gin"), f"--workdir={teacher}",
                      f"--data_dir={data_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    done = run_script("distill.py", *sva_args("transformer_seq.gin"), f"--teacher_dir={teacher}",
                      f"--workdir={student}", f"--data_dir={data_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    return root, teacher, student


def test_runs_report_agreement_metrics_and_save_the_vocabulary(runs):
    _, teacher, student = runs
    for run_dir in (teacher, student):
        metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
        assert metrics["task"] == "sva_classification"
        test = metrics["eval"]["sva/test"]
        for key in ("micro_accuracy", "a_accuracy", "d_accuracy", "ece",
                    "accuracy_attractors_4", "count_attractors_0"):
            assert key in test
        assert metrics["eval"]["sva/linzen_testset"]["d_accuracy"] is None
        vocabulary = Vocabulary.load(os.path.join(run_dir, "vocab.txt"))
        assert vocabulary.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    # Teacher and student share the data, hence the vocabulary.
    assert open(os.path.join(teacher, "vocab.txt")).read() == \
        open(os.path.join(student, "vocab.txt")).read()
    history = json.load(open(os.path.join(student, "metrics.json")))["history"]
    assert "distillation_loss" in history


def test_exported_classifier_answers_raw_linzen_sentences(runs, data_dir):
    import tensorflow as tf

    root, teacher, _ = runs
    export_dir = str(root / "export")
    done = run_script("export.py", f"--run_dir={teacher}", f"--export_dir={export_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    examples = testsets.load_linzen_testset(data_dir)[:16]
    text_path = os.path.join(data_dir, "sva", "linzen_testset", "subj_agr_filtered.text")
    lines = open(text_path).read().splitlines()[:16]
    # Raw text as the file has it: the words before the verb, no <eos>.
    prefixes = [" ".join(line.split()[:e.verb_index]) for line, e in zip(lines, examples)]
    served = tf.saved_model.load(export_dir).signatures["serving_default"]
    logits = served(prefixes=tf.constant(prefixes))["logits"].numpy()
    assert logits.shape == (16, 2)
    model = keras.saving.load_model(os.path.join(teacher, "model.keras"), compile=False)
    vocabulary = Vocabulary.load(os.path.join(teacher, "vocab.txt"))
    inputs, _ = encode_classification(examples, vocabulary)
    np.testing.assert_allclose(logits, np.asarray(model(inputs)), atol=1e-5)
    # The served model lower-cases, as the training data was.
    upper = served(prefixes=tf.constant([prefixes[0].upper()]))["logits"].numpy()
    np.testing.assert_allclose(upper, logits[:1], atol=1e-5)


def test_a_finished_run_restores_its_task(runs, data_dir):
    _, teacher, _ = runs
    task = SvaClassificationTask.from_run_dir(teacher)
    assert task.source.config() == json.load(
        open(os.path.join(teacher, "sva_task.json")))["source"]
    model = keras.saving.load_model(os.path.join(teacher, "model.keras"), compile=False)
    again = task.evaluate(model, data_dir, ["sva/test"])["sva/test"]
    recorded = json.load(open(os.path.join(teacher, "metrics.json")))["eval"]["sva/test"]
    assert again["micro_accuracy"] == pytest.approx(recorded["micro_accuracy"])


def test_linzen_file_groups_count_the_test_split_attractors(tmp_path, data_dir):
    """A Linzen-format file in <data_dir>/sva/linzen2016 -> 10/1/89 splits; the
    A-accuracy groups count exactly the test split's attractor examples."""
    folder = tmp_path / "sva" / "linzen2016"
    folder.mkdir(parents=True)
    with gzip.open(folder / linzen.LINZEN_FILENAME, "wt") as f:
        f.write(linzen_fixture.fixture_text(copies=10))
    task = SvaClassificationTask(LinzenSource(download=False, max_bad_fraction=0.1))
    train, validation = task.load_training_splits(str(tmp_path), seed=0)
    assert (len(train), len(validation)) == (12, 1)
    model = sva.build_lstm_classifier(vocabulary_size=len(task.vocabulary), hidden_dim=4,
                                      embedding_dim=4)
    metrics = task.evaluate(model, str(tmp_path), ["sva/test"])["sva/test"]
    test_split = task._load_source(str(tmp_path))["test"]
    expected = collections.Counter(e.n_attractors for e in test_split
                                   if e.n_attractors is not None and e.distance <= 16)
    assert metrics["count"] == len(test_split) == 107
    for k in range(5):
        assert metrics[f"count_attractors_{k}"] == expected.get(k, 0)


def test_language_model_task_scores_the_verb_and_perplexity():
    task = SvaLanguageModelTask(GrammarSource(num_train=200, num_validation=20, num_test=40))
    train, _ = task.load_training_splits(None, seed=0)
    assert train.labels.shape == train.inputs.shape == train.sample_weight.shape
    model = sva.build_transformer_lm(vocabulary_size=len(task.vocabulary), hidden_dim=8,
                                     num_layers=1, num_heads=2)
    metrics = task.evaluate(model, None, ["sva/test"])["sva/test"]
    # Verbs whose other form never occurs in training cannot be scored.
    assert metrics["count"] == 40 and 0 < metrics["count_scored"] <= 40
    # An untrained LM is near uniform over the vocabulary.
    assert 0.5 * len(task.vocabulary) < metrics["perplexity"] < 2 * len(task.vocabulary)
    assert 0.0 <= metrics["a_accuracy"] <= 1.0 and metrics["d_accuracy"] is not None


def test_sequence_distillation_is_per_token_over_real_tokens_only():
    task = SvaLanguageModelTask(GrammarSource(num_train=32, num_validation=8, num_test=8))
    train, _ = task.load_training_splits(None, seed=0)
    size = len(task.vocabulary)
    teacher = sva.build_lstm_lm(vocabulary_size=size, hidden_dim=8, name="teacher")
    student = sva.build_transformer_lm(vocabulary_size=size, hidden_dim=8, num_layers=1,
                                       num_heads=2, name="student")
    distiller = Distiller(student=student, teacher=teacher, temperature=1.0, distill_rate=1.0)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3))
    inputs, labels, mask = train.inputs[:8], train.labels[:8], train.sample_weight[:8]
    teacher_logits = np.asarray(teacher(inputs))
    student_logits = np.asarray(student(inputs))
    loss = distiller.compute_distillation_losses(labels, student_logits, teacher_logits,
                                                 1.0, 1.0, mask)["distillation_loss"]

    def log_softmax(x):
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))

    t, s = log_softmax(teacher_logits), log_softmax(student_logits)
    kl = (np.exp(t) * (t - s)).sum(-1)
    assert float(loss) == pytest.approx((kl * mask).sum() / mask.sum(), rel=1e-4)
    # Whatever the teacher says at padding does not matter.
    noisy = teacher_logits + 50.0 * (mask == 0)[..., None] * np.random.default_rng(0).normal(
        size=teacher_logits.shape)
    again = distiller.compute_distillation_losses(labels, student_logits, noisy, 1.0, 1.0, mask)
    assert float(again["distillation_loss"]) == pytest.approx(float(loss), rel=1e-5)
