"""Tiny trainings and distillations on one CPU and mirrored over two logical
CPUs; prints their metrics as JSON on the last line.

  python tests/training/distribute_check.py WORKDIR DATA_DIR

Run it in a fresh process: logical devices can only be set up before
TensorFlow initialises.
"""

import json
import os
import shutil
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import gin  # noqa: E402
import keras  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tests.tiny_runs import MLP_GIN  # noqa: E402
from tf_kdbias import gin_utils  # noqa: E402
from tf_kdbias.distill.teacher_run import CACHE_FOLDER  # noqa: E402
from tf_kdbias.training import distribute  # noqa: E402
from tf_kdbias.training import run as run_lib  # noqa: E402

BINDINGS = (
    "EPOCHS = 2",
    "MnistTask.train_size = 1024",
    "MnistTask.validation_size = 256",
    "run_training.eval_sets = ['mnist']",
    # SGD, unlike Adam, moves twice as far on doubled gradients: a replica
    # that forgot to divide its loss by the number of replicas would show.
    "make_optimizer.name = 'sgd'",
    "make_optimizer.learning_rate = 0.1",
    "make_optimizer.schedule = 'constant'",
)
STRATEGIES = {"one_device": "make_strategy.name = 'default'",
              "mirrored": "make_strategy.name = 'mirrored'"}


@gin.configurable
def small_mlp():
    """No BatchNorm (per-replica statistics) and no dropout (per-replica masks):
    two replicas then compute what one device does, up to float rounding."""
    inputs = keras.Input((28, 28, 1), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="logits")(x), name="small_mlp")


def run(run_dir, data_dir, strategy_binding, teacher_dir=None):
    gin_utils.parse_gin([MLP_GIN], BINDINGS + (strategy_binding,
                                               "run_training.model_fn = @small_mlp"))
    metrics = run_lib.run_training(run_dir, data_dir=data_dir, teacher_dir=teacher_dir)
    metrics["replicas"] = distribute.make_strategy().num_replicas_in_sync
    return metrics


def main(workdir, data_dir):
    results = {}
    teacher = os.path.join(workdir, "teacher_one_device")
    for name, binding in STRATEGIES.items():
        results[f"train_{name}"] = run(os.path.join(workdir, f"teacher_{name}"), data_dir, binding)
    for name, binding in STRATEGIES.items():
        # Each distillation computes the teacher's logits afresh, under its strategy.
        shutil.rmtree(os.path.join(teacher, CACHE_FOLDER), ignore_errors=True)
        results[f"distill_{name}"] = run(os.path.join(workdir, f"student_{name}"), data_dir,
                                         binding, teacher_dir=teacher)
    print(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
