"""Agreement metrics: micro, distance (D) and attractor (A) accuracy,
class-balanced accuracy, ECE, perplexity (docs/PAPER_SETUP.md, "Scenario 1").

- micro accuracy: over all examples.
- D-accuracy: mean of the per-distance accuracies over distances 1..16.
- A-accuracy: mean of the per-attractor-count accuracies over 0..4 (or the
  groups an eval set has, e.g. 1..5), where an example has k attractors only
  if all of its k intervening nouns differ in number from the subject
  (n_intervening == n_diff_intervening).
- class-balanced accuracy: the mean of the accuracies on singular-verb and
  plural-verb examples, over all examples and per attractor group, with
  their mean over groups. A constant guess scores exactly 0.5 on it, however
  skewed the labels (the attractor sets are mostly plural).
- Grouped metrics skip examples with more intervening nouns than the largest
  group (4 by default) or a distance above 16. A group without examples
  reads None, and so does D-accuracy for a source without distances: "not
  available", never 0.
- A- and D-accuracy average the non-empty groups and say how many were empty
  (a_accuracy_empty_groups, d_accuracy_empty_groups; `empty_groups` names
  them). The authors' code counted an empty group as 0: bind
  `empty_group_convention.convention = 'zero'` for that.
"""

from typing import Dict, List, Optional, Sequence

import gin
import numpy as np
from keras import ops

from tf_kdbias.errors import UserError
from tf_kdbias.metrics.calibration import PAPER_NUM_BINS, ExpectedCalibrationError

MAX_ATTRACTORS = 4
MAX_DISTANCE = 16
# Our few-bin `ece` for SVA: the 20 bins of the paper's reliability diagrams
# (docs/PAPER_SETUP.md, "ECE"); the paper's reported ECE is `ece_paper` (10^6 bins).
ECE_BINS = 20
UNKNOWN = -1   # Marks a missing count or distance in the integer arrays.
ATTRACTOR_GROUPS = tuple(range(MAX_ATTRACTORS + 1))
# The two verb numbers (VBZ = 0, VBP = 1) the class-balanced accuracy averages.
CLASSES = (0, 1)

Metrics = Dict[str, Optional[float]]


def _group_accuracy(correct: np.ndarray, members: np.ndarray):
    count = int(members.sum())
    return (float(correct[members].mean()) if count else None), count


EMPTY_GROUP_CONVENTIONS = ("skip", "zero")


@gin.configurable
def empty_group_convention(convention: str = "skip") -> str:
    """How A- and D-accuracy treat a group without examples.

    Args:
      convention: 'skip' (ours): average the non-empty groups only, and
        report how many were empty (a_accuracy_empty_groups,
        d_accuracy_empty_groups; the empty ones have count_* 0); 'zero' (the
        authors' code): an empty group counts as accuracy 0 in the mean, so
        a set without, say, 4-attractor examples caps A-accuracy at 0.8.
    """
    if convention not in EMPTY_GROUP_CONVENTIONS:
        raise UserError(f"empty_group_convention.convention={convention!r}: use 'skip' (mean "
                        "of the non-empty groups) or 'zero' (empty groups count as 0).")
    return convention


def _group_mean(accuracies: Sequence[Optional[float]]) -> Optional[float]:
    """A- or D-accuracy from per-group accuracies (None: empty group), under
    `empty_group_convention()`; None when every group is empty."""
    if empty_group_convention() == "zero" and any(a is not None for a in accuracies):
        return float(np.mean([0.0 if a is None else a for a in accuracies]))
    return _mean_or_none(accuracies)


def empty_groups(metrics: Metrics) -> Dict[str, List[int]]:
    """The groups without examples in `agreement_accuracies`' output:
    {'attractors': [k, ...], 'distance': [d, ...]} (from the count_* entries)."""
    found: Dict[str, List[int]] = {"attractors": [], "distance": []}
    for name, value in metrics.items():
        for kind in found:
            prefix = f"count_{kind}_"
            if name.startswith(prefix) and value == 0:
                found[kind].append(int(name[len(prefix):]))
    return {kind: sorted(groups) for kind, groups in found.items()}


def _mean_or_none(values) -> Optional[float]:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _balanced_accuracy(correct: np.ndarray, labels: np.ndarray,
                       members: np.ndarray) -> Optional[float]:
    """Mean of the per-class accuracies among `members`; None unless both
    classes occur there."""
    per_class = [_group_accuracy(correct, members & (labels == c))[0] for c in CLASSES]
    return None if None in per_class else float(np.mean(per_class))


def evaluable_mask(n_intervening: np.ndarray, distance: Optional[np.ndarray],
                   max_intervening: int = MAX_ATTRACTORS) -> np.ndarray:
    """Examples the grouped metrics count: <= `max_intervening` intervening
    nouns and, where distances are known, distance <= 16."""
    mask = (n_intervening != UNKNOWN) & (n_intervening <= max_intervening)
    if distance is not None:
        mask &= distance <= MAX_DISTANCE
    return mask


def agreement_accuracies(correct: np.ndarray, n_intervening: np.ndarray,
                         n_diff_intervening: np.ndarray,
                         distance: Optional[np.ndarray] = None,
                         labels: Optional[np.ndarray] = None,
                         attractor_groups: Sequence[int] = ATTRACTOR_GROUPS) -> Metrics:
    """Micro, D- and A-accuracy with per-group accuracies and counts.

    Args:
      correct: bool [N], whether each example's verb number was right.
      n_intervening: int [N], nouns between subject and verb (UNKNOWN: -1).
      n_diff_intervening: int [N], those of the other number.
      distance: int [N] subject-verb distances, or None when the source has
        none (D-accuracy is then None).
      labels: int [N] verb numbers (0 singular, 1 plural) for the
        class-balanced accuracies, or None to leave them out.
      attractor_groups: the attractor counts A-accuracy averages over
        (docs/PAPER_SETUP.md, "Scenario 1": 0..4).

    Returns:
      micro_accuracy, a_accuracy, d_accuracy, accuracy_attractors_<k>,
      count_attractors_<k> (k in attractor_groups), accuracy_distance_<d>,
      count_distance_<d> (d = 1..16, only with distances) and count; with
      labels also balanced_accuracy, balanced_accuracy_attractors_<k> and
      balanced_a_accuracy (their mean over groups).
    """
    correct = np.asarray(correct, bool)
    n_intervening = np.asarray(n_intervening, np.int64)
    n_diff_intervening = np.asarray(n_diff_intervening, np.int64)
    distance = None if distance is None else np.asarray(distance, np.int64)
    evaluable = evaluable_mask(n_intervening, distance, max(attractor_groups))
    metrics: Metrics = {"count": int(len(correct)),
                        "micro_accuracy": float(correct.mean()) if len(correct) else None}
    attractor_accuracies = []
    clean = evaluable & (n_intervening == n_diff_intervening)
    for k in attractor_groups:
        accuracy, count = _group_accuracy(correct, clean & (n_diff_intervening == k))
        metrics[f"accuracy_attractors_{k}"], metrics[f"count_attractors_{k}"] = accuracy, count
        attractor_accuracies.append(accuracy)
    metrics["a_accuracy"] = _group_mean(attractor_accuracies)
    metrics["a_accuracy_empty_groups"] = attractor_accuracies.count(None)
    if labels is not None:
        metrics.update(_balanced_accuracies(correct, np.asarray(labels, np.int64), clean,
                                            n_diff_intervening, attractor_groups))
    metrics["d_accuracy"] = None
    if distance is not None:
        distance_accuracies = []
        for d in range(1, MAX_DISTANCE + 1):
            accuracy, count = _group_accuracy(correct, evaluable & (distance == d))
            metrics[f"accuracy_distance_{d}"], metrics[f"count_distance_{d}"] = accuracy, count
            distance_accuracies.append(accuracy)
        metrics["d_accuracy"] = _group_mean(distance_accuracies)
        metrics["d_accuracy_empty_groups"] = distance_accuracies.count(None)
    return metrics


def _balanced_accuracies(correct, labels, clean, n_diff_intervening,
                         attractor_groups) -> Metrics:
    metrics: Metrics = {"balanced_accuracy": _balanced_accuracy(
        correct, labels, np.ones(len(correct), bool))}
    group_values = []
    for k in attractor_groups:
        value = _balanced_accuracy(correct, labels, clean & (n_diff_intervening == k))
        metrics[f"balanced_accuracy_attractors_{k}"] = value
        group_values.append(value)
    metrics["balanced_a_accuracy"] = _mean_or_none(group_values)
    return metrics


def binary_ece(logits: np.ndarray, labels: np.ndarray, num_bins: int = ECE_BINS) -> float:
    """ECE of two-way logits [N, 2] against labels [N] (20 bins by default)."""
    ece = ExpectedCalibrationError(num_bins=num_bins)
    ece.update_state(np.asarray(labels, np.int32), np.asarray(logits, np.float32))
    return float(ece.result())


def binary_ece_paper(logits: np.ndarray, labels: np.ndarray,
                     num_bins: int = PAPER_NUM_BINS) -> Optional[float]:
    """The paper's ECE: `binary_ece` with `num_bins` (default
    `calibration.PAPER_NUM_BINS`, 10^6) equal-width bins, i.e. the one
    estimator behind every task's `ece_paper` (float32 bin indices, as
    tensorflow-probability computes them); None without examples.

    Args:
      logits: float [N, C] (C = 2 for the verb number).
      labels: int [N].
      num_bins: equal-width bins over the top probability.
    """
    logits = np.asarray(logits)
    if not len(logits):
        return None
    return binary_ece(logits, labels, num_bins)


def mean_nll(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of integer labels under logits [N, C]."""
    log_probs = ops.log_softmax(ops.convert_to_tensor(np.asarray(logits, np.float32)), axis=-1)
    picked = ops.take_along_axis(log_probs, ops.convert_to_tensor(
        np.asarray(labels, np.int32)[:, None]), axis=-1)
    return float(-ops.mean(picked))


def perplexity(total_nll: float, num_tokens: int) -> Optional[float]:
    """exp(mean token NLL); None without tokens."""
    return float(np.exp(total_nll / num_tokens)) if num_tokens else None
