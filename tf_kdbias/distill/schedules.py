"""Schedules for the distill rate r and the temperature T, by training step.

They are Keras `LearningRateSchedule`s (any scalar of the step will do), so
one mechanism serves learning rates, r and T, and all are gin-configurable.
"""

import dataclasses
import math
from typing import Optional, Sequence, Union

import gin
import keras
from keras import ops

from tf_kdbias.errors import UserError

ScheduleOrFloat = Union[float, keras.optimizers.schedules.LearningRateSchedule]


class ScheduleError(UserError, ValueError):
    """A schedule that cannot be built or would leave its quantity's range: a
    bad argument (ValueError) that the scripts report as a user error (exit 2)."""


@dataclasses.dataclass(frozen=True)
class ValueRange:
    """The values a schedule takes over all steps >= 0.

    Args:
      low, high: the infimum and supremum (may be +-inf).
      low_reached, high_reached: whether some step attains the bound (an
        exponential decay approaches 0 but never reaches it).
    """

    low: float
    high: float
    low_reached: bool = True
    high_reached: bool = True

    def describe(self) -> str:
        left = "[" if self.low_reached else "("
        right = "]" if self.high_reached else ")"
        return f"{left}{self.low:g}, {self.high:g}{right}"


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
    _check_parameters(kind, decay_steps, decay_rate, boundaries, values, t_mul, m_mul, alpha,
                      (initial_value, final_value))
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
        return schedules.PiecewiseConstantDecay(list(boundaries), list(values))
    raise ScheduleError(f"Unknown schedule kind make_schedule.kind={kind!r}; use constant, "
                        "exponential, cosine_restarts, linear or step.")


def _check_parameters(kind, decay_steps, decay_rate, boundaries, values, t_mul, m_mul, alpha,
                      endpoints) -> None:
    """Raises ScheduleError for parameters that give no usable schedule of `kind`."""
    def require(ok: bool, message: str) -> None:
        if not ok:
            raise ScheduleError(f"make_schedule(kind={kind!r}): {message}")

    numbers = list(endpoints) + ([float(v) for v in values] if kind == "step" else [])
    require(all(math.isfinite(float(v)) for v in numbers),
            f"values must be finite numbers; got {numbers}.")
    if kind in ("exponential", "cosine_restarts", "linear"):
        require(int(decay_steps) >= 1, f"decay_steps={decay_steps}: use a whole number >= 1.")
    if kind == "exponential":
        require(decay_rate > 0, f"decay_rate={decay_rate}: use a factor > 0 (below 1 decays).")
    if kind == "cosine_restarts":
        require(t_mul > 0 and m_mul > 0, f"t_mul={t_mul}, m_mul={m_mul}: both must be > 0.")
        require(0.0 <= alpha <= 1.0, f"alpha={alpha}: the floor is a fraction in [0, 1].")
    if kind == "step":
        require(len(values) == len(boundaries) + 1,
                "A step schedule needs one more value than boundaries; "
                f"got boundaries={boundaries}, values={values}.")
        require(all(b < c for b, c in zip(boundaries, list(boundaries)[1:])),
                f"boundaries={boundaries} must increase.")


def _scaled(initial: float, low: float, high: float, low_reached: bool,
            high_reached: bool) -> ValueRange:
    """The range of initial * f for factors f between low and high (>= 0)."""
    if initial == 0:
        return ValueRange(0.0, 0.0)
    if initial > 0:
        return ValueRange(initial * low, initial * high, low_reached, high_reached)
    return ValueRange(initial * high, initial * low, high_reached, low_reached)


def value_range(schedule: ScheduleOrFloat) -> Optional[ValueRange]:
    """The values `schedule` takes over all steps >= 0, or None if unknown.

    Known: floats and the schedules `make_schedule` builds (from their
    configs, in closed form). Other callables return None: they cannot be
    checked before training.
    """
    schedules = keras.optimizers.schedules
    if not callable(schedule):
        return ValueRange(float(schedule), float(schedule))
    config = schedule.get_config()
    if isinstance(schedule, ConstantSchedule):
        return ValueRange(schedule.value, schedule.value)
    if isinstance(schedule, schedules.PiecewiseConstantDecay):
        return ValueRange(min(config["values"]), max(config["values"]))
    if isinstance(schedule, schedules.PolynomialDecay):
        ends = (config["initial_learning_rate"], config["end_learning_rate"])
        return ValueRange(min(ends), max(ends))  # Both ends are reached.
    if isinstance(schedule, schedules.ExponentialDecay):
        initial, rate = config["initial_learning_rate"], config["decay_rate"]
        if rate == 1:
            return ValueRange(initial, initial)
        # Factors rate ** (step / decay_steps): in (0, 1] when decaying, [1, inf) else.
        return (_scaled(initial, 0.0, 1.0, False, True) if rate < 1
                else _scaled(initial, 1.0, math.inf, True, False))
    if isinstance(schedule, schedules.CosineDecayRestarts):
        initial, alpha, m_mul = (config["initial_learning_rate"], config["alpha"],
                                 config["m_mul"])
        # In period i the factor is m_mul**i * c, where c = alpha + (1 - alpha) *
        # (a cosine part in (0, 1]) lies in (alpha, 1]: the floor is approached,
        # never reached (unless alpha = 1, a constant c).
        floor_reached = alpha == 1
        if m_mul < 1:  # Peaks shrink towards 0.
            return _scaled(initial, 0.0, 1.0, False, True)
        if m_mul > 1:  # Peaks grow without bound.
            return _scaled(initial, alpha, math.inf, floor_reached, False)
        return _scaled(initial, alpha, 1.0, floor_reached, True)
    return None


def value_at(schedule: ScheduleOrFloat, step):
    """The schedule's value at `step` as a float32 scalar tensor."""
    if callable(schedule):
        return ops.cast(schedule(step), "float32")
    return ops.cast(schedule, "float32")
