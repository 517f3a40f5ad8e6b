import keras
import numpy as np

from tf_kdbias.distill.per_model_optimizer import PerModelOptimizer


def test_each_variable_is_updated_by_its_own_optimizer():
    first = [keras.Variable(np.ones(3, "float32"), name="a"),
             keras.Variable(np.ones(2, "float32"), name="b")]
    second = [keras.Variable(np.ones(4, "float32"), name="c")]
    optimizer = PerModelOptimizer(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.1), second)
    variables = [first[0], second[0], first[1]]  # Interleaved, as a model may list them.
    grads = [np.full(3, 2.0, "float32"), np.full(4, 2.0, "float32"), np.full(2, 4.0, "float32")]
    optimizer.apply(grads, variables)
    # Plain SGD: w - lr * g, by hand.
    np.testing.assert_allclose(np.array(first[0]), 1 - 0.5 * 2.0)
    np.testing.assert_allclose(np.array(first[1]), 1 - 0.5 * 4.0)
    np.testing.assert_allclose(np.array(second[0]), 1 - 0.1 * 2.0)
    assert int(optimizer.iterations) == 1
    assert int(optimizer.second_optimizer.iterations) == 1
    # Both optimizers' state is the wrapper's (saved with a backup, threaded by JAX).
    assert set(map(id, optimizer.first_optimizer.variables)) <= set(map(id, optimizer.variables))
    assert set(map(id, optimizer.second_optimizer.variables)) <= set(map(id, optimizer.variables))


def test_adam_slots_follow_their_own_variables():
    """Each Adam keeps moments for its own variables only: a student step with
    a teacher gradient of zero leaves the teacher where it was."""
    student = [keras.Variable(np.zeros(2, "float32"))]
    teacher = [keras.Variable(np.zeros(2, "float32"))]
    optimizer = PerModelOptimizer(keras.optimizers.Adam(0.1), keras.optimizers.Adam(0.1), teacher)
    optimizer.build(student + teacher)
    assert len(optimizer.first_optimizer.variables) == len(optimizer.second_optimizer.variables)
    for _ in range(3):
        optimizer.apply([np.ones(2, "float32"), np.zeros(2, "float32")], student + teacher)
    np.testing.assert_allclose(np.array(teacher[0]), 0.0)
    # Adam's first steps move by ~lr each: three steps of 0.1 against the gradient.
    np.testing.assert_allclose(np.array(student[0]), -0.3, rtol=1e-3)
