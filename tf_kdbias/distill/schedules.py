"""Schedules for the distill rate r and the temperature T, by training step.

They are Keras `LearningRateSchedule`s (any scalar of the step will do), so
one mechanism serves learning rates, r and T, and all are gin-configurable.
"""

from typing import Sequence, Union

import gin
import keras
from keras import ops

ScheduleOrFloat = Union[float, keras.optimizers.schedules.LearningRateSchedule]


@keras.saving.register_keras_serializable(package="tf_kdbias")
class ConstantSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The same value at every step."""

    def __init__(self, value: float):
        self.value = float(value)

    def __call__(self, step):
        return ops.cast(self.value, "float32")

    def get_config(self):
        return {"value": self.value}


@gin.configurable
def make_schedule(kind: str = "constant", initial_value: float = 1.0,
                  final_value: float = 0.0, decay_steps: int = 1000,
                  decay_rate: float = 0.5, boundaries: Sequence[int] = (),
                  values: Sequence[float] = (), t_mul: float = 2.0,
                  m_mul: float = 1.0, alpha: float = 0.0) -> ScheduleOrFloat:
    """Builds a schedule of the training step.

    Args:
      kind: one of 'constant', 'exponential' (initial * decay_rate ** (step /
        decay_steps)), 'cosine_restarts' (SGDR, first period decay_steps,
        period multiplier t_mul, amplitude multiplier m_mul, floor alpha),
        'linear' (initial -> final over decay_steps, then final), 'step'
        (piecewise constant: `values[i]` up to `boundaries[i]`).
      initial_value, final_value, decay_steps, decay_rate, boundaries, values,
        t_mul, m_mul, alpha: parameters of the kinds above.
    """
    schedules = keras.optimizers.schedules
    if kind == "constant":
        return ConstantSchedule(initial_value)
    if kind == "exponential":
        return schedules.ExponentialDecay(initial_value, decay_steps, decay_rate)
    if kind == "cosine_restarts":
        return schedules.CosineDecayRestarts(initial_value, decay_steps, t_mul=t_mul,
                                             m_mul=m_mul, alpha=alpha)
    if kind == "linear":
        return schedules.PolynomialDecay(initial_value, decay_steps, final_value, power=1.0)
    if kind == "step":
        if len(values) != len(boundaries) + 1:
            raise ValueError("A step schedule needs one more value than boundaries; "
                             f"got boundaries={boundaries}, values={values}.")
        return schedules.PiecewiseConstantDecay(list(boundaries), list(values))
    raise ValueError(f"Unknown schedule kind {kind!r}; use constant, exponential, "
                     "cosine_restarts, linear or step.")


def value_at(schedule: ScheduleOrFloat, step):
    """The schedule's value at `step` as a float32 scalar tensor."""
    if callable(schedule):
        return ops.cast(schedule(step), "float32")
    return ops.cast(schedule, "float32")
