"""Training trajectories: penultimate representations of every saved checkpoint
(epochs 0, 1, 2, 4, ..., last) of chosen runs, placed together by MDS."""

from typing import Dict, List, Sequence

import numpy as np

from tf_kdbias.analysis import mds, plotting, representations, similarity
from tf_kdbias.analysis.workdir import RunInfo, trajectory_checkpoints


def checkpoint_representations(runs: Sequence[RunInfo], images: np.ndarray) -> List[Dict]:
    """Penultimate activations of each run's trajectory checkpoints.

    Args:
      runs: runs whose trajectory/ folders to read (runs without one are
        skipped with a warning).
      images: the fixed analysis examples.

    Returns:
      One dict per checkpoint: 'run', 'setup', 'epoch', 'features' [n, d].
    """
    points = []
    for run in runs:
        checkpoints = trajectory_checkpoints(run)
        if not checkpoints:
            print(f"warning: run {run.name} has no trajectory checkpoints; "
                  "it is left out of the trajectory plot", flush=True)
            continue
        # One loaded model per run; each checkpoint overwrites its in-memory
        # weights only (load_weights never writes to disk).
        model = representations.load_run_model(run)
        for epoch, path in checkpoints:
            model.load_weights(path)
            _, features = representations.logits_and_penultimate(model, images)
            points.append({"run": run.name, "setup": run.setup, "epoch": epoch,
                           "features": features})
    return points


def embed_trajectories(points: Sequence[Dict], measures: Sequence[str] = ("rsa", "linear_cka"),
                       seed: int = 0) -> Dict[str, Dict]:
    """Similarity matrix and 2-D MDS of all checkpoints, per measure.

    Returns:
      measure -> {'similarity' [k, k] list, 'coordinates' [k, 2] list, 'stress'}.
    """
    features = [p["features"] for p in points]
    result = {}
    for measure in measures:
        matrix = similarity.pairwise_similarity(features, similarity.SIMILARITIES[measure])
        embedding = mds.embed(mds.dissimilarity_from_similarity(matrix), seed=seed)
        result[measure] = {"similarity": matrix.tolist(),
                           "coordinates": embedding["coordinates"].tolist(),
                           "stress": embedding["stress"]}
    return result


def plot_trajectories(points: Sequence[Dict], panels: Dict[str, np.ndarray],
                      labels: Dict[str, str], path: str) -> str:
    """Each run's checkpoints joined in epoch order, epochs written beside them.

    Args:
      points: checkpoint dicts ('run', 'setup', 'epoch'), coordinate order.
      panels: panel title -> coordinates [len(points), 2].
      labels: run name -> legend label.
      path: output PNG.
    """
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    for ax, (panel_title, coords) in zip(axes[0], panels.items()):
        for run in dict.fromkeys(p["run"] for p in points):
            index = [i for i, p in enumerate(points) if p["run"] == run]
            setup = points[index[0]]["setup"]
            colour = plotting.setup_colour(setup)
            ax.plot(coords[index, 0], coords[index, 1], "-", color=colour, alpha=0.6,
                    marker=plotting.setup_marker(setup), markersize=4, label=labels[run])
            ax.scatter(*coords[index[-1]], s=90, color=colour, edgecolors="black",
                       marker=plotting.setup_marker(setup), zorder=3)
            for i in index:
                ax.annotate(str(points[i]["epoch"]), coords[i], fontsize=6, alpha=0.8,
                            xytext=(3, 2), textcoords="offset points")
        ax.set_title(f"Training trajectories, MDS of {panel_title}\n"
                     "(numbers: epochs; large marker: last)", fontsize=10)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False, fontsize=8)
    return plotting.save_figure(figure, path)
