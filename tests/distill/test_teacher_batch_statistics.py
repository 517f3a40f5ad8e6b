"""Distiller.teacher_batch_statistics: the frozen teacher's BatchNorm normalises with the
batch's statistics in training mode (as the authors' teacher did), on TensorFlow and JAX,
and a training step changes neither its weights nor its moving statistics."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.distill import batch_statistics_check
from tf_kdbias.errors import UserError


def test_batch_statistics_on_tensorflow():
    batch_statistics_check.check()


def test_batch_statistics_on_jax():
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tests", "distill",
                                                        "batch_statistics_check.py")],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "ok" in done.stdout, done.stdout[-2000:] + done.stderr[-3000:]


def test_off_by_default_and_refused_without_teacher_training():
    from tf_kdbias.distill.distiller import Distiller

    teacher, student = batch_statistics_check.build_pair()
    assert Distiller(student=student, teacher=teacher)._batch_statistics_teacher.value is None
    with pytest.raises(UserError, match="teacher_training = True"):
        Distiller(student=student, teacher=teacher, teacher_batch_statistics=True)


def test_the_gin_binding_name():
    import gin

    from tf_kdbias import gin_utils
    gin_utils.parse_gin([], ["Distiller.teacher_batch_statistics = True",
                             "Distiller.teacher_training = True"])
    assert gin.query_parameter("Distiller.teacher_batch_statistics") is True
    gin.clear_config()
