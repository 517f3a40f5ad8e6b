import os

import keras
import numpy as np
import pytest

from tf_kdbias.distill import teacher_cache
from tf_kdbias.distill.distiller import INPUTS_KEY, TEACHER_LOGITS_KEY, Distiller
from tf_kdbias.models.mlp import build_mlp

VOCAB, LENGTH = 40, 5


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
    top = teacher_cache.teacher_logits(teacher, teacher_dir, path, "train", tokens, top_k=3,
                                       batch_size=16)
    assert top["values"].shape == top["indices"].shape == (64, LENGTH, 3)
    np.testing.assert_allclose(top["values"], -np.sort(-full, axis=-1)[..., :3], rtol=1e-6)
    np.testing.assert_allclose(np.take_along_axis(full, top["indices"], -1), top["values"],
                               rtol=1e-6)
    assert "top-3" in capsys.readouterr().out
    again = teacher_cache.teacher_logits(teacher, teacher_dir, path, "train", tokens, top_k=3)
    assert capsys.readouterr().out == ""  # Read back, not recomputed.
    np.testing.assert_array_equal(again["indices"], top["indices"])
    # Another k (or the full logits) is another cache file.
    teacher_cache.teacher_logits(teacher, teacher_dir, path, "train", tokens, top_k=5)
    teacher_cache.teacher_logits(teacher, teacher_dir, path, "train", tokens)
    assert len(os.listdir(os.path.join(teacher_dir, teacher_cache.CACHE_FOLDER))) == 3


def test_distiller_reads_a_top_k_cache_with_masked_tokens(saved_teacher):
    teacher, teacher_dir, path, tokens = saved_teacher
    top = teacher_cache.teacher_logits(teacher, teacher_dir, path, "train", tokens, top_k=4)
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
        teacher_cache.teacher_logits(teacher, teacher_dir, path, "train", tokens, top_k=0)


def test_mnist_sized_cache_is_plain_logits(tmp_path, mnist_test):
    teacher = build_mlp(hidden_units=(8,))
    path = str(tmp_path / "model.keras")
    teacher.save(path)
    logits = teacher_cache.teacher_logits(teacher, str(tmp_path), path, "train",
                                          mnist_test.images[:100], dtype="float16")
    assert logits.dtype == np.float16 and logits.shape == (100, 10)
    np.testing.assert_allclose(logits, teacher.predict(mnist_test.images[:100], verbose=0),
                               atol=2e-3)
