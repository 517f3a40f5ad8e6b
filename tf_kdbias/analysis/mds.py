"""Two-dimensional metric MDS of models from a similarity matrix, and its plot."""

import inspect
from typing import Dict, Sequence

import numpy as np
from sklearn.manifold import MDS

from tf_kdbias.analysis import plotting
from tf_kdbias.analysis.workdir import RunInfo


def dissimilarity_from_similarity(similarity) -> np.ndarray:
    """1 - similarity, made exactly symmetric with a zero diagonal and no
    negative entries, as MDS expects of a dissimilarity."""
    similarity = np.asarray(similarity, np.float64)
    dissimilarity = 1.0 - 0.5 * (similarity + similarity.T)
    np.fill_diagonal(dissimilarity, 0.0)
    return np.maximum(dissimilarity, 0.0)


def _mds_estimator(n_components: int, seed: int) -> MDS:
    # scikit-learn 1.8 renamed dissimilarity= to metric= and added
    # classical-MDS initialisation; older versions get several random starts.
    params = inspect.signature(MDS.__init__).parameters
    if "metric_mds" in params:
        return MDS(n_components=n_components, metric_mds=True, metric="precomputed",
                   init="classical_mds", random_state=seed, normalized_stress=True)
    return MDS(n_components=n_components, dissimilarity="precomputed", n_init=8,
               random_state=seed, normalized_stress=False)


def embed(dissimilarity, n_components: int = 2, seed: int = 0) -> Dict[str, object]:
    """Metric MDS (SMACOF) of a precomputed dissimilarity matrix.

    Args:
      dissimilarity: symmetric [m, m], zero diagonal.
      n_components: output dimensions.
      seed: seeds SMACOF, so the same matrix gives the same picture.

    Returns:
      'coordinates' [m, n_components] (np.ndarray) and 'stress' (float,
      Kruskal's stress-1, see `kruskal_stress`).
    """
    dissimilarity = np.asarray(dissimilarity, np.float64)
    m = dissimilarity.shape[0]
    if m < 2:
        return {"coordinates": np.zeros((m, n_components)), "stress": 0.0}
    estimator = _mds_estimator(n_components, seed)
    coordinates = np.asarray(estimator.fit_transform(dissimilarity))
    # Computed here, not read from scikit-learn: its `stress_` is raw in some
    # versions and normalised in others, depending on the branch above.
    return {"coordinates": coordinates, "stress": kruskal_stress(dissimilarity, coordinates)}


def kruskal_stress(dissimilarity, coordinates) -> float:
    """Kruskal's stress-1 of an embedding: sqrt(sum (d_ij - delta_ij)^2 / sum delta_ij^2)
    over pairs i < j, where d are the embedded distances and delta the given
    dissimilarities. 0 is a perfect fit; it does not depend on the scale of
    the dissimilarities. 0 when all dissimilarities are 0 and so are the distances.
    """
    dissimilarity = np.asarray(dissimilarity, np.float64)
    coordinates = np.asarray(coordinates, np.float64)
    upper = np.triu_indices(len(dissimilarity), k=1)
    distances = np.linalg.norm(coordinates[:, None] - coordinates[None], axis=-1)[upper]
    target = dissimilarity[upper]
    residual = float(np.sum((distances - target) ** 2))
    scale = float(np.sum(target ** 2))
    return float(np.sqrt(residual / scale)) if scale > 0 else float(np.sqrt(residual))


def plot_runs(panels: Dict[str, np.ndarray], runs: Sequence[RunInfo], path: str,
              title: str = "") -> str:
    """Scatter of runs in MDS space, one panel per similarity measure.

    Args:
      panels: panel title (e.g. 'RSA') -> coordinates [len(runs), 2].
      runs: the runs, in coordinate order (colour = setup, marker = student).
      path: output PNG.
      title: figure title.
    """
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2), squeeze=False)
    for ax, (panel_title, coords) in zip(axes[0], panels.items()):
        for setup in dict.fromkeys(r.setup for r in runs):
            index = [i for i, r in enumerate(runs) if r.setup == setup]
            ax.scatter(coords[index, 0], coords[index, 1], s=70, alpha=0.85,
                       color=plotting.setup_colour(setup), marker=plotting.setup_marker(setup),
                       edgecolors="black", linewidths=0.5, label=runs[index[0]].label)
        for i, run in enumerate(runs):
            ax.annotate(f"s{run.seed_index}", coords[i], fontsize=7, alpha=0.7,
                        xytext=(4, 3), textcoords="offset points")
        ax.set_title(f"MDS of {panel_title} (1 − similarity)")
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    if title:
        figure.suptitle(title)
    return plotting.save_figure(figure, path)
