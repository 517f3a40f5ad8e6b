"""The fit benchmark's workloads (fit_workloads): the --teacher_dir round trip."""

import os

import numpy as np

from tf_kdbias.benchmarks import fit_workloads
from tf_kdbias.benchmarks.fit_settings import BenchmarkSettings, SvaSettings

TINY_CNN = {"filters": (4, 4, 4), "maxout_units": (4, 4, 2), "pool_sizes": (2, 2, 1)}


def test_a_teacher_dir_keeps_the_trained_teacher_and_its_logits(data_dir, tmp_path):
    settings = BenchmarkSettings(train_size=256, test_size=100, teacher_kwargs=TINY_CNN,
                                 teacher_epochs=1)
    teacher_dir = str(tmp_path / "teacher")
    messages = []
    trained = fit_workloads.mnist_workload(settings, data_dir, teacher_dir, messages.append)
    assert trained.info["teacher"]["source"].startswith("trained 1 epoch(s), saved to ")
    assert os.path.exists(os.path.join(teacher_dir, "model.keras"))
    assert os.listdir(os.path.join(teacher_dir, "logit_cache"))

    loaded = fit_workloads.mnist_workload(settings, data_dir, teacher_dir, messages.append)
    assert loaded.info["teacher"]["source"].startswith("loaded from ")
    assert not loaded.teacher.trainable
    np.testing.assert_array_equal(loaded.teacher_logits, trained.teacher_logits)
    assert loaded.info["teacher"]["test_accuracy"] == trained.info["teacher"]["test_accuracy"]


def test_the_sva_workload_is_built_when_sva_is_installed():
    sva = SvaSettings(num_train=64, num_test=32, batch_size=32, teacher_epochs=1,
                      teacher_kwargs={"embedding_dim": 8, "hidden_dim": 8},
                      student_kwargs={"hidden_dim": 8, "num_layers": 1, "num_heads": 2})
    messages = []
    workload = fit_workloads.sva_workload(sva, seed=0, log=messages.append)
    assert workload is not None, messages  # Not skipped: the SVA modules import.
    assert workload.name == "sva" and len(workload.teacher_logits) == len(workload.labels)
    assert 0.0 <= workload.test_accuracy(workload.build_student()) <= 1.0
