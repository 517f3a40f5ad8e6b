"""Linear mode connectivity: loss and accuracy on the straight line between two
runs' weights, and the barrier along it.

BatchNorm moving statistics cannot be interpolated meaningfully (the mean of
two networks' activation statistics is not the statistics of the mean
network), so at every point of the path they are re-estimated on training
data. Re-estimation runs the model in training mode, as during training, so
Dropout is on and each BatchNorm layer sees the activations it saw while its
statistics were being accumulated. Rather than an exponential moving average,
whose result depends on the momentum and the batch order, the moving mean and
variance are set to the plain average of the per-batch statistics: with the
k-th batch the momentum is (k - 1) / k, which turns Keras' update
`moving = momentum * moving + (1 - momentum) * batch_stat` into a running mean
(the first batch, momentum 0, replaces the old statistics entirely).
"""

import itertools
from typing import Dict, List, Optional, Sequence, Tuple

import keras
import numpy as np
from scipy.special import log_softmax

from tf_kdbias.analysis import plotting, representations
from tf_kdbias.analysis.workdir import RunInfo
from tf_kdbias.data.mnist import ImageSplit

DEFAULT_POINTS = 11
BN_BATCH_SIZE = 256


def interpolate_weights(weights_a: Sequence[np.ndarray], weights_b: Sequence[np.ndarray],
                        alpha: float) -> List[np.ndarray]:
    """(1 - alpha) * a + alpha * b, weight by weight (alpha 0 gives a, 1 gives b)."""
    return [((1.0 - alpha) * a + alpha * b).astype(a.dtype) for a, b in zip(weights_a, weights_b)]


def batchnorm_layers(model: keras.Model) -> List[keras.layers.BatchNormalization]:
    return [layer for layer in model._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization)]


def reestimate_batchnorm(model: keras.Model, images: np.ndarray,
                         batch_size: int = BN_BATCH_SIZE) -> None:
    """Sets every BatchNorm layer's moving statistics to the average of its
    batch statistics over `images` (training-mode forward passes).

    Args:
      model: modified in memory only.
      images: training images; a trailing partial batch is dropped so every
        batch weighs the same in the average.
      batch_size: examples per forward pass.
    """
    layers = batchnorm_layers(model)
    if not layers:
        return
    num_batches = max(1, len(images) // batch_size)
    momenta = [layer.momentum for layer in layers]
    # A frozen BatchNorm (trainable=False, e.g. a loaded teacher) runs in
    # inference mode even when called with training=True and would keep its
    # old statistics: unfreeze them for the passes, then restore.
    frozen = [not layer.trainable for layer in layers]
    try:
        for layer in layers:
            layer.trainable = True
        for k in range(1, num_batches + 1):
            for layer in layers:
                layer.momentum = (k - 1) / k
            model(images[(k - 1) * batch_size:k * batch_size], training=True)
    finally:
        for layer, momentum, was_frozen in zip(layers, momenta, frozen):
            layer.momentum = momentum
            if was_frozen:
                layer.trainable = False


def loss_and_accuracy(logits: np.ndarray, labels: np.ndarray) -> Dict[str, float]:
    """Mean cross-entropy (no regulariser) and accuracy of logits [n, classes]."""
    log_probs = log_softmax(np.asarray(logits, np.float64), axis=-1)
    labels = np.asarray(labels)
    return {"loss": float(-np.mean(log_probs[np.arange(len(labels)), labels])),
            "accuracy": float(np.mean(np.argmax(logits, axis=-1) == labels))}


def evaluate(model: keras.Model, datasets: Dict[str, ImageSplit]) -> Dict[str, Dict[str, float]]:
    return {name: loss_and_accuracy(representations.predict_logits(model, split.images),
                                    split.labels)
            for name, split in datasets.items()}


def barrier(values: Sequence[float], higher_is_worse: bool = True) -> float:
    """Worst value on the path minus the mean of the two endpoints' values
    (for accuracy, the mean of the endpoints minus the lowest value): the
    error-barrier height of Frankle et al. (2020), "Linear mode connectivity
    and the lottery ticket hypothesis"."""
    values = np.asarray(values, np.float64)
    ends = 0.5 * (values[0] + values[-1])
    return float(values.max() - ends) if higher_is_worse else float(ends - values.min())


def barrier_above_line(values: Sequence[float], alphas: Sequence[float]) -> float:
    """Largest excess of the path over the straight line joining its endpoint
    values: the loss barrier of Entezari et al. (2022), "The role of
    permutation invariance in linear mode connectivity of neural networks".
    Unlike `barrier`, unequal endpoints alone do not produce one. 0 when the
    path never rises above that line."""
    values, alphas = np.asarray(values, np.float64), np.asarray(alphas, np.float64)
    line = (1.0 - alphas) * values[0] + alphas * values[-1]
    return float(np.max(values - line))


def interpolation_path(model_a: keras.Model, model_b: keras.Model,
                       datasets: Dict[str, ImageSplit], bn_images: Optional[np.ndarray],
                       num_points: int = DEFAULT_POINTS, seed: int = 0) -> Dict:
    """Loss and accuracy along the line from model_a's weights to model_b's.

    Args:
      model_a: first endpoint (not modified).
      model_b: second endpoint, same architecture (not modified).
      datasets: name -> examples on which loss and accuracy are measured.
      bn_images: training images for BatchNorm re-estimation at every point;
        None keeps the interpolated moving statistics (used by tests to
        compare endpoints exactly).
      num_points: evenly spaced alphas in [0, 1], endpoints included.
      seed: seeds the Dropout masks drawn during re-estimation.

    Returns:
      'alphas'; 'curves' name -> {'loss', 'accuracy'} lists; 'barrier'
      name -> {'loss' (max minus the endpoints' mean), 'loss_above_line',
      'accuracy' (endpoints' mean minus min)}; 'endpoint_models' name ->
      metrics of the two models with their own stored statistics ('a', 'b').
    """
    weights_a, weights_b = model_a.get_weights(), model_b.get_weights()
    shapes_a, shapes_b = [w.shape for w in weights_a], [w.shape for w in weights_b]
    if shapes_a != shapes_b:
        raise ValueError(f"Cannot interpolate models of different architectures "
                         f"({model_a.name}: {len(shapes_a)} weights, "
                         f"{model_b.name}: {len(shapes_b)} weights, or different shapes).")
    keras.utils.set_random_seed(seed)  # The clone's Dropout seeds come from here.
    probe = keras.models.clone_model(model_a)
    alphas = np.linspace(0.0, 1.0, num_points)
    curves = {name: {"loss": [], "accuracy": []} for name in datasets}
    for alpha in alphas:
        probe.set_weights(interpolate_weights(weights_a, weights_b, float(alpha)))
        if bn_images is not None:
            reestimate_batchnorm(probe, bn_images)
        for name, metrics in evaluate(probe, datasets).items():
            curves[name]["loss"].append(metrics["loss"])
            curves[name]["accuracy"].append(metrics["accuracy"])
    return {
        "alphas": alphas.tolist(),
        "curves": curves,
        "barrier": {name: {"loss": barrier(c["loss"]),
                           "loss_above_line": barrier_above_line(c["loss"], alphas),
                           "accuracy": barrier(c["accuracy"], higher_is_worse=False)}
                    for name, c in curves.items()},
        "endpoint_models": {"a": evaluate(model_a, datasets), "b": evaluate(model_b, datasets)},
    }


def choose_pairs(runs: Sequence[RunInfo], mode: str = "same_architecture"
                 ) -> List[Tuple[RunInfo, RunInfo]]:
    """Pairs of runs whose weights can be interpolated.

    Args:
      runs: candidate runs.
      mode: 'same_setup' (e.g. two CNN→MLP students) or 'same_architecture'
        (also across setups with the same student, e.g. MLP vs CNN→MLP).
    """
    if mode not in ("same_setup", "same_architecture"):
        raise ValueError(f"Unknown pair mode {mode!r}; use 'same_setup' or 'same_architecture'.")
    key = (lambda r: r.setup) if mode == "same_setup" else (lambda r: r.student)
    return [(a, b) for a, b in itertools.combinations(runs, 2) if key(a) == key(b)]


def plot_paths(pairs: Sequence[Dict], dataset_names: Sequence[str], path: str) -> str:
    """Loss and accuracy against alpha, one row per dataset, one line per pair.

    Args:
      pairs: dicts with 'label', 'setups' (setup_a, setup_b), 'alphas', 'curves'.
      dataset_names: rows of the figure.
      path: output PNG.
    """
    import matplotlib.pyplot as plt

    rows = len(dataset_names)
    figure, axes = plt.subplots(rows, 2, figsize=(10, 3.2 * rows), squeeze=False)
    colours = plt.get_cmap("tab10" if len(pairs) <= 10 else "tab20").colors
    for row, name in enumerate(dataset_names):
        for k, pair in enumerate(pairs):
            setup_a, setup_b = pair["setups"]
            # Solid: two runs of one setup (two seeds); dotted: across setups.
            style = dict(color=colours[k % len(colours)], marker=".",
                         linestyle="-" if setup_a == setup_b else ":")
            curve = pair["curves"][name]
            axes[row][0].plot(pair["alphas"], curve["loss"], label=pair["label"], **style)
            axes[row][1].plot(pair["alphas"], curve["accuracy"], **style)
        axes[row][0].set_ylabel(f"loss on {name}")
        axes[row][1].set_ylabel(f"accuracy on {name}")
    for ax in axes[-1]:
        ax.set_xlabel("α  (0: first run, 1: second run)")
    axes[0][0].set_title("Cross-entropy along the straight line between weights", fontsize=10)
    axes[0][1].set_title("Accuracy (BatchNorm statistics re-estimated per point)", fontsize=10)
    axes[0][1].legend(*axes[0][0].get_legend_handles_labels(), loc="center left",
                      bbox_to_anchor=(1.02, 0.5), frameon=False, fontsize=7)
    figure.tight_layout()
    return plotting.save_figure(figure, path)
