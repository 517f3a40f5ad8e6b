"""The run folder and the reproduce workdir: what is where, and when a run is done.

Every reader and writer of runs (training, reproduce, evaluation, export,
analysis) goes through this module, which imports no backend.

A run directory holds:

  config.gin / operative_config.gin  the gin config as parsed / as used
  model.keras                         the trained model (the student)
  online_teacher.keras                the teacher, when it trained online
  backup/                             resumable state (last epoch; removed when done)
  trajectory/epoch_XXXX.weights.h5    checkpoints at epochs 0, 1, 2, 4, ...
  tensorboard/                        per-epoch scalars, config text, final metrics
  log.txt                             the run's output, when reproduce ran it
  metrics.json                        eval-set metrics, history, provenance

A run is *finished* when metrics.json exists: it is written last and
atomically, after model.keras and after evaluation, so a run killed at any
point before (evaluation included) is unfinished, resumes when its command
is rerun, and is not analysed.

A reproduce workdir holds `runs/<setup>/seed_<k>/`, where a setup is named
by its (student, teacher) pair: 'mlp' trained alone, 'cnn_to_mlp' an MLP
distilled from a CNN (`setup_name` / `parse_setup`).
"""

import os
import re
from typing import Dict, List, Optional, Tuple

from tf_kdbias import io_utils

CONFIG_FILE = "config.gin"
OPERATIVE_CONFIG_FILE = "operative_config.gin"
MODEL_FILE = "model.keras"
ONLINE_TEACHER_FILE = "online_teacher.keras"
METRICS_FILE = "metrics.json"
LOG_FILE = "log.txt"
BACKUP_FOLDER = "backup"
TRAJECTORY_FOLDER = "trajectory"
TENSORBOARD_FOLDER = "tensorboard"
RUNS_FOLDER = "runs"

# metrics.json fields that legitimately differ between two runs of the same
# command (timing, where and how often it ran); everything else must match.
NON_REPRODUCIBLE_FIELDS = ("wall_time_s", "resumed_from_epochs", "tf_kdbias_version",
                           "git_commit", "keras_version", "backend", "precision")
# Runs written before tasks had names were all MNIST runs.
DEFAULT_TASK = "mnist"
_SETUP_SEPARATOR = "_to_"
_SEED_FOLDER = re.compile(r"^seed_(\d+)$")


def model_path(run_dir: str) -> str:
    return os.path.join(run_dir, MODEL_FILE)


def metrics_path(run_dir: str) -> str:
    return os.path.join(run_dir, METRICS_FILE)


def is_finished(run_dir: str) -> bool:
    """Whether the run completed: trained, evaluated and recorded."""
    return os.path.exists(metrics_path(run_dir))


def is_interrupted(run_dir: str) -> bool:
    """Started but not finished: its command resumes from the last backup."""
    return not is_finished(run_dir) and os.path.isdir(os.path.join(run_dir, BACKUP_FOLDER))


def read_metrics(run_dir: str) -> Dict:
    """The finished run's metrics.json; {} for an unfinished run."""
    return io_utils.read_json(metrics_path(run_dir)) if is_finished(run_dir) else {}


def task_name(run_dir: str) -> str:
    """The name of the task the run trained on, as its metrics.json records it."""
    return read_metrics(run_dir).get("task", DEFAULT_TASK)


def comparable_metrics(metrics: Dict) -> Dict:
    """metrics.json without NON_REPRODUCIBLE_FIELDS: equal for equal commands."""
    return {k: v for k, v in metrics.items() if k not in NON_REPRODUCIBLE_FIELDS}


def setup_name(student: str, teacher: Optional[str]) -> str:
    """('mlp', 'cnn') -> 'cnn_to_mlp'; ('mlp', None) -> 'mlp'."""
    return student if teacher is None else f"{teacher}{_SETUP_SEPARATOR}{student}"


def parse_setup(setup: str) -> Tuple[str, Optional[str]]:
    """'cnn_to_mlp' -> ('mlp', 'cnn'); 'mlp' -> ('mlp', None): (student, teacher)."""
    if _SETUP_SEPARATOR in setup:
        teacher, student = setup.split(_SETUP_SEPARATOR, 1)
        return student, teacher
    return setup, None


def run_name(setup: str, seed_index: int) -> str:
    """'<setup>/seed_<k>': a run's name, unique within its workdir."""
    return f"{setup}/seed_{seed_index}"


def run_dir_in(workdir: str, setup: str, seed_index: int) -> str:
    return os.path.join(workdir, RUNS_FOLDER, setup, f"seed_{seed_index}")


def seed_dirs(workdir: str) -> List[Tuple[str, int, str]]:
    """(setup, seed index, run dir) of every run folder of `workdir`, finished or not."""
    root = os.path.join(os.path.abspath(workdir), RUNS_FOLDER)
    found = []
    if not os.path.isdir(root):
        return found
    for setup in sorted(os.listdir(root)):
        setup_dir = os.path.join(root, setup)
        if not os.path.isdir(setup_dir):
            continue
        for folder in sorted(os.listdir(setup_dir)):
            match = _SEED_FOLDER.match(folder)
            if match and os.path.isdir(os.path.join(setup_dir, folder)):
                found.append((setup, int(match.group(1)), os.path.join(setup_dir, folder)))
    return found
