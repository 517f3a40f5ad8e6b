"""MirroredStrategy over two logical CPUs gives the metrics of one device:
plain training, and distillation with teacher logits cached under the strategy."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tf_kdbias.training import distribute
from tf_kdbias.errors import UserError
from tf_kdbias.rundir import comparable_metrics


@pytest.fixture(scope="module")
def results(tmp_path_factory, data_dir):
    """Metrics per run of distribute_check.py, run in a fresh process."""
    workdir = tmp_path_factory.mktemp("distribute")
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "tests", "training", "distribute_check.py"),
         str(workdir), data_dir],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_close(one_device, mirrored, tolerance):
    """Same keys everywhere; numbers equal within `tolerance` (absolute)."""
    if isinstance(one_device, dict):
        assert one_device.keys() == mirrored.keys()
        for key in one_device:
            assert_close(one_device[key], mirrored[key], tolerance)
    elif isinstance(one_device, list):
        assert len(one_device) == len(mirrored)
        for a, b in zip(one_device, mirrored):
            assert_close(a, b, tolerance)
    elif isinstance(one_device, float):
        assert mirrored == pytest.approx(one_device, abs=tolerance)
    else:
        assert one_device == mirrored


@pytest.mark.parametrize("kind", ["train", "distill"])
def test_two_replicas_match_one_device(results, kind):
    one_device, mirrored = results[f"{kind}_one_device"], results[f"{kind}_mirrored"]
    assert (one_device.pop("replicas"), mirrored.pop("replicas")) == (1, 2)
    # Float sums in another order: equal to ~1e-6; 1e-4 leaves a margin
    # while a mis-scaled gradient (x2) would be off by far more.
    assert_close(comparable_metrics(one_device), comparable_metrics(mirrored), 1e-4)


def test_other_backends_get_one_device_and_no_tf_distribute(monkeypatch):
    import keras
    monkeypatch.setattr(keras.config, "backend", lambda: "jax")
    strategy = distribute.make_strategy("default")
    assert strategy.num_replicas_in_sync == 1 and distribute.is_chief(strategy)
    with strategy.scope():
        pass
    with pytest.raises(UserError, match="KERAS_BACKEND=tensorflow"):
        distribute.make_strategy("mirrored")


def test_unknown_strategy_is_a_user_error():
    with pytest.raises(UserError, match="use one of default, mirrored, multi_worker_mirrored"):
        distribute.make_strategy("tpu")


class FakeMultiWorkerStrategy:
    """Has the `cluster_resolver` of a multi-worker strategy, without a cluster."""

    def __init__(self, cluster, task_type, task_id):
        import tensorflow as tf

        self.cluster_resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id)


@pytest.mark.parametrize("cluster,task_type,task_id,chief", [
    ({"worker": ["a:1", "b:1"]}, "worker", 0, True),
    ({"worker": ["a:1", "b:1"]}, "worker", 1, False),
    ({"chief": ["c:1"], "worker": ["a:1"]}, "chief", 0, True),
    ({"chief": ["c:1"], "worker": ["a:1"]}, "worker", 0, False),
])
def test_only_the_chief_writes_the_run_dir(tmp_path, cluster, task_type, task_id, chief):
    strategy = FakeMultiWorkerStrategy(cluster, task_type, task_id)
    assert distribute.is_chief(strategy) == chief
    expected = (str(tmp_path) if chief
                else os.path.join(str(tmp_path), "workers", f"{task_type}_{task_id}"))
    assert distribute.worker_dir(str(tmp_path), strategy) == expected
