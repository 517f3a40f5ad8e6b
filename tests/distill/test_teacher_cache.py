import os

import keras
import numpy as np
import pytest

from tf_kdbias.distill import teacher_cache
from tf_kdbias.distill.teacher_run import CACHE_FOLDER, TeacherRun
from tf_kdbias.batch_format import INPUTS_KEY, TEACHER_LOGITS_KEY
from tf_kdbias.distill.distiller import Distiller
from tf_kdbias.models.mlp import build_mlp

VOCAB, LENGTH = 40, 5


def as_teacher_run(model, run_dir, model_path):
    """The TeacherRun of `model` saved at `model_path` (its digest: the file's bytes now)."""
    run = TeacherRun.of_checkpoint(run_dir, model)
    assert run.model_path == model_path
    return run


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def toy_lm(seed, name):
    """Token ids [batch, LENGTH] -> logits [batch, LENGTH, VOCAB]."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((LENGTH,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, 8)(inputs)
    return keras.Model(inputs, keras.layers.Dense(VOCAB)(hidden), name=name)


@pytest.fixture
def saved_teacher(tmp_path):
    teacher = toy_lm(0, "teacher")
    path = str(tmp_path / "model.keras")
    teacher.save(path)
    tokens = np.random.default_rng(0).integers(0, VOCAB, size=(64, LENGTH)).astype(np.int32)
    return teacher, str(tmp_path), path, tokens


def test_top_k_cache_keeps_the_largest_logits_and_is_reused(saved_teacher, capsys):
    teacher, teacher_dir, path, tokens = saved_teacher
    full = np.asarray(teacher.predict(tokens, verbose=0))
    top = teacher_cache.teacher_logits(as_teacher_run(teacher, teacher_dir, path), "train", tokens,
                                       top_k=3,
                                       batch_size=16)
    assert top["values"].shape == top["indices"].shape == (64, LENGTH, 3)
    np.testing.assert_allclose(top["values"], -np.sort(-full, axis=-1)[..., :3], rtol=1e-6)
    np.testing.assert_allclose(np.take_along_axis(full, top["indices"], -1), top["values"],
                               rtol=1e-6)
    assert "top-3" in capsys.readouterr().out
    again = teacher_cache.teacher_logits(as_teacher_run(teacher, teacher_dir, path), "train",
                                         tokens, top_k=3)
    assert capsys.readouterr().out == ""  # Read back, not recomputed.
    np.testing.assert_array_equal(again["indices"], top["indices"])
    # Another k (or the full logits) is another cache file.
    teacher_cache.teacher_logits(as_teacher_run(teacher, teacher_dir, path), "train", tokens,
                                 top_k=5)
    teacher_cache.teacher_logits(as_teacher_run(teacher, teacher_dir, path), "train", tokens)
    assert len(os.listdir(os.path.join(teacher_dir, CACHE_FOLDER))) == 3


def test_distiller_reads_a_top_k_cache_with_masked_tokens(saved_teacher):
    teacher, teacher_dir, path, tokens = saved_teacher
    top = teacher_cache.teacher_logits(as_teacher_run(teacher, teacher_dir, path), "train", tokens,
                                       top_k=4)
    labels = np.roll(tokens, -1, axis=1)
    mask = np.ones_like(tokens, dtype=np.float32)
    mask[:, -2:] = 0.0  # Padding: must not count.
    student = toy_lm(1, "student")
    distiller = Distiller(student=student, temperature=2.0, distill_rate=1.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = distiller.evaluate({INPUTS_KEY: tokens, TEACHER_LOGITS_KEY: top}, labels,
                              sample_weight=mask, batch_size=64, return_dict=True, verbose=0)
    log_q = log_softmax(np.asarray(student.predict(tokens, verbose=0), np.float64) / 2.0)
    log_p = log_softmax(top["values"].astype(np.float64) / 2.0)
    per_token = 4.0 * np.sum(np.exp(log_p) * (log_p - np.take_along_axis(log_q, top["indices"], -1)), -1)
    expected = (per_token * mask).sum() / mask.sum()
    assert logs["distillation_loss"] == pytest.approx(expected, rel=1e-4)


def test_bad_top_k_is_refused(saved_teacher):
    teacher, teacher_dir, path, tokens = saved_teacher
    with pytest.raises(ValueError, match="top_k"):
        teacher_cache.teacher_logits(as_teacher_run(teacher, teacher_dir, path), "train", tokens,
                                     top_k=0)


def test_mnist_sized_cache_is_plain_logits(tmp_path, mnist_test):
    teacher = build_mlp(hidden_units=(8,))
    path = str(tmp_path / "model.keras")
    teacher.save(path)
    logits = teacher_cache.teacher_logits(as_teacher_run(teacher, str(tmp_path), path), "train",
                                          mnist_test.images[:100], dtype="float16")
    assert logits.dtype == np.float16 and logits.shape == (100, 10)
    np.testing.assert_allclose(logits, teacher.predict(mnist_test.images[:100], verbose=0),
                               atol=2e-3)


def cache_files(teacher_dir):
    return sorted(os.listdir(os.path.join(teacher_dir, CACHE_FOLDER)))


def test_a_retrained_teacher_gets_fresh_logits(saved_teacher, capsys):
    """Same path, new checkpoint bytes: the old cache must not be used."""
    teacher, teacher_dir, path, tokens = saved_teacher
    old = teacher_cache.teacher_logits(as_teacher_run(teacher, teacher_dir, path), "train", tokens)
    retrained = toy_lm(7, "teacher")  # Other weights, saved over the same file.
    retrained.save(path)
    capsys.readouterr()
    new = teacher_cache.teacher_logits(as_teacher_run(retrained, teacher_dir, path), "train",
                                       tokens)
    assert "Caching" in capsys.readouterr().out
    np.testing.assert_allclose(new, retrained.predict(tokens, verbose=0), rtol=1e-6)
    assert np.abs(new - old).max() > 1e-3
    assert len(cache_files(teacher_dir)) == 2  # One per checkpoint.


def test_changed_inputs_get_fresh_logits(saved_teacher, capsys):
    """One token changed (same shape, same count): recomputed, not reused."""
    teacher, teacher_dir, path, tokens = saved_teacher
    teacher_cache.teacher_logits(as_teacher_run(teacher, teacher_dir, path), "train", tokens)
    changed = tokens.copy()
    changed[5, 2] = (changed[5, 2] + 1) % VOCAB
    capsys.readouterr()
    logits = teacher_cache.teacher_logits(as_teacher_run(teacher, teacher_dir, path), "train",
                                          changed)
    assert "Caching" in capsys.readouterr().out
    np.testing.assert_allclose(logits, teacher.predict(changed, verbose=0), rtol=1e-6)
    assert len(cache_files(teacher_dir)) == 2


def tamper_logits(npz_path):
    """Rewrites the cache with altered logits but its old key and digest."""
    with np.load(npz_path) as stored:
        entries = {name: stored[name] for name in stored.files}
    entries["logits"] = entries["logits"] + 1.0
    np.savez(npz_path, **entries)


def truncate(npz_path):
    with open(npz_path, "rb") as f:
        head = f.read(os.path.getsize(npz_path) // 2)
    with open(npz_path, "wb") as f:
        f.write(head)


@pytest.mark.parametrize("damage", [truncate, tamper_logits])
def test_a_damaged_cache_is_rebuilt(saved_teacher, capsys, damage):
    teacher, teacher_dir, path, tokens = saved_teacher
    teacher_cache.teacher_logits(as_teacher_run(teacher, teacher_dir, path), "train", tokens)
    (name,) = cache_files(teacher_dir)
    damage(os.path.join(teacher_dir, CACHE_FOLDER, name))
    capsys.readouterr()
    logits = teacher_cache.teacher_logits(as_teacher_run(teacher, teacher_dir, path), "train",
                                          tokens)
    assert "Caching" in capsys.readouterr().out
    np.testing.assert_allclose(logits, teacher.predict(tokens, verbose=0), rtol=1e-6)
    # The rebuilt file is whole again: read back, not recomputed.
    teacher_cache.teacher_logits(as_teacher_run(teacher, teacher_dir, path), "train", tokens)
    assert capsys.readouterr().out == ""
