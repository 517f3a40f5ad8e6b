"""Expected calibration error as a streaming Keras metric."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_kdbias")
class ExpectedCalibrationError(keras.metrics.Metric):
    """Expected calibration error (ECE) with equal-width confidence bins.

    ECE = sum_b (n_b / N) * |accuracy_b - confidence_b|, where the confidence
    of an example is its top predicted probability, bin `b` holds the examples
    whose confidence falls in [b/B, (b+1)/B) (the last bin includes 1.0) and
    accuracy_b is the fraction of them whose top class is the label. Counts
    accumulate across batches, so the result equals ECE over the whole set.

    Args:
      num_bins: number of equal-width bins over [0, 1].
      from_logits: whether `y_pred` holds logits (else probabilities).
      name: metric name.

    Example:

    >>> ece = ExpectedCalibrationError(num_bins=10)
    >>> ece.update_state([0, 1], [[2.0, 0.0], [2.0, 0.0]])
    >>> float(ece.result())  # both at confidence 0.88, one right
    0.3807970...
    """

    def __init__(self, num_bins: int = 15, from_logits: bool = True,
                 name: str = "ece", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_bins = int(num_bins)
        self.from_logits = from_logits
        # Per bin: number of examples, summed confidence, number correct.
        self.bin_counts = self.add_variable((self.num_bins,), "zeros", name="bin_counts")
        self.bin_confidence = self.add_variable((self.num_bins,), "zeros", name="bin_confidence")
        self.bin_correct = self.add_variable((self.num_bins,), "zeros", name="bin_correct")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
        probs = ops.softmax(y_pred, axis=-1) if self.from_logits else y_pred
        confidence = ops.max(probs, axis=-1)
        labels = ops.reshape(ops.cast(ops.convert_to_tensor(y_true), "int32"), (-1,))
        correct = ops.cast(ops.equal(ops.cast(ops.argmax(probs, axis=-1), "int32"), labels), "float32")
        weight = (ops.ones_like(confidence) if sample_weight is None
                  else ops.reshape(ops.cast(sample_weight, "float32"), (-1,)))
        bins = ops.minimum(ops.cast(ops.floor(confidence * self.num_bins), "int32"),
                           self.num_bins - 1)
        one_hot = ops.one_hot(bins, self.num_bins) * weight[:, None]
        self.bin_counts.assign_add(ops.sum(one_hot, axis=0))
        self.bin_confidence.assign_add(ops.sum(one_hot * confidence[:, None], axis=0))
        self.bin_correct.assign_add(ops.sum(one_hot * correct[:, None], axis=0))

    def result(self):
        total = ops.maximum(ops.sum(self.bin_counts), 1e-12)
        gap = ops.abs(self.bin_confidence - self.bin_correct)
        return ops.sum(gap) / total

    def reliability(self):
        """Per-bin (count, mean confidence, accuracy) as tensors, for plots."""
        safe = ops.maximum(self.bin_counts, 1e-12)
        return self.bin_counts, self.bin_confidence / safe, self.bin_correct / safe

    def reset_state(self):
        for variable in (self.bin_counts, self.bin_confidence, self.bin_correct):
            variable.assign(ops.zeros_like(variable))

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins,
                "from_logits": self.from_logits}
