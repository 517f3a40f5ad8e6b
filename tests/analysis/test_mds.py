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


def test_kruskal_stress_by_hand():
    # A right isosceles triangle for three mutually equidistant items:
    # distances 1, 1, sqrt(2) against dissimilarities 1, 1, 1.
    coordinates = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    dissimilarity = 1.0 - np.eye(3)
    assert mds.kruskal_stress(dissimilarity, coordinates) == pytest.approx(
        (np.sqrt(2.0) - 1.0) / np.sqrt(3.0))
    # Normalised: scaling dissimilarities and coordinates together changes nothing.
    assert mds.kruskal_stress(7 * dissimilarity, 7 * coordinates) == pytest.approx(
        mds.kruskal_stress(dissimilarity, coordinates))


class FixedEstimator:
    """Stands in for either scikit-learn branch: returns given coordinates and
    a `stress_` on its own scale (raw, as older versions report it)."""

    def __init__(self, coordinates):
        self.coordinates = coordinates

    def fit_transform(self, dissimilarity):
        distances = np.linalg.norm(self.coordinates[:, None] - self.coordinates[None], axis=-1)
        self.stress_ = 0.5 * np.sum((distances - dissimilarity) ** 2)  # Raw stress.
        return self.coordinates


def test_reported_stress_is_stress_1_whatever_the_estimator_reports(monkeypatch):
    coordinates = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    dissimilarity = 10.0 * (1.0 - np.eye(3))  # Raw stress would be large; stress-1 is not.
    monkeypatch.setattr(mds, "_mds_estimator", lambda n, seed: FixedEstimator(coordinates))
    result = mds.embed(dissimilarity)
    distances = np.array([1.0, 1.0, np.sqrt(2.0)])
    expected = np.sqrt(np.sum((distances - 10.0) ** 2) / (3 * 10.0 ** 2))
    assert result["stress"] == pytest.approx(expected)


def test_stress_of_a_configuration_that_does_not_fit_the_plane():
    # Four equidistant items (a regular tetrahedron) cannot be laid flat: the
    # reported stress is positive and that of the returned coordinates.
    dissimilarity = 1.0 - np.eye(4)
    result = mds.embed(dissimilarity, seed=0)
    assert result["stress"] > 0.05
    assert result["stress"] == pytest.approx(
        mds.kruskal_stress(dissimilarity, result["coordinates"]))
