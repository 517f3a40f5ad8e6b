"""RectifiedAdam steps on this process's Keras backend, and a numpy reference.

  KERAS_BACKEND=jax python tests/optimizers/radam_steps.py <threshold> <out.npy>

Both follow the same trajectory: a float64 parameter vector whose gradient
is a function of its current value (a quadratic pull plus a fixed per-step
perturbation), so an error at one step changes every later one.
"""

import sys

import numpy as np

STEPS = 30
SIZE = 7
LEARNING_RATE, DECAY_STEPS, DECAY_RATE = 0.05, 10, 0.5
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-8


def initial_parameters() -> np.ndarray:
    return np.random.default_rng(0).normal(size=SIZE)


def gradient(theta: np.ndarray, step: int) -> np.ndarray:
    """d/dtheta of sum(scale * (theta - 1)^2), plus a step-dependent push."""
    scale = np.linspace(0.1, 3.0, SIZE)
    push = np.random.default_rng(100 + step).normal(size=SIZE)
    return 2.0 * scale * (theta - 1.0) + push


def learning_rate(step: int) -> float:
    """The exponential decay the suite's 'exponential' schedule applies (smooth)."""
    return LEARNING_RATE * DECAY_RATE ** (step / DECAY_STEPS)


def reference_trajectory(threshold: float) -> np.ndarray:
    """Liu et al. (2020), Algorithm 2, written out in numpy."""
    theta = initial_parameters()
    m = np.zeros(SIZE)
    v = np.zeros(SIZE)
    rho_inf = 2.0 / (1.0 - BETA_2) - 1.0
    trajectory = []
    for t in range(1, STEPS + 1):
        g = gradient(theta, t - 1)
        m = BETA_1 * m + (1.0 - BETA_1) * g
        v = BETA_2 * v + (1.0 - BETA_2) * g * g
        m_hat = m / (1.0 - BETA_1 ** t)
        rho_t = rho_inf - 2.0 * t * BETA_2 ** t / (1.0 - BETA_2 ** t)
        lr = learning_rate(t - 1)  # The schedule sees the step count before the update.
        if rho_t >= threshold:
            r_t = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                          / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            v_hat = np.sqrt(v / (1.0 - BETA_2 ** t))
            theta = theta - lr * r_t * m_hat / (v_hat + EPSILON)
        else:
            theta = theta - lr * m_hat
        trajectory.append(theta.copy())
    return np.stack(trajectory)


def rho(t: int) -> float:
    rho_inf = 2.0 / (1.0 - BETA_2) - 1.0
    return rho_inf - 2.0 * t * BETA_2 ** t / (1.0 - BETA_2 ** t)


def keras_trajectory(threshold: float) -> np.ndarray:
    """The same steps through tf_kdbias' RectifiedAdam on the current backend."""
    import keras

    from tf_kdbias.optimizers.radam import RectifiedAdam

    schedule = keras.optimizers.schedules.ExponentialDecay(
        LEARNING_RATE, DECAY_STEPS, DECAY_RATE, staircase=False)
    optimizer = RectifiedAdam(schedule, beta_1=BETA_1, beta_2=BETA_2, epsilon=EPSILON,
                              rectify_threshold=threshold)
    theta = keras.Variable(initial_parameters(), dtype="float64")
    trajectory = []
    for step in range(STEPS):
        g = gradient(np.asarray(theta.value, dtype=np.float64), step)
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(g, dtype="float64"), theta)])
        trajectory.append(np.asarray(theta.value, dtype=np.float64))
    return np.stack(trajectory)


if __name__ == "__main__":
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 variables, as on TensorFlow.
    np.save(sys.argv[2], keras_trajectory(float(sys.argv[1])))
