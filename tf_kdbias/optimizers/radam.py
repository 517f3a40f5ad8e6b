"""RAdam (Liu et al. 2020) as a Keras 3 optimizer, in `keras.ops`."""

import keras
from keras import ops

# tensorflow-addons' RectifiedAdam switched the rectification on at rho_t >= 5
# (as Liu et al.'s own code does); the paper's Algorithm 2 writes rho_t > 4.
# The authors of the distillation paper trained with tensorflow-addons' default.
DEFAULT_RECTIFY_THRESHOLD = 5.0


@keras.saving.register_keras_serializable(package="tf_kdbias")
class RectifiedAdam(keras.optimizers.Optimizer):
    """Adam with the variance of its adaptive learning rate rectified (RAdam).

    Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and
    Beyond", Algorithm 2. With rho_inf = 2 / (1 - beta_2) - 1 and
    rho_t = rho_inf - 2 t beta_2^t / (1 - beta_2^t), step t updates

        m_t = beta_1 m + (1 - beta_1) g,    v_t = beta_2 v + (1 - beta_2) g^2,
        m_hat = m_t / (1 - beta_1^t)

    and then, while rho_t < `rectify_threshold` (the first few steps, where the
    adaptive rate's variance is intractable), an un-adapted momentum step
    `theta -= lr * m_hat`; afterwards

        r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        theta -= lr * r_t * m_hat / (sqrt(v_t / (1 - beta_2^t)) + epsilon).

    Works on every Keras backend (the math is `keras.ops`).

    Args:
      learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule`.
      beta_1: decay of the first-moment estimate.
      beta_2: decay of the second-moment estimate.
      epsilon: added to the bias-corrected root of the second moment.
      rectify_threshold: rho_t at and above which the adaptive step is used
        (5.0, tensorflow-addons' default, as in the paper's runs; 4 is the
        paper's Algorithm 2 bound).
      **kwargs: the base optimizer's arguments (clipnorm, weight_decay, ...).

    Example:

    >>> optimizer = RectifiedAdam(learning_rate=1e-4, epsilon=1e-8)
    >>> model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    """

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, rectify_threshold: float = DEFAULT_RECTIFY_THRESHOLD,
                 name: str = "rectified_adam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.rectify_threshold = rectify_threshold

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        beta_1_power, beta_2_power = ops.power(beta_1, step), ops.power(beta_2, step)

        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - beta_2))

        m_hat = m / (1 - beta_1_power)
        rho_inf = 2.0 / (1 - beta_2) - 1.0
        rho_t = rho_inf - 2.0 * step * beta_2_power / (1 - beta_2_power)
        adaptive = self._rectification(rho_t, rho_inf) * m_hat / (
            ops.sqrt(v / (1 - beta_2_power)) + self.epsilon)
        direction = ops.where(rho_t >= self.rectify_threshold, adaptive, m_hat)
        self.assign_sub(variable, lr * direction)

    @staticmethod
    def _rectification(rho_t, rho_inf):
        # Clamped at 0 so the unused branch of the `where` stays finite early on.
        ratio = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                 / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
        return ops.sqrt(ops.maximum(ratio, 0.0))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "rectify_threshold": self.rectify_threshold}
