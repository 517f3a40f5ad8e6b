"""TeacherRun: a finished run, its checkpoint's digest as identity, its model frozen."""

import hashlib
import os

import pytest

from tests.fake_runs import save_finished_run
from tf_kdbias import rundir
from tf_kdbias.distill.teacher_run import TeacherRun
from tf_kdbias.errors import UserError
from tf_kdbias.models.mlp import build_mlp


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_a_teacher_is_identified_by_its_checkpoints_bytes(tmp_path):
    folder = save_finished_run(tmp_path / "teacher", build_mlp(hidden_units=(8,)))
    teacher = TeacherRun.load(folder)
    assert teacher.model_path == rundir.model_path(folder)
    assert not teacher.model.trainable
    assert teacher.cache_dir == os.path.join(folder, "logit_cache")
    # The same checkpoint gives the same identity; another one (retrained) another.
    assert TeacherRun.load(folder).digest == teacher.digest
    assert teacher.digest == sha256_of(teacher.model_path)[:16]
    save_finished_run(folder, build_mlp(hidden_units=(8,)))
    assert TeacherRun.load(folder).digest != teacher.digest


def test_only_a_finished_run_teaches(tmp_path):
    with pytest.raises(UserError, match="has no model.keras"):
        TeacherRun.load(str(tmp_path))
    folder = save_finished_run(tmp_path / "teacher", build_mlp(hidden_units=(8,)))
    os.remove(rundir.metrics_path(folder))  # Killed during its evaluation.
    with pytest.raises(UserError, match="no metrics.json"):
        TeacherRun.load(folder)
