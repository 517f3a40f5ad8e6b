"""Robustness profile: each setup's accuracy on the 15 MNIST-C corruptions.

One row per setup (teachers and controls beside the students), one column per
corruption plus their mean. A run trained with an augmentation that resembles
a corruption (pixel noise ~ shot and impulse noise) has that cell marked: its
score there partly measures the augmentation.
"""

from typing import Dict, List, Sequence

import numpy as np

from tf_kdbias.analysis import plotting
from tf_kdbias.analysis.workdir import RunInfo, read_metrics, setup_label
from tf_kdbias.data.corruptions.registry import CORRUPTION_NAMES

# The 15 corruptions of MNIST-C (its `identity` set is clean MNIST).
CORRUPTIONS = tuple(c for c in CORRUPTION_NAMES if c != "identity")
EVAL_SETS = tuple(f"mnist_c/{c}" for c in CORRUPTIONS)
MEAN = "mean"


def training_augmentation(run: RunInfo) -> Dict:
    """metrics.json's function_matching entry ({} for a run on plain images)."""
    return read_metrics(run).get("function_matching") or {}


def augmentation_label(run: RunInfo) -> str:
    """'' for plain training, else e.g. 'mixup α=1, live teacher'."""
    entry = training_augmentation(run)
    if not entry:
        return ""
    parts = []
    for name in entry.get("augmentations", []):
        if name == "mixup":
            parts.append(f"mixup α={entry['mixup_alpha']:g}")
        elif name == "pixel_noise":
            parts.append(f"noise σ={entry['noise_std']:g}")
        else:
            parts.append(name)
    if entry.get("cache_views"):
        parts.append(f"{entry['cache_views']} cached views")
    return ", ".join(parts) or "no augmentation"


def _per_run_accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits, axis=-1) == labels))


def robustness_profile(runs: Sequence[RunInfo], logits_by_set: Dict[str, Sequence[np.ndarray]],
                       labels_by_set: Dict[str, np.ndarray]) -> Dict:
    """Accuracy per setup and corruption, mean ± std over the setup's runs.

    Args:
      runs: the runs, in the order of each `logits_by_set` list.
      logits_by_set: must hold every 'mnist_c/<corruption>' of EVAL_SETS
        ('mnist' is reported beside them when present).
      labels_by_set: eval set -> [n] labels.

    Returns:
      corruptions, setups, accuracy[setup][corruption | 'mean'] = {mean, std,
      n, values} (a run's 'mean' is its mean over the 15), clean[setup],
      marked[setup] (corruptions an augmentation of the setup resembles),
      augmentation[setup] (label).
    """
    setups = list(dict.fromkeys(r.setup for r in runs))
    accuracy, clean, marked, augmentation = {}, {}, {}, {}
    for setup in setups:
        members = [i for i, r in enumerate(runs) if r.setup == setup]
        table = np.array([[_per_run_accuracy(logits_by_set[e][i], labels_by_set[e])
                           for e in EVAL_SETS] for i in members])  # [runs, 15]
        accuracy[setup] = {c: _summary(table[:, k]) for k, c in enumerate(CORRUPTIONS)}
        accuracy[setup][MEAN] = _summary(table.mean(axis=1))
        if "mnist" in logits_by_set:
            clean[setup] = _summary([_per_run_accuracy(logits_by_set["mnist"][i],
                                                       labels_by_set["mnist"]) for i in members])
        overlaps = {c for i in members
                    for c in training_augmentation(runs[i]).get("overlapping_corruptions", [])}
        marked[setup] = [c for c in CORRUPTIONS if c in overlaps]
        labels = list(dict.fromkeys(augmentation_label(runs[i]) for i in members))
        augmentation[setup] = "; ".join(label for label in labels if label)
    return {"corruptions": list(CORRUPTIONS), "setups": setups, "accuracy": accuracy,
            "clean": clean, "marked": marked, "augmentation": augmentation}


def _summary(values) -> Dict:
    values = [float(v) for v in values]
    return {"mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "n": len(values), "values": values}


def _row_label(profile: Dict, setup: str) -> str:
    n = profile["accuracy"][setup][MEAN]["n"]
    extra = profile["augmentation"].get(setup)
    return f"{setup_label(setup)}{f' [{extra}]' if extra else ''} (n={n})"


def plot_profile(profile: Dict, path: str) -> str:
    """Heatmap: setups x (15 corruptions + mean), accuracy in each cell; cells
    whose corruption a training augmentation resembles are hatched and starred."""
    import matplotlib.pyplot as plt

    setups: List[str] = profile["setups"]
    columns = list(profile["corruptions"]) + [MEAN]
    values = np.array([[profile["accuracy"][s][c]["mean"] for c in columns] for s in setups])
    figure, ax = plt.subplots(figsize=(1.0 + 0.62 * len(columns), 1.2 + 0.42 * len(setups)))
    image = ax.imshow(values, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for r, setup in enumerate(setups):
        for c, column in enumerate(columns):
            star = "*" if column in profile["marked"][setup] else ""
            ax.text(c, r, f"{100 * values[r, c]:.0f}{star}", ha="center", va="center",
                    fontsize=7, color="white" if values[r, c] < 0.6 else "black")
            if star:
                ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, hatch="//",
                                           edgecolor="red", linewidth=0.0))
    ax.axvline(len(columns) - 1.5, color="white", linewidth=2)  # Sets the mean apart.
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([c.replace("_", " ") for c in columns], rotation=45, ha="right",
                       fontsize=8)
    ax.set_yticks(range(len(setups)))
    ax.set_yticklabels([_row_label(profile, s) for s in setups], fontsize=8)
    colorbar = figure.colorbar(image, ax=ax, fraction=0.025, pad=0.01)
    colorbar.set_label("accuracy", fontsize=8)
    marked_any = any(profile["marked"][s] for s in setups)
    ax.set_title("Accuracy (%) on the 15 MNIST-C corruptions, mean over each setup's runs"
                 + ("\n* hatched: trained with an augmentation resembling this corruption"
                    if marked_any else ""), fontsize=9)
    figure.tight_layout()
    return plotting.save_figure(figure, path)


def format_summary(profile: Dict) -> str:
    """Markdown: mean accuracy over the 15 corruptions per setup (and clean MNIST)."""
    lines = ["Robustness: accuracy on clean MNIST and mean over the 15 MNIST-C corruptions "
             "(mean ± std over runs; * = a corruption resembling a training augmentation):", "",
             "| setup | training augmentation | mnist | mean of 15 corruptions | marked |",
             "|---|---|---|---|---|"]
    for setup in profile["setups"]:
        mean = profile["accuracy"][setup][MEAN]
        clean = profile["clean"].get(setup)
        clean_cell = "—" if clean is None else f"{clean['mean']:.3f} ± {clean['std']:.3f}"
        lines.append(f"| {setup_label(setup)} | {profile['augmentation'][setup] or 'none'} | "
                     f"{clean_cell} | {mean['mean']:.3f} ± {mean['std']:.3f} | "
                     f"{', '.join(profile['marked'][setup]) or '—'} |")
    return "\n".join(lines + [""])
