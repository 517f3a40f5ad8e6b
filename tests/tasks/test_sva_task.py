"""SVA tasks end to end: train -> distill -> export on tiny grammar data, the
Linzen fixture through the task, and sequence (per-token) distillation."""

import collections
import dataclasses
import gzip
import json
import os

import gin
import keras
import numpy as np
import pytest

from tests.data.sva import linzen_fixture
from tests.data.sva import linzen_simple_fixture as LS
from tests.script_runner import run_script, run_script_in_process
from tf_kdbias.data.sva import linzen, testsets
from tf_kdbias.data.sva.encoding import encode_classification
from tf_kdbias.data.sva.sources import GrammarSource, LinzenSimpleSource, LinzenSource
from tf_kdbias.data.sva.vocabulary import BOS, UNK, UNK_ID, Vocabulary
from tf_kdbias.distill.distiller import Distiller
from tf_kdbias.errors import UserError
from tf_kdbias.tasks.sva_classification import SvaClassificationTask
from tf_kdbias.tasks.sva_language_model import SvaLanguageModelTask
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
    # The scripts' main() in this process (their command lines are tested elsewhere).
    done = run_script_in_process("train.py", *sva_args("lstm.gin"), f"--workdir={teacher}",
                                 f"--data_dir={data_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    done = run_script_in_process("distill.py", *sva_args("transformer_seq.gin"),
                                 f"--teacher_dir={teacher}", f"--workdir={student}",
                                 f"--data_dir={data_dir}")
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
    # Verb scoring recomputed one unpadded sentence at a time: right when the
    # correct form's logit beats the wrong one's where the verb is predicted.
    vocabulary = task.vocabulary
    groups = collections.defaultdict(list)
    scored = 0
    for example in task.eval_examples("sva/test", None):
        right, wrong = (vocabulary.token_id(example.correct_form),
                        vocabulary.token_id(example.wrong_form or UNK))
        if UNK_ID in (right, wrong):
            continue
        scored += 1
        ids = np.array([vocabulary.encode([BOS, *example.tokens])])
        at_verb = np.asarray(model(ids, training=False))[0, example.verb_index]
        k = example.n_attractors
        if k is not None and k <= 4 and example.distance <= 16:
            groups[k].append(at_verb[right] > at_verb[wrong])
    assert metrics["count_scored"] == scored
    for k in range(5):
        assert metrics[f"count_attractors_{k}"] == len(groups.get(k, []))
    assert len(groups) >= 2  # Several attractor groups: the mean is over groups.
    assert metrics["a_accuracy"] == pytest.approx(np.mean([np.mean(v) for v in groups.values()]))
    assert metrics["d_accuracy"] is not None


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


def linzen_simple_task(data_dir):
    task = SvaClassificationTask(LinzenSimpleSource())
    task.load_training_splits(data_dir, seed=0)
    return task


def test_constant_guess_baselines_by_hand(tmp_path):
    data_dir = str(tmp_path)
    LS.write_fixture(data_dir)
    task = linzen_simple_task(data_dir)
    sets = ["sva/test", "linzen_simple/test_4", "linzen_simple/test"]
    baselines = task.baseline_metrics(data_dir, sets)
    assert set(baselines) == {"always_plural", "always_singular", "train_majority"}
    shares = {k: LS.plural_share(k) for k in LS.TEST_LABELS}
    plural = baselines["always_plural"]["linzen_simple/test"]
    labels = [label for k in LS.TEST_LABELS for label in LS.TEST_LABELS[k]]
    assert plural["micro_accuracy"] == pytest.approx(labels.count("VBP") / len(labels))
    for k, share in shares.items():
        assert plural[f"accuracy_attractors_{k}"] == pytest.approx(share)
        assert baselines["always_singular"]["linzen_simple/test"][
            f"accuracy_attractors_{k}"] == pytest.approx(1 - share)
    assert plural["a_accuracy"] == pytest.approx(np.mean(list(shares.values())))
    assert "accuracy_attractors_0" not in plural  # The release has no group 0.
    # Class-balanced: exactly 0.5 where both numbers occur; group 4 is all plural.
    for guess in ("always_plural", "always_singular"):
        metrics = baselines[guess]["linzen_simple/test"]
        assert metrics["balanced_accuracy"] == 0.5 and metrics["balanced_a_accuracy"] == 0.5
        assert all(metrics[f"balanced_accuracy_attractors_{k}"] == 0.5 for k in (1, 2, 3, 5))
        assert metrics["balanced_accuracy_attractors_4"] is None
    assert baselines["always_plural"]["linzen_simple/test_4"]["micro_accuracy"] == 1.0
    # The training split is mostly singular (at least 12 of its 18 of 20
    # examples): its majority guess is "singular", scored on the held-out split.
    assert baselines["train_majority"] == baselines["always_singular"]
    held_out = task._load_source(data_dir)["test"]
    assert baselines["always_plural"]["sva/test"]["micro_accuracy"] == pytest.approx(
        np.mean([e.label == 1 for e in held_out]))
    assert "ece" not in plural  # A guess has no probabilities.


def test_linzen_simple_sets_report_groups_1_to_5_and_reuse_logits(tmp_path):
    data_dir = str(tmp_path)
    LS.write_fixture(data_dir)
    task = linzen_simple_task(data_dir)
    model = sva.build_lstm_classifier(vocabulary_size=len(task.vocabulary), hidden_dim=4,
                                      embedding_dim=4)
    sets = [f"linzen_simple/test_{k}" for k in range(1, 6)] + ["linzen_simple/test"]
    metrics = task.evaluate(model, data_dir, sets)
    whole = metrics["linzen_simple/test"]
    for k in range(1, 6):
        part = metrics[f"linzen_simple/test_{k}"]
        assert whole[f"accuracy_attractors_{k}"] == pytest.approx(part["micro_accuracy"])
        assert whole[f"count_attractors_{k}"] == len(LS.TEST_LABELS[k])
    # The same numbers as predicting the whole set at once.
    alone = task.evaluate(model, data_dir, ["linzen_simple/test"])["linzen_simple/test"]
    for key in ("micro_accuracy", "a_accuracy", "ece", "ece_paper", "nll",
                "balanced_a_accuracy"):
        assert whole[key] == pytest.approx(alone[key], abs=1e-6)


def write_fake_run(run_dir, source):
    """A finished run's files as a classification run writes them."""
    os.makedirs(run_dir)
    Vocabulary.build([["the", "dog"]]).save(os.path.join(run_dir, "vocab.txt"))
    json.dump({"task": "sva_classification", "source": source.config(), "max_length": 100},
              open(os.path.join(run_dir, "sva_task.json"), "w"))
    json.dump({"task": "sva_classification",
               "eval": {"linzen_simple/test": {"a_accuracy": 0.9, "micro_accuracy": 0.8}}},
              open(os.path.join(run_dir, "metrics.json"), "w"))


def test_reproduce_adds_baseline_rows_and_paper_numbers_only_for_paper_data(tmp_path):
    from tf_kdbias.reproduce import plan, results

    data_dir = str(tmp_path / "data")
    LS.write_fixture(data_dir)
    experiment = plan.Experiment(
        name="t", model_gin_files={"lstm": ["lstm.gin"]}, setups=[("lstm", None)],
        eval_sets=["linzen_simple/test"], paper_section="sva_classification")
    runs = plan.plan_runs(experiment, str(tmp_path / "w"), data_dir)
    write_fake_run(runs[0].run_dir, LinzenSimpleSource())
    written = results.write_results(str(tmp_path / "w"), experiment, runs, None)
    rows = {(r["student"], r["teacher"], r["metric"]): r for r in written["rows"]}
    shares = [LS.plural_share(k) for k in LS.TEST_LABELS]
    assert rows[("always_plural", None, "a_accuracy")]["mean"] == pytest.approx(np.mean(shares))
    assert rows[("always_singular", None, "balanced_a_accuracy")]["mean"] == 0.5
    assert rows[("train_majority", None, "a_accuracy")]["baseline"] is True
    assert rows[("lstm", None, "a_accuracy")]["mean"] == 0.9
    markdown = open(tmp_path / "w" / "results.md").read()
    assert "No paper numbers" in markdown and "(0.977)" not in markdown
    assert "| always_plural | — | linzen_simple/test | a_accuracy |" in markdown
    # The full Linzen file is the paper's data: its numbers come back.
    assert results.paper_applies(runs) is False
    os.remove(os.path.join(runs[0].run_dir, "sva_task.json"))
    json.dump({"task": "sva_classification", "source": LinzenSource().config()},
              open(os.path.join(runs[0].run_dir, "sva_task.json"), "w"))
    assert results.paper_applies(runs) is True
    assert results.paper_applies(
        [dataclasses.replace(runs[0], run_dir=str(tmp_path / "none"))]) is True


def test_language_models_refuse_the_prefix_only_release(tmp_path):
    LS.write_fixture(str(tmp_path))
    with pytest.raises(UserError, match="only the words before the verb"):
        SvaLanguageModelTask(LinzenSimpleSource()).load_training_splits(str(tmp_path), 0)
    with pytest.raises(UserError, match="linzen_simple/test_1"):
        SvaLanguageModelTask().expand_eval_sets(["sva/test", "linzen_simple/test_1"])


def test_teacher_in_training_mode_is_one_binding():
    from tf_kdbias.training import run as run_lib

    gin.parse_config("Distiller.teacher_training = True")
    student = sva.build_lstm_classifier(vocabulary_size=10, hidden_dim=4, embedding_dim=4)
    teacher = sva.build_lstm_classifier(vocabulary_size=10, hidden_dim=4, embedding_dim=4,
                                        hidden_dropout=0.5, name="teacher")
    distiller = Distiller(student=student, teacher=teacher)
    assert distiller.teacher_training
    assert run_lib._should_cache(distiller, "auto") is False  # The teacher runs every step.
    inputs = np.array([[4, 5, 6, 3]] * 64)
    first = distiller._teacher_logits(inputs, None, None, training=True)
    second = distiller._teacher_logits(inputs, None, None, training=True)
    assert not np.allclose(np.asarray(first), np.asarray(second))  # Dropout on.


TINY_LINZEN_SIMPLE = (
    "EPOCHS = 1",
    "build_lstm_classifier.embedding_dim = 8",
    "build_lstm_classifier.hidden_dim = 8",
    "build_transformer_seq_classifier.hidden_dim = 8",
    "build_transformer_seq_classifier.num_layers = 1",
    "build_transformer_seq_classifier.num_heads = 2",
    'Experiment.setups = [("lstm", None), ("transformer_seq", "lstm")]',
)


def test_quick_table_on_linzen_simple_has_groups_and_baselines(tmp_path):
    data_dir, workdir = str(tmp_path / "data"), str(tmp_path / "w")
    LS.write_fixture(data_dir)
    done = run_script_in_process("reproduce.py",
                                 "--gin_file=gin_configs/sva/quick_classification.gin",
                                 "--gin_file=gin_configs/sva/source_linzen_simple.gin",
                                 *[f"--gin_bindings={b}" for b in TINY_LINZEN_SIMPLE],
                                 f"--workdir={workdir}", f"--data_dir={data_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.load(open(os.path.join(workdir, "results.json")))["rows"]
    on_test = {(r["student"], r["teacher"], r["metric"]): r["mean"] for r in rows
               if r["eval_set"] == "linzen_simple/test"}
    setups = {("lstm", None), ("transformer_seq", "lstm"), ("always_plural", None),
              ("always_singular", None), ("train_majority", None)}
    metrics = ["a_accuracy", "balanced_a_accuracy"] + [
        f"{name}_attractors_{k}" for k in range(1, 6) for name in ("accuracy", "balanced_accuracy")]
    for setup in setups:
        for metric in metrics:
            assert setup + (metric,) in on_test, (setup, metric)
    assert {r["eval_set"] for r in rows} == {"sva/test", "linzen_simple/test"} | {
        f"linzen_simple/test_{k}" for k in range(1, 6)}
    assert on_test[("always_plural", None, "a_accuracy")] == pytest.approx(
        np.mean([LS.plural_share(k) for k in LS.TEST_LABELS]))
    assert on_test[("always_plural", None, "balanced_a_accuracy")] == 0.5
    assert ("lstm", None, "ece_paper") in on_test
    assert "No paper numbers" in open(os.path.join(workdir, "results.md")).read()
