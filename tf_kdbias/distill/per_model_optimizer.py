"""One optimizer object that updates two models, each with its own optimizer."""

from typing import Sequence

import keras
from keras.src.saving import serialization_lib
from keras.src.utils import tracking


class PerModelOptimizer(keras.optimizers.Optimizer):
    """Routes each variable's gradient to the optimizer of the model it belongs to.

    Online distillation trains teacher and student together. Their losses are
    summed into one objective; since the student's distillation term holds
    the teacher's logits fixed (stop-gradient), the gradient of that sum with
    respect to each model's variables is exactly the gradient of that model's
    own loss. What remains is to apply the two gradients with two optimizers
    (each with its own learning-rate schedule): this wrapper does that, so
    Keras' built-in train step serves online distillation on every backend,
    including the stateless JAX step, which only threads `model.optimizer`'s
    variables through its compiled function.

    `iterations` and `learning_rate` are the first optimizer's.

    Args:
      first_optimizer: updates every variable not listed in `second_variables`
        (the student's).
      second_optimizer: updates `second_variables` (the teacher's).
      second_variables: the variables that `second_optimizer` owns.
      name: optimizer name.

    Example:

    >>> optimizer = PerModelOptimizer(keras.optimizers.Adam(1e-4),
    ...                               keras.optimizers.Adam(1e-3),
    ...                               teacher.trainable_variables)
    """

    def __init__(self, first_optimizer: keras.optimizers.Optimizer,
                 second_optimizer: keras.optimizers.Optimizer,
                 second_variables: Sequence[keras.Variable], name: str = "per_model_optimizer"):
        super().__init__(learning_rate=0.0, name=name)
        self.first_optimizer = first_optimizer
        self.second_optimizer = second_optimizer
        # Keras variables are matched by identity, as Keras' own optimizers do.
        self._second_ids = {id(v) for v in second_variables}

    def _split(self, values, variables):
        """(first's (values, variables), second's (values, variables))."""
        first, second = ([], []), ([], [])
        for value, variable in zip(values, variables):
            part = second if id(variable) in self._second_ids else first
            part[0].append(value)
            part[1].append(variable)
        return first, second

    @tracking.no_automatic_dependency_tracking
    def build(self, var_list):
        (_, first_vars), (_, second_vars) = self._split(var_list, var_list)
        self.first_optimizer.build(first_vars)
        self.second_optimizer.build(second_vars)
        super().build(var_list)

    @property
    def variables(self):
        return self._variables + self.first_optimizer.variables + self.second_optimizer.variables

    def apply(self, grads, trainable_variables=None):
        if not self.built:
            with keras.name_scope(self.name, caller=self):
                self.build(list(trainable_variables))
            self.built = True
        variables = (self._trainable_variables if trainable_variables is None
                     else list(trainable_variables))
        for optimizer, (part_grads, part_vars) in zip(
                (self.first_optimizer, self.second_optimizer), self._split(grads, variables)):
            if part_vars:
                optimizer.apply(part_grads, part_vars)

    @property
    def iterations(self):
        return self.first_optimizer.iterations

    @property
    def learning_rate(self):
        return self.first_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.first_optimizer.learning_rate = learning_rate

    def finalize_variable_values(self, var_list):
        (_, first_vars), (_, second_vars) = self._split(var_list, var_list)
        self.first_optimizer.finalize_variable_values(first_vars)
        self.second_optimizer.finalize_variable_values(second_vars)

    def get_config(self):
        # Only for inspection: the variable split cannot be serialised, so a
        # Distiller rebuilds this wrapper rather than deserialising it.
        return {"name": self.name,
                "first_optimizer": serialization_lib.serialize_keras_object(self.first_optimizer),
                "second_optimizer": serialization_lib.serialize_keras_object(self.second_optimizer)}
