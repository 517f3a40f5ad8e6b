import math

import keras
import numpy as np
import pytest

from tf_kdbias.data.pipeline import make_dataset
from tf_kdbias.distill.distiller import Distiller
from tf_kdbias.distill.schedules import ScheduleError, make_schedule, value_at, value_range
from tf_kdbias.errors import UserError
from tf_kdbias.training import resume
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


def sgd_step(model, loss_fn, learning_rate):
    """The trainable weights after one plain SGD step on `loss_fn()`, by GradientTape."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = loss_fn()
    grads = tape.gradient(loss, model.trainable_variables)
    return [np.asarray(v) - learning_rate * np.asarray(g)
            for v, g in zip(model.trainable_variables, grads)]


def hand_kl(teacher_logits, student_logits, temperature):
    """T^2 * KL(softmax(t/T) || softmax(s/T)), batch mean, written out in TF ops."""
    import tensorflow as tf

    log_p = tf.nn.log_softmax(teacher_logits / temperature)
    log_q = tf.nn.log_softmax(student_logits / temperature)
    return temperature ** 2 * tf.reduce_mean(tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), -1))


def test_online_teacher_steps_on_its_own_cross_entropy_alone(mnist_test):
    """Online mode: the teacher's update is an SGD step on its own gold CE (plus
    its regulariser) and nothing else, the student's a step on KD against the
    teacher's logits held fixed: the KD term is stop-gradient on the teacher side."""
    import tensorflow as tf

    images, labels = mnist_test.images[:64], mnist_test.labels[:64]
    temperature, teacher_lr, student_lr = 2.0, 0.3, 0.5

    def pair():
        keras.utils.set_random_seed(0)
        return (build_mlp(hidden_units=(8,), dropout=0.0, l1=1e-3, l2=1e-3, name="t"),
                build_mlp(hidden_units=(8,), dropout=0.0, l1=1e-3, l2=1e-3, name="s"))

    # The reference: each model stepped on its own loss, by hand.
    ref_teacher, ref_student = pair()
    teacher_logits = tf.stop_gradient(ref_teacher(images, training=True))
    expected_student = sgd_step(ref_student, lambda: hand_kl(
        teacher_logits, ref_student(images, training=True), temperature)
        + tf.add_n(ref_student.losses), student_lr)
    expected_teacher = sgd_step(ref_teacher, lambda: tf.reduce_mean(
        tf.keras.losses.sparse_categorical_crossentropy(
            labels, ref_teacher(images, training=True), from_logits=True))
        + tf.add_n(ref_teacher.losses), teacher_lr)

    teacher, student = pair()
    distiller = Distiller(student=student, teacher=teacher, online=True, temperature=temperature,
                          distill_rate=1.0, teacher_optimizer=keras.optimizers.SGD(teacher_lr))
    distiller.compile(optimizer=keras.optimizers.SGD(student_lr))
    distiller.train_on_batch(images, labels)
    for got, want in zip(teacher.trainable_variables, expected_teacher):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-6)
    for got, want in zip(student.trainable_variables, expected_student):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-6)
    # The teacher did move (a zero learning rate would pass the checks above too).
    moved = [np.abs(np.asarray(a) - np.asarray(b)).max()
             for a, b in zip(teacher.trainable_variables, pair()[0].trainable_variables)]
    assert max(moved) > 1e-3


RANGE_CASES = [
    dict(kind="constant", initial_value=0.3),
    dict(kind="linear", initial_value=4.0, final_value=1.0, decay_steps=50),
    dict(kind="linear", initial_value=-1.0, final_value=2.0, decay_steps=50),
    dict(kind="step", boundaries=(5, 10), values=(1.0, 3.0, 0.5)),
    dict(kind="exponential", initial_value=2.0, decay_steps=20, decay_rate=0.5),
    dict(kind="exponential", initial_value=0.5, decay_steps=20, decay_rate=1.5),
    dict(kind="exponential", initial_value=-2.0, decay_steps=20, decay_rate=0.5),
    dict(kind="cosine_restarts", initial_value=1.0, decay_steps=8, alpha=0.2),
    dict(kind="cosine_restarts", initial_value=1.0, decay_steps=8, m_mul=0.5),
    dict(kind="cosine_restarts", initial_value=1.0, decay_steps=8, m_mul=1.5, alpha=0.1),
]


@pytest.mark.parametrize("kwargs", RANGE_CASES, ids=lambda k: k["kind"])
def test_value_range_bounds_every_step_and_is_tight(kwargs):
    """Brute force over 400 steps: every value lies in the claimed range; a bound
    said to be reached is reached; an infinite one is approached."""
    schedule = make_schedule(**kwargs)
    seen = np.array(values(schedule, range(400)))
    claimed = value_range(schedule)
    assert claimed.low - 1e-6 <= seen.min() and seen.max() <= claimed.high + 1e-6
    for bound, reached, extreme in ((claimed.low, claimed.low_reached, seen.min()),
                                    (claimed.high, claimed.high_reached, seen.max())):
        if reached:
            assert extreme == pytest.approx(bound, rel=1e-5, abs=1e-6)
        elif math.isinf(bound):
            assert abs(extreme) > 5 * abs(kwargs["initial_value"])  # Grows without bound.
        else:
            assert not np.any(seen == bound)
            assert abs(extreme - bound) < 0.05 * abs(kwargs["initial_value"])


def distiller_with(**kwargs):
    return Distiller(student=build_mlp(hidden_units=(8,)), **kwargs)


@pytest.mark.parametrize("name,kwargs", [
    ("temperature", dict(kind="linear", initial_value=4.0, final_value=0.0, decay_steps=100)),
    ("temperature", dict(kind="step", boundaries=(10,), values=(2.0, -1.0))),
    ("distill_rate", dict(kind="linear", initial_value=0.5, final_value=1.2, decay_steps=100)),
    ("distill_rate", dict(kind="exponential", initial_value=0.5, decay_rate=2.0)),
    ("distill_rate", dict(kind="cosine_restarts", initial_value=0.9, m_mul=1.5)),
])
def test_schedules_leaving_their_range_are_refused_at_the_start(name, kwargs):
    with pytest.raises(UserError, match=f"Distiller.{name}.*every step"):
        distiller_with(**{name: make_schedule(**kwargs)})


def test_schedules_inside_their_range_are_accepted():
    # An exponential decay approaches 0 but never reaches it: T stays > 0.
    distiller_with(temperature=make_schedule("exponential", initial_value=4.0, decay_rate=0.5),
                   distill_rate=make_schedule("linear", initial_value=1.0, final_value=0.0))
    distiller_with(temperature=make_schedule("cosine_restarts", initial_value=4.0),
                   distill_rate=make_schedule("step", boundaries=(3,), values=(1.0, 0.0)))


@pytest.mark.parametrize("kwargs,words", [
    (dict(kind="linear", decay_steps=0), "decay_steps"),
    (dict(kind="exponential", decay_rate=0.0), "decay_rate"),
    (dict(kind="cosine_restarts", alpha=1.5), "alpha"),
    (dict(kind="step", boundaries=(5, 3), values=(1.0, 2.0, 3.0)), "increase"),
    (dict(kind="constant", initial_value=float("nan")), "finite"),
])
def test_bad_schedule_parameters_are_user_errors(kwargs, words):
    with pytest.raises(ScheduleError, match=words):
        make_schedule(**kwargs)
    assert issubclass(ScheduleError, UserError)  # Scripts exit 2 with the message.


class ScheduleLog(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rows = []

    def on_train_batch_end(self, batch, logs=None):
        self.rows.append((float(logs["temperature"]), float(logs["distill_rate"])))


def scheduled_distiller():
    keras.utils.set_random_seed(0)
    return Distiller(student=build_mlp(hidden_units=(8,), name="s"),
                     teacher=build_mlp(hidden_units=(8,), name="t"),
                     temperature=make_schedule("linear", initial_value=8.0, final_value=2.0,
                                               decay_steps=6),
                     distill_rate=make_schedule("step", boundaries=(4,), values=(1.0, 0.25)))


def test_a_scheduled_temperature_and_rate_survive_a_resume(mnist_test, tmp_path):
    """Epoch 2 after restoring epoch 1's backup continues the schedules at
    step 4 (4 steps per epoch), as an uninterrupted run does, not at step 0."""
    images, labels = mnist_test.images[:256], mnist_test.labels[:256]
    data = make_dataset(images, labels, batch_size=64)
    backup_dir = str(tmp_path / "backup")

    first = scheduled_distiller()
    first.compile(optimizer=keras.optimizers.SGD(0.01))
    first.fit(data, epochs=1, verbose=0, callbacks=[resume.EpochBackup(backup_dir, "k")])

    resumed = scheduled_distiller()
    resumed.compile(optimizer=keras.optimizers.SGD(0.01))
    resume.restore(resumed, resume.latest_backup(backup_dir, "k"))
    log = ScheduleLog()
    resumed.fit(data, epochs=2, initial_epoch=1, verbose=0, callbacks=[log])

    # The schedules' values at steps 4..7, from their closed forms.
    expected = [(max(2.0, 8.0 - 6.0 * step / 6), 1.0 if step <= 4 else 0.25)
                for step in range(4, 8)]
    np.testing.assert_allclose(log.rows, expected, rtol=1e-6)
