"""tf.distribute strategies for runs, selected in gin.

  make_strategy.name = 'mirrored'               # all local GPUs (or CPUs)
  make_strategy.name = 'multi_worker_mirrored'  # hosts listed in $TF_CONFIG

`TrainSettings.batch_size` stays the global batch: each of N replicas gets
batch_size / N examples per step, so results do not depend on N (up to
BatchNorm statistics, which are per replica, and float rounding).

In a multi-worker run every worker executes the same command; only the chief
(task 'chief', or 'worker' 0 when there is no chief) writes the run directory.
Other workers write to `<run_dir>/workers/<type>_<id>/`, which is scratch.
"""

import contextlib
import os
from typing import Optional, Sequence

import gin

from tf_kdbias.errors import UserError

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")


@gin.configurable
def make_strategy(name: str = "default", devices: Optional[Sequence[str]] = None):
    """Returns the tf.distribute strategy of a run.

    Args:
      name: 'default' (one device), 'mirrored' (synchronous data parallelism
        over this host's devices) or 'multi_worker_mirrored' (over the hosts
        of $TF_CONFIG; create it before any other TensorFlow op).
      devices: for 'mirrored', e.g. ['/gpu:0', '/gpu:1']; None uses all GPUs,
        or the CPU when there is none.
    """
    import keras

    if keras.config.backend() != "tensorflow":
        if name != "default":
            raise UserError(f"make_strategy.name={name!r} is a tf.distribute strategy and "
                            f"needs the TensorFlow backend (this run uses "
                            f"{keras.config.backend()!r}). Set KERAS_BACKEND=tensorflow, or "
                            "keep the 'default' single-device strategy.")
        return SingleDevice()
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=list(devices) if devices else None)
    if name == "multi_worker_mirrored":
        if devices:
            raise UserError("make_strategy.devices applies to 'mirrored' only; a "
                            "multi-worker run uses every GPU of each host in $TF_CONFIG.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UserError(f"Unknown make_strategy.name {name!r}; use one of {', '.join(STRATEGIES)}.")


class SingleDevice:
    """The 'default' strategy on backends without tf.distribute: one device."""

    num_replicas_in_sync = 1
    cluster_resolver = None

    def scope(self):
        return contextlib.nullcontext()


def _task(strategy):
    """(task type, task id) of this process in a multi-worker cluster, else (None, None)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return None, None
    return resolver.task_type, resolver.task_id


def is_chief(strategy) -> bool:
    """Whether this process writes the run's records (always, on one host)."""
    task_type, task_id = _task(strategy)
    if task_type is None or task_type == "chief":
        return True
    has_chief = "chief" in strategy.cluster_resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def worker_dir(run_dir: str, strategy) -> str:
    """Where this process writes: the run dir on the chief, scratch elsewhere."""
    if is_chief(strategy):
        return run_dir
    task_type, task_id = _task(strategy)
    return os.path.join(run_dir, "workers", f"{task_type}_{task_id}")
