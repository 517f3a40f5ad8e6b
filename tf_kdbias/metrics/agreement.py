"""Agreement metrics: micro, distance (D) and attractor (A) accuracy, ECE,
perplexity (SETUP.md, Scenario 1).

- micro accuracy: over all examples.
- D-accuracy: mean of the per-distance accuracies over distances 1..16.
- A-accuracy: mean of the per-attractor-count accuracies over 0..4, where an
  example has k attractors only if all of its k intervening nouns differ in
  number from the subject (n_intervening == n_diff_intervening).
- Grouped metrics skip examples with more than 4 intervening nouns or a
  distance above 16. A group without examples reads None, and so does
  D-accuracy for a source without distances: "not available", never 0.
"""

from typing import Dict, Optional

import numpy as np
from keras import ops

from tf_kdbias.metrics.calibration import ExpectedCalibrationError

MAX_ATTRACTORS = 4
MAX_DISTANCE = 16
ECE_BINS = 20  # SETUP.md: 20 bins for the binary SVA task.
UNKNOWN = -1   # Marks a missing count or distance in the integer arrays.

Metrics = Dict[str, Optional[float]]


def _group_accuracy(correct: np.ndarray, members: np.ndarray):
    count = int(members.sum())
    return (float(correct[members].mean()) if count else None), count


def _mean_or_none(values) -> Optional[float]:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def evaluable_mask(n_intervening: np.ndarray, distance: Optional[np.ndarray]) -> np.ndarray:
    """Examples the grouped metrics count: <= 4 intervening nouns and, where
    distances are known, distance <= 16."""
    mask = (n_intervening != UNKNOWN) & (n_intervening <= MAX_ATTRACTORS)
    if distance is not None:
        mask &= distance <= MAX_DISTANCE
    return mask


def agreement_accuracies(correct: np.ndarray, n_intervening: np.ndarray,
                         n_diff_intervening: np.ndarray,
                         distance: Optional[np.ndarray] = None) -> Metrics:
    """Micro, D- and A-accuracy with per-group accuracies and counts.

    Args:
      correct: bool [N], whether each example's verb number was right.
      n_intervening: int [N], nouns between subject and verb (UNKNOWN: -1).
      n_diff_intervening: int [N], those of the other number.
      distance: int [N] subject-verb distances, or None when the source has
        none (D-accuracy is then None).

    Returns:
      micro_accuracy, a_accuracy, d_accuracy, accuracy_attractors_<k>,
      count_attractors_<k> (k = 0..4), accuracy_distance_<d>,
      count_distance_<d> (d = 1..16, only with distances) and count.
    """
    correct = np.asarray(correct, bool)
    n_intervening = np.asarray(n_intervening, np.int64)
    n_diff_intervening = np.asarray(n_diff_intervening, np.int64)
    distance = None if distance is None else np.asarray(distance, np.int64)
    evaluable = evaluable_mask(n_intervening, distance)
    metrics: Metrics = {"count": int(len(correct)),
                        "micro_accuracy": float(correct.mean()) if len(correct) else None}
    attractor_accuracies = []
    clean = evaluable & (n_intervening == n_diff_intervening)
    for k in range(MAX_ATTRACTORS + 1):
        accuracy, count = _group_accuracy(correct, clean & (n_diff_intervening == k))
        metrics[f"accuracy_attractors_{k}"], metrics[f"count_attractors_{k}"] = accuracy, count
        attractor_accuracies.append(accuracy)
    metrics["a_accuracy"] = _mean_or_none(attractor_accuracies)
    metrics["d_accuracy"] = None
    if distance is not None:
        distance_accuracies = []
        for d in range(1, MAX_DISTANCE + 1):
            accuracy, count = _group_accuracy(correct, evaluable & (distance == d))
            metrics[f"accuracy_distance_{d}"], metrics[f"count_distance_{d}"] = accuracy, count
            distance_accuracies.append(accuracy)
        metrics["d_accuracy"] = _mean_or_none(distance_accuracies)
    return metrics


def binary_ece(logits: np.ndarray, labels: np.ndarray, num_bins: int = ECE_BINS) -> float:
    """ECE of two-way logits [N, 2] against labels [N] (20 bins by default)."""
    ece = ExpectedCalibrationError(num_bins=num_bins)
    ece.update_state(np.asarray(labels, np.int32), np.asarray(logits, np.float32))
    return float(ece.result())


def mean_nll(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of integer labels under logits [N, C]."""
    log_probs = ops.log_softmax(ops.convert_to_tensor(np.asarray(logits, np.float32)), axis=-1)
    picked = ops.take_along_axis(log_probs, ops.convert_to_tensor(
        np.asarray(labels, np.int32)[:, None]), axis=-1)
    return float(-ops.mean(picked))


def perplexity(total_nll: float, num_tokens: int) -> Optional[float]:
    """exp(mean token NLL); None without tokens."""
    return float(np.exp(total_nll / num_tokens)) if num_tokens else None
