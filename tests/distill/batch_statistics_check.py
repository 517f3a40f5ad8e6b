"""The teacher's BatchNorm on batch statistics (Distiller.teacher_batch_statistics), checked
on this process's Keras backend against numpy.

  KERAS_BACKEND=jax python tests/distill/batch_statistics_check.py

tests/distill/test_teacher_batch_statistics.py runs `check()` in-process
(TensorFlow) and this file as a script on JAX. Raises AssertionError on a
mismatch; prints 'ok' when run as a script.
"""

import numpy as np

BATCH, FEATURES, HIDDEN, CLASSES = 16, 6, 5, 3


def build_pair():
    """A teacher Dense -> BatchNorm -> ReLU -> Dense with non-trivial moving statistics,
    and a student of the same input and classes."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((FEATURES,))
    hidden = keras.layers.Dense(HIDDEN, name="d1")(inputs)
    hidden = keras.layers.BatchNormalization(name="bn", epsilon=1e-3)(hidden)
    teacher = keras.Model(inputs, keras.layers.Dense(CLASSES, name="logits")(
        keras.layers.ReLU()(hidden)), name="teacher")
    bn = teacher.get_layer("bn")
    bn.gamma.assign(np.linspace(0.5, 1.5, HIDDEN).astype("float32"))
    bn.beta.assign(np.linspace(-0.2, 0.3, HIDDEN).astype("float32"))
    bn.moving_mean.assign(np.full(HIDDEN, 2.0, "float32"))
    bn.moving_variance.assign(np.full(HIDDEN, 9.0, "float32"))
    student_in = keras.Input((FEATURES,))
    student = keras.Model(student_in, keras.layers.Dense(CLASSES)(student_in), name="student")
    return teacher, student


def numpy_teacher(teacher, x):
    """The teacher's logits with its BatchNorm on the batch's mean and (biased) variance."""
    w1, b1 = (np.asarray(v) for v in teacher.get_layer("d1").weights)
    gamma, beta = (np.asarray(teacher.get_layer("bn").gamma),
                   np.asarray(teacher.get_layer("bn").beta))
    w2, b2 = (np.asarray(v) for v in teacher.get_layer("logits").weights)
    h = x.astype(np.float64) @ w1 + b1
    h = (h - h.mean(0)) / np.sqrt(h.var(0) + 1e-3) * gamma + beta
    return np.maximum(h, 0.0) @ w2 + b2


def check() -> None:
    import keras

    from tf_kdbias.distill.distiller import Distiller

    teacher, student = build_pair()
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(BATCH, FEATURES)) * 3 + 1).astype("float32")
    y = rng.integers(0, CLASSES, size=BATCH)
    distiller = Distiller(student=student, teacher=teacher, teacher_training=True,
                          teacher_batch_statistics=True, temperature=2.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    got = keras.ops.convert_to_numpy(distiller._teacher_logits(x, None, None, training=True))
    np.testing.assert_allclose(got, numpy_teacher(teacher, x), rtol=1e-4, atol=1e-4)
    moving = keras.ops.convert_to_numpy(teacher(x, training=True))  # Frozen: moving stats.
    assert np.abs(moving - got).max() > 1e-2, "batch and moving statistics should differ here"
    before = [np.array(v) for v in teacher.weights]
    student_before = [np.array(v) for v in student.weights]
    distiller.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    for variable, value in zip(teacher.weights, before):  # Kernels, gamma, beta, moving stats.
        np.testing.assert_array_equal(np.array(variable), value, err_msg=variable.path)
    assert any(not np.array_equal(np.array(v), b) for v, b in zip(student.weights, student_before))


if __name__ == "__main__":
    check()
    print("ok")
