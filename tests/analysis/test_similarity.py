"""RSA and CKA against definitions written out by hand (loops, centring
matrices, the U-statistic form of unbiased HSIC) and their invariances."""

import itertools

import numpy as np
import pytest

from tf_kdbias.analysis import similarity as S

CKAS = (S.linear_cka, S.debiased_linear_cka)


def random_orthogonal(size: int, rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(size, size)))
    return q * np.sign(np.diag(r))  # A proper random draw, not a biased one.


@pytest.fixture
def reps():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6))
    # y shares structure with x (and has another width), so CKA is well inside (0, 1).
    y = np.tanh(x @ rng.normal(size=(6, 9))) + 0.5 * rng.normal(size=(40, 9))
    return x, y, rng


def hsic_with_centring_matrix(k: np.ndarray, l: np.ndarray) -> float:
    n = k.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    return float(np.trace(k @ h @ l @ h))


def unbiased_hsic_u_statistic(k: np.ndarray, l: np.ndarray) -> float:
    """Song et al. (2012) as sums over distinct index tuples (brute force)."""
    n = k.shape[0]
    idx = range(n)
    pairs = sum(k[i, j] * l[i, j] for i, j in itertools.permutations(idx, 2))
    triples = sum(k[i, j] * l[i, q] for i, j, q in itertools.permutations(idx, 3))
    quads = sum(k[i, j] * l[q, r] for i, j, q, r in itertools.permutations(idx, 4))
    return (pairs / (n * (n - 1)) + quads / (n * (n - 1) * (n - 2) * (n - 3))
            - 2 * triples / (n * (n - 1) * (n - 2)))


@pytest.mark.parametrize("cka", CKAS)
def test_cka_of_a_representation_with_itself_is_one(reps, cka):
    x, y, _ = reps
    assert cka(x, x) == pytest.approx(1.0, abs=1e-12)
    assert cka(y, y) == pytest.approx(1.0, abs=1e-12)
    assert cka(x, y) < 0.95


@pytest.mark.parametrize("cka", CKAS)
def test_cka_is_invariant_to_rotations_and_isotropic_scaling(reps, cka):
    x, y, rng = reps
    reference = cka(x, y)
    rotated = y @ random_orthogonal(y.shape[1], rng)
    assert cka(x, rotated) == pytest.approx(reference, abs=1e-10)
    assert cka(x * 37.5, y * 0.01) == pytest.approx(reference, abs=1e-10)
    # Also to a constant shift: CKA centres the features.
    assert cka(x + 5.0, y) == pytest.approx(reference, abs=1e-10)


@pytest.mark.parametrize("cka", CKAS)
def test_cka_is_not_invariant_to_arbitrary_invertible_maps(reps, cka):
    x, _, rng = reps
    stretch = random_orthogonal(6, rng) @ np.diag([1, 1, 1, 1, 1, 40.0])  # Invertible.
    assert abs(np.linalg.det(stretch)) > 1
    assert cka(x, x @ stretch) < 0.6


def test_linear_cka_matches_the_kernel_formula(reps):
    x, y, _ = reps
    k, l = x @ x.T, y @ y.T
    expected = hsic_with_centring_matrix(k, l) / np.sqrt(
        hsic_with_centring_matrix(k, k) * hsic_with_centring_matrix(l, l))
    assert S.linear_cka(x, y) == pytest.approx(expected, rel=1e-10)


def test_debiased_cka_matches_the_u_statistic():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 3))
    y = rng.normal(size=(7, 5)) + x[:, :1]
    k, l = x @ x.T, y @ y.T
    expected = unbiased_hsic_u_statistic(k, l) / np.sqrt(
        unbiased_hsic_u_statistic(k, k) * unbiased_hsic_u_statistic(l, l))
    assert S.debiased_linear_cka(x, y) == pytest.approx(expected, rel=1e-9)


def test_debiasing_removes_the_bias_for_independent_wide_representations():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 300)), rng.normal(size=(30, 300))
    assert S.linear_cka(x, y) > 0.5  # The plain estimator's known bias.
    assert abs(S.debiased_linear_cka(x, y)) < 0.1


def rsa_by_loops(x: np.ndarray, y: np.ndarray) -> float:
    def cosine(a, b):
        return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))

    n = len(x)
    sx = np.array([[cosine(x[i], x[j]) for j in range(n)] for i in range(n)])
    sy = np.array([[cosine(y[i], y[j]) for j in range(n)] for i in range(n)])
    return float(np.mean([cosine(sx[i], sy[i]) for i in range(n)]))


def test_rsa_matches_the_paper_definition_by_loops(reps):
    x, y, _ = reps
    assert S.rsa(x[:8], y[:8]) == pytest.approx(rsa_by_loops(x[:8], y[:8]), rel=1e-10)


def test_rsa_of_identical_representations_is_one(reps):
    x, y, rng = reps
    assert S.rsa(x, x) == pytest.approx(1.0, abs=1e-12)
    # Cosines ignore rotations and scale, so these are "identical" too.
    assert S.rsa(y, 3.0 * y @ random_orthogonal(9, rng)) == pytest.approx(1.0, abs=1e-10)
    assert S.rsa(x, y) < 0.99


def test_zero_rows_give_finite_values():
    x = np.zeros((5, 3))
    y = np.random.default_rng(3).normal(size=(5, 3))
    for measure in S.SIMILARITIES.values():
        assert np.isfinite(measure(x, y))


def test_pairwise_similarity_is_symmetric_with_the_measure_on_the_diagonal(reps):
    x, y, _ = reps
    matrix = S.pairwise_similarity([x, y, x * 2], S.linear_cka)
    np.testing.assert_allclose(matrix, matrix.T)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    assert matrix[0, 1] == pytest.approx(S.linear_cka(x, y))
    assert matrix[0, 2] == pytest.approx(1.0)


def test_mismatched_examples_are_rejected():
    with pytest.raises(ValueError, match="same examples"):
        S.linear_cka(np.ones((5, 2)), np.ones((6, 2)))
