import keras
import numpy as np
import pytest

from tf_kdbias.data.pipeline import make_dataset
from tf_kdbias.distill.distiller import Distiller
from tf_kdbias.errors import UserError
from tf_kdbias.models.mlp import build_mlp


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


@pytest.fixture
def tiny_data(mnist_test):
    return mnist_test.images[:256], mnist_test.labels[:256]


def tiny_mlp(seed, name):
    keras.utils.set_random_seed(seed)
    return build_mlp(hidden_units=(16,), name=name)


def weights_of(model):
    return [np.array(w) for w in model.get_weights()]


def test_only_the_student_trains(tiny_data):
    images, labels = tiny_data
    teacher, student = tiny_mlp(0, "teacher"), tiny_mlp(1, "student")
    teacher_before, student_before = weights_of(teacher), weights_of(student)
    distiller = Distiller(student=student, teacher=teacher, temperature=2.0, distill_rate=0.5)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2))
    distiller.fit(make_dataset(images, labels, batch_size=64), epochs=1, verbose=0)
    for before, after in zip(teacher_before, weights_of(teacher)):
        np.testing.assert_array_equal(before, after)  # Bit-identical, BN stats included.
    assert any(not np.array_equal(b, a) for b, a in zip(student_before, weights_of(student)))


@pytest.mark.parametrize("kd_loss", ["kl", "soft_cross_entropy"])
def test_loss_matches_hand_computation(tiny_data, kd_loss):
    images, labels = tiny_data
    images, labels = images[:64], labels[:64]
    teacher = tiny_mlp(0, "teacher")
    student = build_mlp(hidden_units=(16,), l1=0.0, l2=0.0, name="student")
    temperature, rate = 3.0, 0.7
    distiller = Distiller(student=student, teacher=teacher, temperature=temperature,
                          distill_rate=rate, kd_loss=kd_loss)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    t = np.asarray(teacher(images, training=False), dtype=np.float64)
    s = np.asarray(student(images, training=False), dtype=np.float64)
    pt = np.exp(log_softmax(t / temperature))
    if kd_loss == "kl":
        kd = temperature ** 2 * np.sum(pt * (log_softmax(t / temperature) - log_softmax(s / temperature)), -1)
    else:
        kd = -np.sum(pt * log_softmax(s / temperature), -1) / temperature ** 2
    ce = -log_softmax(s)[np.arange(64), labels]
    logs = distiller.evaluate(make_dataset(images, labels, batch_size=64), return_dict=True, verbose=0)
    assert logs["distillation_loss"] == pytest.approx(kd.mean(), rel=1e-4)
    assert logs["student_loss"] == pytest.approx(ce.mean(), rel=1e-4)
    assert logs["loss"] == pytest.approx(rate * kd.mean() + (1 - rate) * ce.mean(), rel=1e-4)


def test_cached_logits_give_the_same_step_as_a_live_teacher(tiny_data):
    images, labels = tiny_data
    teacher = tiny_mlp(0, "teacher")
    cached = np.asarray(teacher.predict(images, verbose=0))
    results = []
    for use_cache in (False, True):
        student = tiny_mlp(1, "student")
        distiller = Distiller(student=student, teacher=None if use_cache else teacher,
                              temperature=4.0)
        distiller.compile(optimizer=keras.optimizers.SGD(0.1))
        data = make_dataset(images, labels, cached if use_cache else None, batch_size=256)
        keras.utils.set_random_seed(7)  # Same dropout masks in both runs.
        distiller.fit(data, epochs=1, verbose=0)
        results.append(weights_of(student))
    for live, cache in zip(*results):
        np.testing.assert_allclose(live, cache, rtol=1e-5, atol=1e-6)


def test_shuffled_cache_keeps_each_example_with_its_logits(tiny_data):
    images, labels = tiny_data
    fake_logits = np.eye(10, dtype=np.float32)[labels] * 100  # Logits encode the label.
    dataset = make_dataset(images, labels, fake_logits, batch_size=32, shuffle=True, seed=3)
    for features, batch_labels in dataset:
        np.testing.assert_array_equal(np.argmax(features["teacher_logits"], -1), batch_labels)


def test_incompatible_teacher_is_rejected():
    teacher = build_mlp(hidden_units=(8,), num_classes=5)
    with pytest.raises(UserError, match="last dimensions"):
        Distiller(student=build_mlp(hidden_units=(8,)), teacher=teacher)


@pytest.mark.parametrize("kwargs,name", [(dict(temperature=0.0), "temperature"),
                                         (dict(temperature=-1.0), "temperature"),
                                         (dict(distill_rate=1.5), "distill_rate"),
                                         (dict(distill_rate=-0.1), "distill_rate")])
def test_out_of_range_hyperparameters_are_rejected(kwargs, name):
    with pytest.raises(UserError, match=name):
        Distiller(student=build_mlp(hidden_units=(8,)), **kwargs)


def kd_by_hand(teacher_logits, student_logits, temperature):
    t, s = np.asarray(teacher_logits, np.float64), np.asarray(student_logits, np.float64)
    log_p, log_q = log_softmax(t / temperature), log_softmax(s / temperature)
    return temperature ** 2 * np.mean(np.sum(np.exp(log_p) * (log_p - log_q), -1))


@pytest.mark.parametrize("teacher_training", [False, True])
def test_teacher_training_turns_the_teachers_dropout_on(tiny_data, teacher_training):
    """A frozen teacher with heavy dropout: in inference mode every step sees the
    same teacher logits (the KD equals a hand computation in inference mode);
    with teacher_training=True, dropout draws new masks at each step."""
    images, labels = tiny_data
    images, labels = images[:64], labels[:64]
    keras.utils.set_random_seed(0)
    teacher = build_mlp(hidden_units=(32,), dropout=0.5, name="teacher")
    student = build_mlp(hidden_units=(8,), dropout=0.0, l1=0.0, l2=0.0, name="student")
    distiller = Distiller(student=student, teacher=teacher, temperature=2.0, distill_rate=1.0,
                          teacher_training=teacher_training)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))  # Weights stay put.
    steps = [float(distiller.train_on_batch(images, labels, return_dict=True)["distillation_loss"])
             for _ in range(3)]
    inference = kd_by_hand(teacher(images, training=False), student(images, training=True), 2.0)
    if teacher_training:
        assert len(set(steps)) == 3  # A new dropout mask in the teacher at each step.
        assert all(abs(kd - inference) > 1e-4 for kd in steps)
    else:
        assert steps == pytest.approx([inference] * 3, rel=1e-5)
