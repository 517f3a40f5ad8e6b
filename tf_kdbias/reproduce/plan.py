"""A whole paper table planned as runs: teachers x students x seeds.

Each run is its own process (`scripts/train.py` or `scripts/distill.py`), so
it gets a clean gin config, its own seed and its own operative config file,
and the list of commands can be handed to a cluster's job array as it is.
Finished runs (`rundir.is_finished`) are skipped, so rerunning the same
command resumes a table (reproduce/execute.py runs them; reproduce/results.py
tabulates them).
"""

import dataclasses
import json
import os
import shlex
import sys
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import gin

from tf_kdbias import rundir
from tf_kdbias.data.eval_sets import MNIST_EVAL_SETS, expand_any_eval_sets
from tf_kdbias.errors import UserError
from tf_kdbias.gin_utils import REPO_ROOT


@gin.configurable
@dataclasses.dataclass
class Experiment:
    """A table of runs.

    Args:
      name: experiment name, written into results.json.
      model_gin_files: model name -> gin files configuring train/distill runs
        of that model (e.g. {'cnn': ['gin_configs/mnist_c/cnn.gin']}).
      model_bindings: model name -> extra bindings for its runs.
      alone_gin_files: gin files added (after the model's) to every run trained
        on data alone, e.g. a recipe of the models that later teach.
      student_gin_files: gin files added to every distillation run (the
        students' recipe).
      setups: (student, teacher) pairs; teacher None trains on data alone.
        Every teacher must also appear as a setup trained alone.
      num_seeds: runs per setup.
      seed: experiment seed; each run's seed derives from it and the run name.
      eval_sets: eval sets of every run.
      paper_section: key of paper_results.json to compare against (or None).
      recipe: how the runs were trained, in words, for results.md (e.g.
        "the authors' (paper.gin)" or "modern (modern.gin)").
    """

    name: str = gin.REQUIRED
    model_gin_files: Dict[str, Sequence[str]] = gin.REQUIRED
    setups: Sequence[Tuple[str, Optional[str]]] = gin.REQUIRED
    model_bindings: Dict[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    alone_gin_files: Sequence[str] = ()
    student_gin_files: Sequence[str] = ()
    num_seeds: int = 1
    seed: int = 0
    eval_sets: Sequence[str] = MNIST_EVAL_SETS
    paper_section: Optional[str] = "mnist"
    recipe: str = ""


@dataclasses.dataclass(frozen=True)
class Run:
    """One run of the table: its setup, seed index, folders and command."""

    student: str
    teacher: Optional[str]
    seed_index: int
    run_dir: str
    teacher_dir: Optional[str]
    command: Tuple[str, ...]

    @property
    def setup(self) -> str:
        return rundir.setup_name(self.student, self.teacher)

    @property
    def finished(self) -> bool:
        return rundir.is_finished(self.run_dir)

    @property
    def interrupted(self) -> bool:
        """Started but not finished: its command resumes from the last backup."""
        return rundir.is_interrupted(self.run_dir)

    def metrics(self) -> Dict:
        """The finished run's metrics.json ({} while unfinished)."""
        return rundir.read_metrics(self.run_dir)


def derive_seed(experiment_seed: int, run_name: str) -> int:
    """A run's seed from the experiment seed and its name (stable across runs)."""
    return zlib.crc32(f"{experiment_seed}/{run_name}".encode()) % (2 ** 31)


def plan_runs(experiment: Experiment, workdir: str, data_dir: Optional[str],
              extra_bindings: Sequence[str] = ()) -> List[Run]:
    """All runs of the table, teachers first."""
    eval_sets = expand_any_eval_sets(experiment.eval_sets)
    alone = {student for student, teacher in experiment.setups if teacher is None}
    for student, teacher in experiment.setups:
        for model in (student, teacher):
            if model is not None and model not in experiment.model_gin_files:
                raise UserError(f"Setup ({student!r}, {teacher!r}) names model {model!r} "
                                "with no entry in Experiment.model_gin_files; add one.")
        if teacher is not None and teacher not in alone:
            raise UserError(f"Teacher {teacher!r} is not trained alone in Experiment.setups; "
                            f"add ({teacher!r}, None) so its runs can teach.")
    ordered = sorted(experiment.setups, key=lambda s: s[1] is not None)
    runs = []
    for student, teacher in ordered:
        for k in range(experiment.num_seeds):
            setup = rundir.setup_name(student, teacher)
            name = rundir.run_name(setup, k)
            run_dir = rundir.run_dir_in(workdir, setup, k)
            teacher_dir = None if teacher is None else rundir.run_dir_in(workdir, teacher, k)
            recipe = experiment.alone_gin_files if teacher is None else experiment.student_gin_files
            bindings = (list(experiment.model_bindings.get(student, ())) + list(extra_bindings)
                        + [f"SEED = {derive_seed(experiment.seed, name)}",
                           f"run_training.eval_sets = {json.dumps(eval_sets)}"])
            command = script_command([*experiment.model_gin_files[student], *recipe], bindings,
                                     run_dir, data_dir, teacher_dir)
            runs.append(Run(student, teacher, k, run_dir, teacher_dir, command))
    return runs


def script_command(gin_files: Sequence[str], bindings: Sequence[str], run_dir: str,
                   data_dir: Optional[str], teacher_dir: Optional[str] = None) -> Tuple[str, ...]:
    """The command of one run: scripts/train.py, or distill.py when it has a teacher."""
    script = "train.py" if teacher_dir is None else "distill.py"
    cmd = [sys.executable, os.path.join(REPO_ROOT, "scripts", script)]
    cmd += [f"--gin_file={f}" for f in gin_files]
    cmd += [f"--gin_bindings={b}" for b in bindings]
    cmd += [f"--workdir={run_dir}"]
    if teacher_dir:
        cmd += [f"--teacher_dir={teacher_dir}"]
    if data_dir:
        cmd += [f"--data_dir={data_dir}"]
    return tuple(cmd)


def command_line(run: Run) -> str:
    return " ".join(shlex.quote(part) for part in run.command)
