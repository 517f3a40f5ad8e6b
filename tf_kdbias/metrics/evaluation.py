"""Accuracy, NLL and ECE of a set of logits against labels."""

from typing import Dict

import numpy as np
from keras import ops

from tf_kdbias.metrics.calibration import PAPER_NUM_BINS, ExpectedCalibrationError


def evaluate_logits(logits: np.ndarray, labels: np.ndarray, num_bins: int = 15) -> Dict[str, float]:
    """{'accuracy', 'ece', 'ece_paper', 'nll'} of `logits` [N, C] for int `labels` [N].

    `ece` uses `num_bins` equal-width bins (15 by default); `ece_paper` the
    paper's 1,000,000 (see metrics/calibration.py).
    """
    logits = np.asarray(logits, dtype=np.float32)
    labels = np.asarray(labels).astype(np.int64)
    log_probs = np.asarray(ops.log_softmax(logits, axis=-1))
    ece = ExpectedCalibrationError(num_bins=num_bins)
    ece.update_state(labels, logits)
    ece_paper = ExpectedCalibrationError(num_bins=PAPER_NUM_BINS, name="ece_paper")
    ece_paper.update_state(labels, logits)
    return {
        "accuracy": float(np.mean(np.argmax(logits, axis=-1) == labels)),
        "ece": float(ece.result()),
        "ece_paper": float(ece_paper.result()),
        "nll": float(-np.mean(log_probs[np.arange(len(labels)), labels])),
    }
