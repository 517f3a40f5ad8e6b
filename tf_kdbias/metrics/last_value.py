"""A metric that reports the value it was last given."""

import keras
from keras import ops


class LastValue(keras.metrics.Metric):
    """Holds the latest value passed to `update_state` (0 after a reset).

    Logs a hyperparameter that follows a schedule (the distillation
    temperature, the distill rate) as its value at the current step, through
    the metrics machinery, which every backend's compiled step carries.

    Args:
      name: the log key.
      dtype: the value's dtype.

    Example:

    >>> metric = LastValue(name="temperature")
    >>> metric.update_state(5.0)
    >>> float(metric.result())
    5.0
    """

    def __init__(self, name: str = "last_value", dtype: str = "float32"):
        super().__init__(name=name, dtype=dtype)
        self.value = self.add_variable(shape=(), initializer="zeros", dtype=self.dtype,
                                       name="value")

    def update_state(self, value):
        self.value.assign(ops.cast(value, self.dtype))

    def result(self):
        return ops.convert_to_tensor(self.value)

    def reset_state(self):
        self.value.assign(ops.zeros((), dtype=self.dtype))
