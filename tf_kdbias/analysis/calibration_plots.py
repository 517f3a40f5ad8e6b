"""Reliability diagrams: accuracy against confidence, per setup and eval set."""

from typing import Dict, Sequence

import numpy as np

from tf_kdbias.analysis import plotting
from tf_kdbias.analysis.workdir import setup_label
from tf_kdbias.metrics.calibration import ExpectedCalibrationError

NUM_BINS = 15  # The suite's ECE default (metrics.evaluation), so ECEs match metrics.json.
MAX_COLUMNS = 3
SPARSE_BIN_FRACTION = 0.005  # Bins with under 0.5% of the examples are drawn faded.


def reliability(logits_per_run: Sequence[np.ndarray], labels, num_bins: int = NUM_BINS) -> Dict:
    """Binned confidence and accuracy, pooled over the runs of one setup.

    Pooling the predictions of all seeds (instead of averaging their
    diagrams) keeps sparsely filled bins from dominating.

    Args:
      logits_per_run: [n, classes] logits of each run on the same eval set.
      labels: [n] integer labels.
      num_bins: equal-width confidence bins over [0, 1].

    Returns:
      'ece' (pooled), 'ece_per_run', and per bin 'count', 'confidence',
      'accuracy' (lists; empty bins have count 0 and confidence/accuracy 0).
    """
    pooled = ExpectedCalibrationError(num_bins=num_bins)
    per_run = []
    for logits in logits_per_run:
        single = ExpectedCalibrationError(num_bins=num_bins)
        single.update_state(labels, logits)
        per_run.append(float(single.result()))
        pooled.update_state(labels, logits)
    counts, confidence, accuracy = (np.asarray(t, np.float64) for t in pooled.reliability())
    return {"ece": float(pooled.result()), "ece_per_run": per_run,
            "count": counts.tolist(), "confidence": confidence.tolist(),
            "accuracy": accuracy.tolist()}


def plot_reliability(diagrams: Dict[str, Dict], eval_set: str, path: str) -> str:
    """One panel per setup: accuracy per confidence bin against the diagonal.

    Args:
      diagrams: setup -> `reliability()` result.
      eval_set: shown in the title.
      path: output PNG.
    """
    import matplotlib.pyplot as plt

    columns = min(len(diagrams), MAX_COLUMNS)
    rows = -(-len(diagrams) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.8 * columns, 2.9 * rows),
                                squeeze=False)
    for ax in axes.flat[len(diagrams):]:
        ax.set_visible(False)
    for ax, (setup, diagram) in zip(axes.flat, diagrams.items()):
        bins = len(diagram["count"])
        edges = np.linspace(0.0, 1.0, bins + 1)
        filled = np.asarray(diagram["count"]) > 0
        accuracy = np.where(filled, diagram["accuracy"], 0.0)
        confidence = np.where(filled, diagram["confidence"], 0.0)
        # Bins holding few examples have noisy accuracies: draw them faded.
        counts = np.asarray(diagram["count"], np.float64)
        sparse = counts < SPARSE_BIN_FRACTION * counts.sum()
        for faded in (False, True):
            keep = sparse == faded
            ax.bar(edges[:-1][keep], accuracy[keep], width=1.0 / bins, align="edge",
                   color=plotting.setup_colour(setup), edgecolor="black", linewidth=0.4,
                   alpha=0.3 if faded else 1.0, label=None if faded else "accuracy")
        # The gap between confidence and accuracy is what ECE averages.
        ax.bar(edges[:-1], confidence - accuracy, bottom=accuracy, width=1.0 / bins,
               align="edge", color="none", edgecolor="red", hatch="///", linewidth=0.4,
               label="gap")
        ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(f"{setup_label(setup)}  ECE {100 * diagram['ece']:.1f}%", fontsize=9)
        ax.set_xlabel("confidence", fontsize=8)
        ax.set_ylabel("accuracy", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7, loc="upper left")
    figure.suptitle(f"Reliability diagrams on {eval_set} (faded: bins with under "
                    f"{100 * SPARSE_BIN_FRACTION:g}% of the examples)", fontsize=10)
    figure.tight_layout()
    return plotting.save_figure(figure, path)
