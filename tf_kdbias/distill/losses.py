"""Distillation losses in `keras.ops`, computed in float32.

Both losses take per-example logits `[batch, classes]` (or `[batch, time,
classes]` with a mask) and return the per-example loss, so callers decide how
to average (and can mask padding).
"""

import gin
from keras import ops

KD_LOSSES = ("kl", "soft_cross_entropy")


def _scaled_log_probs(logits, temperature):
    return ops.log_softmax(ops.cast(logits, "float32") / temperature, axis=-1)


def kl_distillation(teacher_logits, student_logits, temperature):
    """Hinton et al.: T^2 * KL(softmax(t/T) || softmax(s/T)), per example.

    The T^2 factor keeps gradient magnitudes comparable across temperatures.
    """
    teacher_log_probs = _scaled_log_probs(teacher_logits, temperature)
    student_log_probs = _scaled_log_probs(student_logits, temperature)
    kl = ops.sum(ops.exp(teacher_log_probs) * (teacher_log_probs - student_log_probs), axis=-1)
    return ops.square(temperature) * kl


def soft_cross_entropy_distillation(teacher_logits, student_logits, temperature):
    """The original code's choice: soft-target cross-entropy divided by T^2.

    Differs from `kl_distillation` by the teacher's entropy (constant for the
    student) and by a factor 1/T^4 in scale.
    """
    teacher_probs = ops.softmax(ops.cast(teacher_logits, "float32") / temperature, axis=-1)
    student_log_probs = _scaled_log_probs(student_logits, temperature)
    return -ops.sum(teacher_probs * student_log_probs, axis=-1) / ops.square(temperature)


def top_k_distillation(teacher_values, teacher_indices, student_logits, temperature,
                       kd_loss: str = "kl"):
    """KD against a teacher cached as its top-k logits per position (large vocabularies).

    The teacher's distribution is its softmax over the k kept logits at
    temperature T (renormalised there); the student's log-probabilities over
    the full vocabulary are read at the same k tokens. 'kl' gives
    T^2 * sum_k p_k (log p_k - log q_k), 'soft_cross_entropy' gives
    -sum_k p_k log q_k / T^2; with k = vocabulary size both equal the full
    losses above exactly.

    Args:
      teacher_values: [..., k] the teacher's largest logits.
      teacher_indices: [..., k] their token ids.
      student_logits: [..., vocabulary] the student's logits.
      temperature: T.
      kd_loss: 'kl' or 'soft_cross_entropy'.
    """
    teacher_log_probs = _scaled_log_probs(teacher_values, temperature)
    student_log_probs = ops.take_along_axis(
        _scaled_log_probs(student_logits, temperature), ops.cast(teacher_indices, "int32"),
        axis=-1)
    teacher_probs = ops.exp(teacher_log_probs)
    if kd_loss == "kl":
        return ops.square(temperature) * ops.sum(
            teacher_probs * (teacher_log_probs - student_log_probs), axis=-1)
    if kd_loss == "soft_cross_entropy":
        return -ops.sum(teacher_probs * student_log_probs, axis=-1) / ops.square(temperature)
    raise ValueError(f"Unknown kd_loss {kd_loss!r}; choose one of {KD_LOSSES}.")


def get_kd_loss(name: str):
    """Returns the per-example distillation loss function called `name`."""
    losses = {"kl": kl_distillation, "soft_cross_entropy": soft_cross_entropy_distillation}
    if name not in losses:
        raise ValueError(f"Unknown kd_loss {name!r}; choose one of {KD_LOSSES}.")
    return losses[name]


def sparse_cross_entropy(labels, logits):
    """Per-example cross-entropy of integer labels under `logits`, float32."""
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    labels = ops.cast(labels, "int32")
    return -ops.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]


def masked_mean(values, mask=None):
    """Mean of `values` over positions where `mask` is true (all if None)."""
    if mask is None:
        return ops.mean(values)
    mask = ops.cast(mask, values.dtype)
    return ops.sum(values * mask) / ops.maximum(ops.sum(mask), 1.0)
