"""Accuracy, NLL and ECE of a set of logits against labels."""

from typing import Dict

import numpy as np
from keras import ops

from tf_kdbias.metrics.calibration import ExpectedCalibrationError


def evaluate_logits(logits: np.ndarray, labels: np.ndarray, num_bins: int = 15) -> Dict[str, float]:
    """Returns {'accuracy', 'ece', 'nll'} of `logits` [N, C] for int `labels` [N]."""
    logits = np.asarray(logits, dtype=np.float32)
    labels = np.asarray(labels).astype(np.int64)
    log_probs = np.asarray(ops.log_softmax(logits, axis=-1))
    ece = ExpectedCalibrationError(num_bins=num_bins)
    ece.update_state(labels, logits)
    return {
        "accuracy": float(np.mean(np.argmax(logits, axis=-1) == labels)),
        "ece": float(ece.result()),
        "nll": float(-np.mean(log_probs[np.arange(len(labels)), labels])),
    }
