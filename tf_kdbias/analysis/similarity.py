"""Representational similarity of two models' activations on the same examples.

Each function takes two activation matrices X [n, p] and Y [n, q] whose rows
are the same n examples (p and q may differ: an MLP and a CNN can be
compared) and returns a similarity in [-1, 1] (1 = same up to the measure's
invariances). Computations are in float64: CKA subtracts large, nearly equal
terms.
"""

from typing import Callable, Dict, Sequence

import numpy as np

_EPS = 1e-12


def _as_float64(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"Expected an [examples, features] matrix, got shape {x.shape}.")
    return x


def _check_same_examples(x: np.ndarray, y: np.ndarray) -> None:
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"The two representations must cover the same examples: "
                         f"{x.shape[0]} vs {y.shape[0]} rows.")


def _unit_rows(x: np.ndarray) -> np.ndarray:
    # An all-zero row (e.g. a dead ReLU layer at initialisation) stays zero, so
    # its cosine with anything is 0 instead of NaN.
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, _EPS)


def cosine_similarity_matrix(x) -> np.ndarray:
    """Example-by-example cosine similarities [n, n] of the rows of `x` [n, p]."""
    unit = _unit_rows(_as_float64(x))
    return unit @ unit.T


def rsa(x, y) -> float:
    """Representational similarity as Abnar et al. define it.

    Each model's representation becomes an example-by-example cosine
    similarity matrix; the similarity of the two models is the mean, over
    examples i, of the cosine between row i of one matrix and row i of the
    other (full rows, diagonal included).

    Args:
      x: activations [n, p] of the first model.
      y: activations [n, q] of the second model, same examples.
    """
    x, y = _as_float64(x), _as_float64(y)
    _check_same_examples(x, y)
    rows_x = _unit_rows(cosine_similarity_matrix(x))
    rows_y = _unit_rows(cosine_similarity_matrix(y))
    return float(np.mean(np.sum(rows_x * rows_y, axis=1)))


def _centered_columns(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=0, keepdims=True)


def linear_cka(x, y) -> float:
    """Linear centered kernel alignment (Kornblith et al., 2019).

    CKA = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) with column-centred
    Xc, Yc: the HSIC of the linear kernels normalised by their self-HSIC,
    computed in feature space (p x q products instead of n x n).

    Args:
      x: activations [n, p].
      y: activations [n, q], same examples.
    """
    x, y = _as_float64(x), _as_float64(y)
    _check_same_examples(x, y)
    xc, yc = _centered_columns(x), _centered_columns(y)
    cross = np.sum((yc.T @ xc) ** 2)
    norm_x = np.linalg.norm(xc.T @ xc)
    norm_y = np.linalg.norm(yc.T @ yc)
    if norm_x < _EPS or norm_y < _EPS:
        return 0.0  # A constant representation carries no similarity structure.
    return float(cross / (norm_x * norm_y))


def _unbiased_hsic(gram_x: np.ndarray, gram_y: np.ndarray) -> float:
    """The unbiased HSIC estimator of Song et al. (2012), eq. (5), up to the
    1/(n(n-3)) factor, which cancels in CKA. Needs n > 3."""
    n = gram_x.shape[0]
    kx = gram_x - np.diag(np.diag(gram_x))  # Zero diagonals, as the estimator asks.
    ky = gram_y - np.diag(np.diag(gram_y))
    sum_x, sum_y = kx.sum(), ky.sum()
    trace_term = np.sum(kx * ky)  # tr(Kx Ky) for symmetric matrices.
    sums_term = sum_x * sum_y / ((n - 1) * (n - 2))
    cross_term = 2.0 / (n - 2) * (kx.sum(axis=0) @ ky.sum(axis=1))
    return float(trace_term + sums_term - cross_term)


def debiased_linear_cka(x, y) -> float:
    """Linear CKA with the unbiased HSIC estimator in place of the biased one.

    The plain estimator is biased upwards when features are many relative to
    examples (even independent random representations score well above 0);
    the debiased one is near 0 for them. May be slightly negative.

    Args:
      x: activations [n, p], n > 3.
      y: activations [n, q], same examples.
    """
    x, y = _as_float64(x), _as_float64(y)
    _check_same_examples(x, y)
    if x.shape[0] < 4:
        raise ValueError("Debiased CKA needs at least 4 examples.")
    gram_x, gram_y = x @ x.T, y @ y.T
    self_x = _unbiased_hsic(gram_x, gram_x)
    self_y = _unbiased_hsic(gram_y, gram_y)
    if self_x < _EPS or self_y < _EPS:
        return 0.0
    return float(_unbiased_hsic(gram_x, gram_y) / np.sqrt(self_x * self_y))


SIMILARITIES: Dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "rsa": rsa,
    "linear_cka": linear_cka,
    "debiased_cka": debiased_linear_cka,
}


def pairwise_similarity(representations: Sequence[np.ndarray],
                        measure: Callable[[np.ndarray, np.ndarray], float]) -> np.ndarray:
    """The symmetric [m, m] matrix of `measure` over m representations.

    Args:
      representations: m activation matrices over the same examples.
      measure: a symmetric similarity such as `rsa` or `linear_cka`.
    """
    m = len(representations)
    matrix = np.empty((m, m))
    # The diagonal is computed too: a representation with all-zero rows is
    # not similar to itself under RSA, and the matrix should show it.
    for i in range(m):
        for j in range(i, m):
            matrix[i, j] = matrix[j, i] = measure(representations[i], representations[j])
    return matrix
