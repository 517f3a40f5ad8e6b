"""Per-sample behaviour of models on the same examples: do they make the same
predictions, the same mistakes, and put probability mass in the same places?"""

from typing import Dict, Sequence

import numpy as np
from scipy.special import log_softmax


def prediction_agreement(logits_a, logits_b) -> float:
    """Fraction of examples on which the two models' top classes agree.

    Args:
      logits_a: [n, classes] logits of the first model.
      logits_b: [n, classes] logits of the second model, same examples.
    """
    return float(np.mean(np.argmax(logits_a, axis=-1) == np.argmax(logits_b, axis=-1)))


def error_jaccard(errors_a, errors_b) -> float:
    """|A ∩ B| / |A ∪ B| of two boolean error masks; 1.0 when neither errs.

    Args:
      errors_a: [n] bool, True where the first model is wrong.
      errors_b: [n] bool, True where the second model is wrong.
    """
    errors_a, errors_b = np.asarray(errors_a, bool), np.asarray(errors_b, bool)
    union = np.sum(errors_a | errors_b)
    if union == 0:
        return 1.0  # Two perfect models make the same (empty) set of mistakes.
    return float(np.sum(errors_a & errors_b) / union)


def mean_kl(logits_p, logits_q) -> float:
    """Mean over examples of KL(p || q) between the predictive distributions.

    Args:
      logits_p: [n, classes] logits of the reference model p.
      logits_q: [n, classes] logits of the other model q, same examples.
    """
    log_p = log_softmax(np.asarray(logits_p, np.float64), axis=-1)
    log_q = log_softmax(np.asarray(logits_q, np.float64), axis=-1)
    return float(np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=-1)))


def behaviour_matrices(logits: Sequence[np.ndarray], labels) -> Dict[str, object]:
    """Pairwise behaviour of m models on one eval set.

    Args:
      logits: m arrays [n, classes], the models' logits on the same examples.
      labels: [n] integer labels.

    Returns:
      'accuracy' [m]; 'agreement', 'error_jaccard' (symmetric) and 'kl'
      ([i][j] = mean KL(model i || model j)) as [m, m] nested lists.
    """
    labels = np.asarray(labels)
    errors = [np.argmax(l, axis=-1) != labels for l in logits]
    m = len(logits)
    agreement, jaccard, kl = np.ones((m, m)), np.ones((m, m)), np.zeros((m, m))
    for i in range(m):
        for j in range(m):
            if i < j:
                agreement[i, j] = agreement[j, i] = prediction_agreement(logits[i], logits[j])
                jaccard[i, j] = jaccard[j, i] = error_jaccard(errors[i], errors[j])
            if i != j:
                kl[i, j] = mean_kl(logits[i], logits[j])
    return {
        "accuracy": [float(1.0 - np.mean(e)) for e in errors],
        "agreement": agreement.tolist(),
        "error_jaccard": jaccard.tolist(),
        "kl": kl.tolist(),
    }
