"""MDS recovers a planar configuration from its distances, up to a rigid motion."""

import numpy as np
import pytest

from tf_kdbias.analysis import mds


def align(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`source` rotated/reflected and shifted onto `target` (orthogonal
    Procrustes, no scaling: metric MDS keeps distances)."""
    source_c, target_c = source - source.mean(0), target - target.mean(0)
    u, _, vt = np.linalg.svd(source_c.T @ target_c)
    return source_c @ (u @ vt) + target.mean(0)


def test_mds_recovers_a_known_planar_configuration():
    rng = np.random.default_rng(0)
    points = rng.uniform(-1, 1, size=(9, 2))
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    result = mds.embed(distances, seed=0)
    coordinates = result["coordinates"]
    assert coordinates.shape == (9, 2)
    np.testing.assert_allclose(align(coordinates, points), points, atol=1e-3)
    assert result["stress"] < 1e-3


def test_mds_of_one_run_is_the_origin():
    result = mds.embed(np.zeros((1, 1)))
    np.testing.assert_array_equal(result["coordinates"], np.zeros((1, 2)))


def test_dissimilarity_from_similarity():
    similarity = np.array([[1.0, 0.8, 0.2], [0.6, 0.98, 1.3], [0.2, 1.3, 1.0]])
    d = mds.dissimilarity_from_similarity(similarity)
    np.testing.assert_allclose(d, d.T)
    np.testing.assert_allclose(np.diag(d), 0)
    assert d[0, 1] == pytest.approx(0.3)  # 1 - mean(0.8, 0.6)
    assert d[1, 2] == 0.0  # Similarity above 1 is clipped, not negative.
