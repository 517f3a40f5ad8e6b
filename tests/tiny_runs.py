"""Tiny MLP runs on real MNIST, in this process or as scripts/train.py.

Both ways parse the same gin file and bindings, so a run started as a script
and finished in-process (or the reverse) is the same run.
"""

import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPO_ROOT
from tests.script_runner import gin_args

MLP_GIN = "gin_configs/mnist_c/mlp.gin"
# Three epochs of a few steps: long enough to kill between epochs, with
# dropout on so that RNG state matters on resume.
TINY_RUN_BINDINGS = (
    "EPOCHS = 3",
    "MnistTask.train_size = 2048",
    "MnistTask.validation_size = 256",
    "build_mlp.hidden_units = (32, 16)",
    "make_optimizer.learning_rate = 3e-3",
    "run_training.eval_sets = ['mnist']",
)


def run_in_process(run_dir, data_dir, bindings=TINY_RUN_BINDINGS, gin_file=MLP_GIN,
                   teacher_dir=None):
    """metrics of `run_training` configured like scripts/train.py would be."""
    from tf_kdbias import gin_utils
    from tf_kdbias.training import run as run_lib

    gin_utils.parse_gin([gin_file], bindings)
    return run_lib.run_training(str(run_dir), data_dir=data_dir, teacher_dir=teacher_dir)


def start_train_script(run_dir, data_dir, bindings=TINY_RUN_BINDINGS):
    """A running `scripts/train.py` process (output to run_dir/../<name>.log)."""
    log = open(f"{run_dir}.log", "w")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, os.path.join(REPO_ROOT, "scripts", "train.py"),
         *gin_args(MLP_GIN, bindings), f"--workdir={run_dir}", f"--data_dir={data_dir}"],
        cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)


def kill_after_first_backup(process, run_dir, timeout_s=300):
    """SIGKILLs `process` as soon as a backup of epoch 1 is complete.

    Returns the epochs the newest complete backup holds at the kill.
    """
    from tf_kdbias import rundir
    from tf_kdbias.training import resume

    backup_dir = os.path.join(run_dir, rundir.BACKUP_FOLDER)
    deadline = time.time() + timeout_s
    while time.time() < deadline and process.poll() is None:
        if os.path.exists(os.path.join(backup_dir, "epoch_0001", resume.STATE_FILE)):
            break
        time.sleep(0.02)
    if process.poll() is not None:
        raise AssertionError(f"train.py exited ({process.returncode}) before it could be "
                             f"killed; see {run_dir}.log")
    process.send_signal(signal.SIGKILL)
    process.wait()
    return resume.newest_backup(backup_dir).epoch
