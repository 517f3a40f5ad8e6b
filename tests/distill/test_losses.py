import numpy as np
import pytest

from tf_kdbias.distill import losses


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


@pytest.fixture
def logits():
    rng = np.random.default_rng(1)
    return rng.normal(scale=2, size=(6, 5)), rng.normal(scale=2, size=(6, 5))


@pytest.mark.parametrize("temperature", [1.0, 2.0, 5.0])
def test_kl_distillation_matches_numpy(logits, temperature):
    teacher, student = logits
    p = np.exp(log_softmax(teacher / temperature))
    expected = temperature ** 2 * np.sum(
        p * (log_softmax(teacher / temperature) - log_softmax(student / temperature)), axis=-1)
    got = np.asarray(losses.kl_distillation(teacher, student, temperature))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_kl_is_zero_iff_distributions_match(logits):
    teacher, _ = logits
    np.testing.assert_allclose(losses.kl_distillation(teacher, teacher + 3.0, 4.0), 0.0, atol=1e-5)
    assert np.all(np.asarray(losses.kl_distillation(teacher, -teacher, 4.0)) > 0)


@pytest.mark.parametrize("temperature", [1.0, 5.0])
def test_soft_cross_entropy_matches_numpy(logits, temperature):
    teacher, student = logits
    p = np.exp(log_softmax(teacher / temperature))
    expected = -np.sum(p * log_softmax(student / temperature), axis=-1) / temperature ** 2
    got = np.asarray(losses.soft_cross_entropy_distillation(teacher, student, temperature))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_sparse_cross_entropy_and_masked_mean(logits):
    _, student = logits
    labels = np.array([0, 1, 2, 3, 4, 0])
    per_example = np.asarray(losses.sparse_cross_entropy(labels, student))
    np.testing.assert_allclose(per_example, -log_softmax(student)[np.arange(6), labels], rtol=1e-5)
    mask = np.array([1, 0, 1, 0, 0, 1], dtype=np.float32)
    assert float(losses.masked_mean(per_example, mask)) == pytest.approx(per_example[[0, 2, 5]].mean(),
                                                                         rel=1e-5)


def test_unknown_kd_loss_is_named():
    with pytest.raises(ValueError, match="nonsense"):
        losses.get_kd_loss("nonsense")


@pytest.mark.parametrize("kd_loss", ["kl", "soft_cross_entropy"])
def test_top_k_distillation_with_every_logit_is_the_full_loss(kd_loss):
    from tf_kdbias.distill.teacher_cache import top_k_logits
    rng = np.random.default_rng(0)
    teacher, student = rng.normal(size=(4, 3, 12)), rng.normal(size=(4, 3, 12))
    top = top_k_logits(teacher, 12)
    full = losses.get_kd_loss(kd_loss)(teacher, student, 2.0)
    sparse = losses.top_k_distillation(top["values"], top["indices"], student, 2.0, kd_loss)
    np.testing.assert_allclose(np.asarray(sparse), np.asarray(full), rtol=1e-5)


def test_top_k_distillation_matches_a_hand_computation():
    from tf_kdbias.distill.teacher_cache import top_k_logits
    rng = np.random.default_rng(1)
    teacher, student, t, k = rng.normal(size=(5, 20)), rng.normal(size=(5, 20)), 3.0, 4
    top = top_k_logits(teacher, k)
    expected = []
    for row_t, row_s in zip(teacher, student):
        kept = np.argsort(-row_t)[:k]  # Brute force: sort, keep k, renormalise.
        log_p = log_softmax(row_t[kept] / t)
        log_q = log_softmax(row_s / t)[kept]
        expected.append(t * t * np.sum(np.exp(log_p) * (log_p - log_q)))
    got = losses.top_k_distillation(top["values"], top["indices"], student, t, "kl")
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)
