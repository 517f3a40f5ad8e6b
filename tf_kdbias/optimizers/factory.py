"""`make_optimizer`: the optimizer and learning-rate schedule of a run, from gin.

The paper's runs used two recipes (docs/PAPER_SETUP.md, "How the reported runs
were trained"): models trained alone with RAdam and an exponentially decaying
rate, students with Adam and one cosine over the run. Both are bindings here.
"""

from typing import Optional

import gin
import keras

from tf_kdbias.errors import UserError
from tf_kdbias.optimizers.radam import DEFAULT_RECTIFY_THRESHOLD, RectifiedAdam

SCHEDULES = ("constant", "cosine_restarts", "exponential")
OPTIMIZERS = {"adam": keras.optimizers.Adam, "radam": RectifiedAdam, "sgd": keras.optimizers.SGD}


@gin.configurable
def make_optimizer(steps_per_epoch: int, name: str = "adam", learning_rate: float = 1e-3,
                   schedule: str = "constant", first_decay_epochs: float = 10.0,
                   first_decay_steps: Optional[int] = None, t_mul: float = 2.0,
                   m_mul: float = 1.0, alpha: float = 0.0, decay_steps: int = 10000,
                   decay_rate: float = 0.96, epsilon: Optional[float] = None,
                   rectify_threshold: float = DEFAULT_RECTIFY_THRESHOLD
                   ) -> keras.optimizers.Optimizer:
    """An optimizer with a constant, cosine-restarts or exponential learning rate.

    Args:
      steps_per_epoch: filled in by the run.
      name: 'adam', 'radam' (RectifiedAdam) or 'sgd'.
      learning_rate: the (initial) learning rate.
      schedule: 'constant'; 'cosine_restarts' (SGDR: Keras' CosineDecayRestarts);
        or 'exponential' (lr * decay_rate ** (step / decay_steps), smooth).
      first_decay_epochs: cosine_restarts: length of the first period, in epochs.
      first_decay_steps: cosine_restarts: the same in steps; overrides
        `first_decay_epochs` when set (the paper's students: 200000).
      t_mul: cosine_restarts: each period is t_mul times longer than the last.
      m_mul: cosine_restarts: each restart starts at m_mul times the last peak.
      alpha: cosine_restarts: floor of the cosine, as a fraction of the rate.
      decay_steps: exponential: steps per factor of `decay_rate`.
      decay_rate: exponential: the factor.
      epsilon: the Adam/RAdam epsilon; None keeps Keras' default (1e-7).
      rectify_threshold: radam only: rho_t from which the adaptive step is used.
    """
    rate = _learning_rate(steps_per_epoch, learning_rate, schedule, first_decay_epochs,
                          first_decay_steps, t_mul, m_mul, alpha, decay_steps, decay_rate)
    if name not in OPTIMIZERS:
        raise UserError(f"Unknown optimizer make_optimizer.name={name!r}; use one of "
                        f"{sorted(OPTIMIZERS)}.")
    kwargs = {}
    if epsilon is not None:
        if name == "sgd":
            raise UserError("make_optimizer.epsilon is set but SGD has no epsilon; remove the "
                            "binding or use name='adam'/'radam'.")
        kwargs["epsilon"] = float(epsilon)
    if name == "radam":
        kwargs["rectify_threshold"] = float(rectify_threshold)
    return OPTIMIZERS[name](rate, **kwargs)


def _learning_rate(steps_per_epoch, learning_rate, schedule, first_decay_epochs,
                   first_decay_steps, t_mul, m_mul, alpha, decay_steps, decay_rate):
    """A float or a Keras LearningRateSchedule of the optimizer's step."""
    if schedule == "constant":
        return learning_rate
    if schedule == "cosine_restarts":
        steps = (int(first_decay_steps) if first_decay_steps is not None
                 else int(first_decay_epochs * steps_per_epoch))
        return keras.optimizers.schedules.CosineDecayRestarts(
            learning_rate, max(1, steps), t_mul=t_mul, m_mul=m_mul, alpha=alpha)
    if schedule == "exponential":
        if decay_steps <= 0 or not 0.0 < decay_rate <= 1.0:
            raise UserError(f"make_optimizer: exponential decay needs decay_steps > 0 and "
                            f"0 < decay_rate <= 1 (got {decay_steps}, {decay_rate}).")
        return keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=int(decay_steps), decay_rate=decay_rate, staircase=False)
    raise UserError(f"Unknown learning-rate schedule make_optimizer.schedule={schedule!r}; "
                    f"use one of {list(SCHEDULES)}.")
