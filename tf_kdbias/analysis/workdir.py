"""The runs of a reproduce workdir (`W/runs/<setup>/seed_<k>/`), for analyses."""

import dataclasses
import os
import re
from typing import List, Optional, Tuple

from tf_kdbias import rundir
from tf_kdbias.errors import UserError

# Plot and table order; setups not listed here follow, sorted by name.
SETUP_ORDER = ("cnn", "mlp", "cnn_to_mlp", "mlp_to_mlp", "cnn_to_cnn", "mlp_to_cnn")
_TRAJECTORY_FILE = re.compile(r"^epoch_(\d+)\.weights\.h5$")


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """One finished run of a workdir.

    Args:
      name: '<setup>/seed_<k>', unique within the workdir.
      setup: folder name, e.g. 'cnn' or 'cnn_to_mlp'.
      student: the trained architecture.
      teacher: the teacher's architecture, None for a run trained alone.
      seed_index: k of 'seed_<k>'.
      run_dir: absolute path of the run directory.
    """

    name: str
    setup: str
    student: str
    teacher: Optional[str]
    seed_index: int
    run_dir: str

    @property
    def label(self) -> str:
        return setup_label(self.setup)

    @property
    def short_label(self) -> str:
        return f"{self.label} s{self.seed_index}"

    @property
    def model_path(self) -> str:
        return rundir.model_path(self.run_dir)


def setup_label(setup: str) -> str:
    """A plot label: 'cnn_to_mlp' -> 'CNN→MLP', 'mlp' -> 'MLP'."""
    student, teacher = rundir.parse_setup(setup)
    return student.upper() if teacher is None else f"{teacher.upper()}→{student.upper()}"


def setup_sort_key(setup: str):
    known = SETUP_ORDER.index(setup) if setup in SETUP_ORDER else len(SETUP_ORDER)
    return known, setup


def list_runs(workdir: str) -> List[RunInfo]:
    """Finished runs of `workdir` (`rundir.is_finished`), in SETUP_ORDER then seed order.

    An unfinished run folder (still training, killed, or killed during its
    evaluation) is skipped with a printed warning, so a partly finished
    table can still be analysed.

    Raises:
      UserError: if the workdir has no finished run.
    """
    runs = []
    for setup, seed_index, run_dir in rundir.seed_dirs(workdir):
        name = rundir.run_name(setup, seed_index)
        if not rundir.is_finished(run_dir):
            print(f"warning: skipping run {name}: it has no {rundir.METRICS_FILE} (unfinished)",
                  flush=True)
            continue
        student, teacher = rundir.parse_setup(setup)
        runs.append(RunInfo(name, setup, student, teacher, seed_index, run_dir))
    if not runs:
        runs_root = os.path.join(os.path.abspath(workdir), rundir.RUNS_FOLDER)
        raise UserError(
            f"No finished runs under {runs_root!r} (expected runs/<setup>/seed_<k>/"
            f"{rundir.METRICS_FILE}). Point --workdir at a folder written by "
            "scripts/reproduce.py and let its runs finish first.")
    return sorted(runs, key=lambda r: (setup_sort_key(r.setup), r.seed_index))


def read_metrics(run: RunInfo) -> dict:
    """The run's metrics.json."""
    return rundir.read_metrics(run.run_dir)


def run_task(run: RunInfo) -> str:
    """The name of the task the run trained on."""
    return rundir.task_name(run.run_dir)


def teacher_run(run: RunInfo, runs: List[RunInfo]) -> Optional[RunInfo]:
    """The run that taught `run`: metrics.json's teacher_dir, else the
    reproduce convention runs/<teacher>/seed_<k> of the same seed index."""
    if run.teacher is None:
        return None
    teacher_dir = read_metrics(run).get("teacher_dir")
    for candidate in runs:
        if teacher_dir and os.path.realpath(candidate.run_dir) == os.path.realpath(teacher_dir):
            return candidate
    for candidate in runs:
        if candidate.setup == run.teacher and candidate.seed_index == run.seed_index:
            return candidate
    return None


def trajectory_checkpoints(run: RunInfo) -> List[Tuple[int, str]]:
    """(epoch, path) of the run's trajectory weight files, by epoch."""
    folder = os.path.join(run.run_dir, rundir.TRAJECTORY_FOLDER)
    found = []
    if os.path.isdir(folder):
        for filename in os.listdir(folder):
            match = _TRAJECTORY_FILE.match(filename)
            if match:
                found.append((int(match.group(1)), os.path.join(folder, filename)))
    return sorted(found)
