import math

import keras
import numpy as np
import pytest

from tf_kdbias.data.pipeline import make_dataset
from tf_kdbias.distill.distiller import Distiller
from tf_kdbias.distill.schedules import make_schedule, value_at
from tf_kdbias.models.mlp import build_mlp


def values(schedule, steps):
    return [float(value_at(schedule, step)) for step in steps]


def test_schedules_follow_their_closed_forms():
    steps = range(0, 25)
    np.testing.assert_allclose(values(make_schedule("constant", initial_value=0.3), steps), 0.3)
    np.testing.assert_allclose(
        values(make_schedule("exponential", initial_value=2.0, decay_steps=10, decay_rate=0.5), steps),
        [2.0 * 0.5 ** (s / 10) for s in steps], rtol=1e-6)
    np.testing.assert_allclose(
        values(make_schedule("linear", initial_value=1.0, final_value=0.2, decay_steps=8), steps),
        [1.0 - 0.8 * min(s, 8) / 8 for s in steps], rtol=1e-6)
    np.testing.assert_allclose(
        values(make_schedule("step", boundaries=(5, 10), values=(1.0, 0.5, 0.1)), steps),
        [1.0 if s <= 5 else 0.5 if s <= 10 else 0.1 for s in steps], rtol=1e-6)
    # SGDR with t_mul=2: periods of 4 then 8 steps, restarting at 4 and 12.
    def sgdr(s):
        start, period = 0, 4
        while s >= start + period:
            start, period = start + period, period * 2
        return 0.5 * (1 + math.cos(math.pi * (s - start) / period))
    np.testing.assert_allclose(
        values(make_schedule("cosine_restarts", initial_value=1.0, decay_steps=4), steps),
        [sgdr(s) for s in steps], atol=1e-6)


def test_unknown_schedule_and_bad_step_schedule_are_rejected():
    with pytest.raises(ValueError, match="zigzag"):
        make_schedule("zigzag")
    with pytest.raises(ValueError, match="one more value"):
        make_schedule("step", boundaries=(1, 2), values=(1.0,))


class RecordBatchLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rows = []

    def on_train_batch_end(self, batch, logs=None):
        self.rows.append((float(logs["distill_rate"]), float(logs["temperature"])))


def test_distiller_follows_rate_and_temperature_schedules_step_by_step(mnist_test):
    images, labels = mnist_test.images[:320], mnist_test.labels[:320]
    rate = make_schedule("linear", initial_value=1.0, final_value=0.0, decay_steps=4)
    temperature = make_schedule("step", boundaries=(1,), values=(8.0, 2.0))
    keras.utils.set_random_seed(0)
    distiller = Distiller(student=build_mlp(hidden_units=(8,)), teacher=build_mlp(hidden_units=(8,)),
                          temperature=temperature, distill_rate=rate)
    distiller.compile(optimizer=keras.optimizers.SGD(0.01))
    recorder = RecordBatchLogs()
    distiller.fit(make_dataset(images, labels, batch_size=64), epochs=1, verbose=0,
                  callbacks=[recorder])
    # The value used at optimizer step s (0-based) is schedule(s).
    assert [r for r, _ in recorder.rows] == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])
    assert [t for _, t in recorder.rows] == pytest.approx([8.0, 8.0, 2.0, 2.0, 2.0])


def test_online_distillation_trains_the_teacher_too(mnist_test):
    images, labels = mnist_test.images[:256], mnist_test.labels[:256]
    keras.utils.set_random_seed(0)
    teacher, student = build_mlp(hidden_units=(8,), name="t"), build_mlp(hidden_units=(8,), name="s")
    before = [np.array(w) for w in teacher.trainable_weights]
    distiller = Distiller(student=student, teacher=teacher, online=True,
                          teacher_optimizer=keras.optimizers.Adam(1e-2))
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = distiller.fit(make_dataset(images, labels, batch_size=64), epochs=2, verbose=0)
    assert all(not np.array_equal(b, np.array(a)) for b, a in zip(before, teacher.trainable_weights))
    losses = history.history["teacher_loss"]
    assert len(losses) == 2 and losses[1] < losses[0]  # The teacher learns from gold labels.


def test_online_teacher_gets_no_gradient_from_the_student_loss(mnist_test):
    """With a zero teacher learning rate, online mode must leave the teacher alone:
    the KD term is stop-gradient on the teacher side."""
    images, labels = mnist_test.images[:128], mnist_test.labels[:128]
    keras.utils.set_random_seed(0)
    teacher = build_mlp(hidden_units=(8,), dropout=0.0, name="t")
    kernel_before = np.array(teacher.get_layer("logits").kernel)
    distiller = Distiller(student=build_mlp(hidden_units=(8,), name="s"), teacher=teacher,
                          online=True, teacher_optimizer=keras.optimizers.SGD(0.0))
    distiller.compile(optimizer=keras.optimizers.SGD(0.5))
    distiller.fit(make_dataset(images, labels, batch_size=64), epochs=1, verbose=0)
    np.testing.assert_array_equal(kernel_before, np.array(teacher.get_layer("logits").kernel))
