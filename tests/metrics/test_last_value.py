import keras
import numpy as np

from tf_kdbias.metrics.last_value import LastValue


def test_reports_the_latest_value_and_resets_to_zero():
    metric = LastValue(name="temperature")
    for value in (5.0, 2.0, 3.5):
        metric.update_state(value)
    assert float(metric.result()) == 3.5
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_logs_the_value_of_each_step_inside_fit():
    """In a compiled train step, the batch logs carry that step's value."""

    class StepModel(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)
            self.step_value = LastValue(name="step_value")
            self.counter = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                           name="counter")

        def call(self, x):
            return self.dense(x)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            self.counter.assign_add(1.0)
            self.step_value.update_state(self.counter * 10.0)
            return keras.ops.mean((y_pred - y) ** 2)

    seen = []
    model = StepModel()
    model.compile(optimizer="sgd")
    model.fit(np.ones((12, 2), "float32"), np.ones((12, 1), "float32"), batch_size=4, verbose=0,
              callbacks=[keras.callbacks.LambdaCallback(
                  on_train_batch_end=lambda b, logs: seen.append(float(logs["step_value"])))])
    assert seen == [10.0, 20.0, 30.0]
