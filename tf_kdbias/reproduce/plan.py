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
      alone_bindings: model name -> bindings added (after `model_bindings`)
        to that model's runs trained alone (e.g. a shortened recipe's rates).
      student_bindings: model name -> bindings added to that model's runs
        as a student.
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
    alone_bindings: Dict[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    student_bindings: Dict[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    num_seeds: int = 1
    seed: int = 0
    eval_sets: Sequence[str] = MNIST_EVAL_SETS
    paper_section: Optional[str] = "mnist"
    recipe: str = ""


@dataclasses.dataclass(frozen=True)
class Run:
    """One run of the table: its setup, seed index, folders and command.

    `gin_files`, `bindings` and `data_dir` are what `command` passes (a seed
    group passes them on to `scripts/train_seed_group.py`).
    """

    student: str
    teacher: Optional[str]
    seed_index: int
    run_dir: str
    teacher_dir: Optional[str]
    command: Tuple[str, ...]
    gin_files: Tuple[str, ...] = ()
    bindings: Tuple[str, ...] = ()
    data_dir: Optional[str] = None

    @property
    def setup(self) -> str:
        return rundir.setup_name(self.student, self.teacher)

    @property
    def label(self) -> str:
        return f"{self.setup} seed {self.seed_index}"

    @property
    def finished(self) -> bool:
        return rundir.is_finished(self.run_dir)

    @property
    def interrupted(self) -> bool:
        """Started but not finished: its command resumes from the last backup."""
        return rundir.is_interrupted(self.run_dir)

    @property
    def writes(self) -> Tuple[str, ...]:
        """The run folders its command writes."""
        return (self.run_dir,)

    @property
    def needs(self) -> Tuple[str, ...]:
        """The run folders that must be finished before it starts (its teacher)."""
        return () if self.teacher_dir is None else (self.teacher_dir,)

    @property
    def log_path(self) -> str:
        return os.path.join(self.run_dir, rundir.LOG_FILE)

    def metrics(self) -> Dict:
        """The finished run's metrics.json ({} while unfinished)."""
        return rundir.read_metrics(self.run_dir)


@dataclasses.dataclass(frozen=True)
class SeedGroup:
    """The unfinished runs of one setup, trained together in one process.

    One `scripts/train_seed_group.py` command (the fused engine on Keras' JAX
    backend, `jax.vmap` over seeds); each run still gets its own folder.
    """

    runs: Tuple[Run, ...]

    @property
    def setup(self) -> str:
        return self.runs[0].setup

    @property
    def label(self) -> str:
        seeds = ", ".join(str(run.seed_index) for run in self.runs)
        return f"{self.setup} seeds {seeds} (one seed group)"

    @property
    def interrupted(self) -> bool:
        return any(run.interrupted for run in self.runs)

    @property
    def writes(self) -> Tuple[str, ...]:
        return tuple(run.run_dir for run in self.runs)

    @property
    def needs(self) -> Tuple[str, ...]:
        return tuple(d for run in self.runs for d in run.needs)

    @property
    def log_path(self) -> str:
        """Beside the runs' folders: runs/<setup>/seed_group_log.txt."""
        return os.path.join(os.path.dirname(self.runs[0].run_dir), "seed_group_" + rundir.LOG_FILE)

    @property
    def command(self) -> Tuple[str, ...]:
        cmd = [sys.executable, os.path.join(REPO_ROOT, "scripts", "train_seed_group.py")]
        for run in self.runs:
            member = {"gin_files": list(run.gin_files), "gin_bindings": list(run.bindings),
                      "workdir": run.run_dir, "teacher_dir": run.teacher_dir}
            cmd.append(f"--member={json.dumps(member)}")
        if self.runs[0].data_dir:
            cmd.append(f"--data_dir={self.runs[0].data_dir}")
        return tuple(cmd)


def seed_groups(runs: Sequence[Run]) -> List[SeedGroup]:
    """The runs grouped by setup, in plan order (teachers' setups first)."""
    by_setup: Dict[str, List[Run]] = {}
    for run in runs:
        by_setup.setdefault(run.setup, []).append(run)
    return [SeedGroup(tuple(group)) for group in by_setup.values()]


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
    # Bindings of the plan itself (Experiment.*) say nothing to a run: a run's config,
    # and so whether it is stale, does not depend on how many seeds the table has.
    extra_bindings = [b for b in extra_bindings if not b.strip().startswith("Experiment.")]
    ordered = sorted(experiment.setups, key=lambda s: s[1] is not None)
    runs = []
    for student, teacher in ordered:
        for k in range(experiment.num_seeds):
            setup = rundir.setup_name(student, teacher)
            name = rundir.run_name(setup, k)
            run_dir = rundir.run_dir_in(workdir, setup, k)
            teacher_dir = None if teacher is None else rundir.run_dir_in(workdir, teacher, k)
            recipe = experiment.alone_gin_files if teacher is None else experiment.student_gin_files
            role = experiment.alone_bindings if teacher is None else experiment.student_bindings
            bindings = (list(experiment.model_bindings.get(student, ()))
                        + list(role.get(student, ())) + list(extra_bindings)
                        + [f"SEED = {derive_seed(experiment.seed, name)}",
                           f"run_training.eval_sets = {json.dumps(eval_sets)}"])
            runs.append(planned_run(student, teacher, k, run_dir, teacher_dir,
                                    (*experiment.model_gin_files[student], *recipe), bindings,
                                    data_dir))
    return runs


def planned_run(student: str, teacher: Optional[str], seed_index: int, run_dir: str,
                teacher_dir: Optional[str], gin_files: Sequence[str], bindings: Sequence[str],
                data_dir: Optional[str]) -> Run:
    """A Run with its train/distill command (`script_command`) and the pieces it passes."""
    command = script_command(gin_files, bindings, run_dir, data_dir, teacher_dir)
    return Run(student, teacher, seed_index, run_dir, teacher_dir, command, tuple(gin_files),
               tuple(bindings), data_dir)


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


def command_line(job) -> str:
    """A run's (or seed group's) command, as a shell line."""
    return " ".join(shlex.quote(part) for part in job.command)
