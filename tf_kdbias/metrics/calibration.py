"""Expected calibration error as a streaming Keras metric.

Two estimators are reported: `ece` (15 equal-width bins, a low-variance
estimate for users and plots) and `ece_paper` (1,000,000 bins, what the
paper's tables used: tensorflow-probability's expected_calibration_error with
that many bins, where nearly every example sits alone in its bin and the
estimate approaches the mean |confidence - correct|). Compare a paper ECE only
with `ece_paper`.
"""

# The paper's ECE (docs/PAPER_SETUP.md, "ECE").
PAPER_NUM_BINS = 1_000_000

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
    Bin indices are computed in float32 from the float32 confidence, as
    tensorflow-probability's estimator does.

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
        bins = ops.clip(ops.cast(ops.floor(confidence * self.num_bins), "int32"),
                        0, self.num_bins - 1)
        # Sums per bin by segment ids: no [examples, bins] one-hot, so a
        # million bins (the paper's estimator) cost what 15 do.
        for variable, values in ((self.bin_counts, weight),
                                 (self.bin_confidence, weight * confidence),
                                 (self.bin_correct, weight * correct)):
            variable.assign_add(ops.segment_sum(values, bins, num_segments=self.num_bins))

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
