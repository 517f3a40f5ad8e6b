"""A recipe ablation: one teacher per architecture, students under rows of recipes.

Each row is today's student recipe plus some bindings (or gin files); every
row distils the same students (same seeds, paired across rows) from the same
teachers, so rows differ by their bindings alone. Runs are ordinary
train/distill runs executed by reproduce/execute.py, so they resume and skip like a
reproduce table. Results: per (row, teacher, eval set) the students' accuracy,
both ECEs and their final L1+L2 penalty, mean ± std over seeds.
"""

import dataclasses
import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

import gin
import numpy as np

from tf_kdbias import rundir
from tf_kdbias.data.eval_sets import expand_any_eval_sets
from tf_kdbias.errors import UserError
from tf_kdbias.reproduce.plan import Run, derive_seed, planned_run
from tf_kdbias.reproduce.results import summarize

PENALTY = "l1_l2_penalty"
REPORTED_METRICS = ("accuracy", "ece", "ece_paper", PENALTY)


@gin.configurable
@dataclasses.dataclass
class Ablation:
    """Rows of student recipes over the same teachers and seeds.

    Args:
      name: written into results.json.
      teacher_gin_files: teacher name -> gin files of its (single) run.
      teacher_bindings: teacher name -> bindings of its run.
      student_gin_files: gin files of every student (today's recipe).
      student_bindings: bindings of every student (e.g. the epoch budget).
      rows: (row name, extra gin files, extra bindings), in table order.
      num_seeds: students per (row, teacher); seed k is shared by all rows.
      seed: experiment seed; run seeds derive from it.
      eval_sets: eval sets of every run.
    """

    name: str = gin.REQUIRED
    teacher_gin_files: Dict[str, Sequence[str]] = gin.REQUIRED
    student_gin_files: Sequence[str] = gin.REQUIRED
    rows: Sequence[Tuple[str, Sequence[str], Sequence[str]]] = gin.REQUIRED
    teacher_bindings: Dict[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    student_bindings: Sequence[str] = ()
    num_seeds: int = 3
    seed: int = 0
    eval_sets: Sequence[str] = ("mnist", "mnist_c/scale", "mnist_c/translate")


@dataclasses.dataclass(frozen=True)
class AblationRun:
    row: Optional[str]  # None for a teacher.
    run: Run


def plan(ablation: Ablation, workdir: str, data_dir: Optional[str]) -> List[AblationRun]:
    """Teacher runs first, then every (row, teacher, seed) student."""
    names = [row[0] for row in ablation.rows]
    if len(set(names)) != len(names):
        raise UserError(f"Ablation.rows has repeated row names {names}; name each row once.")
    eval_bindings = [f"run_training.eval_sets = {json.dumps(expand_any_eval_sets(ablation.eval_sets))}"]
    runs = []
    for teacher, files in ablation.teacher_gin_files.items():
        run_dir = os.path.join(workdir, "teachers", teacher)
        bindings = [*ablation.teacher_bindings.get(teacher, ()), *eval_bindings,
                    f"SEED = {derive_seed(ablation.seed, f'teachers/{teacher}')}"]
        runs.append(AblationRun(None, planned_run(teacher, None, 0, run_dir, None, files,
                                                  bindings, data_dir)))
    for row, row_files, row_bindings in ablation.rows:
        for teacher in ablation.teacher_gin_files:
            teacher_dir = os.path.join(workdir, "teachers", teacher)
            for k in range(ablation.num_seeds):
                run_dir = os.path.join(workdir, "students", row, f"{teacher}_to_student",
                                       f"seed_{k}")
                bindings = [*ablation.student_bindings, *row_bindings, *eval_bindings,
                            f"SEED = {derive_seed(ablation.seed, f'students/seed_{k}')}"]
                runs.append(AblationRun(row, planned_run(
                    "student", teacher, k, run_dir, teacher_dir,
                    [*ablation.student_gin_files, *row_files], bindings, data_dir)))
    return runs


def regularization_penalty(run_dir: str) -> float:
    """The final sum of a saved model's L1/L2 penalties (its `losses`)."""
    from tf_kdbias.models import load_model

    model = load_model(rundir.model_path(run_dir))
    return float(sum(float(np.asarray(loss)) for loss in model.losses))


def _run_values(run_dir: str) -> Dict[str, Dict[str, float]]:
    metrics = rundir.read_metrics(run_dir)
    penalty = regularization_penalty(run_dir)
    return {eval_set: {**{m: values.get(m) for m in REPORTED_METRICS if m != PENALTY},
                       PENALTY: penalty}
            for eval_set, values in metrics["eval"].items()}


def constant_guess_rows(eval_sets: Sequence[str], data_dir: Optional[str]) -> List[Dict]:
    """Accuracy of always answering the training set's most frequent class
    (MnistTask's constant guess, as reproduce tables report it)."""
    from tf_kdbias.tasks.mnist import MnistTask

    guess = MnistTask().baseline_metrics(data_dir, expand_any_eval_sets(eval_sets))
    return [{"row": "constant_guess", "teacher": None, "eval_set": name, "metric": "accuracy",
             **summarize([metrics["accuracy"]])}
            for name, metrics in guess["train_majority"].items()]


def aggregate(ablation: Ablation, runs: Sequence[AblationRun], workdir: str,
              data_dir: Optional[str]) -> Dict:
    """results.json content: teachers, then (row, teacher) students over seeds."""
    rows = []
    finished = [r for r in runs if r.run.finished]
    groups: Dict[Tuple[Optional[str], str], List[AblationRun]] = {}
    for entry in finished:
        key = (entry.row, entry.run.student if entry.row is None else entry.run.teacher)
        groups.setdefault(key, []).append(entry)
    for (row, teacher), members in groups.items():
        values = [_run_values(m.run.run_dir) for m in members]
        for eval_set in values[0]:
            for metric in REPORTED_METRICS:
                rows.append({"row": row or "teacher", "teacher": teacher, "eval_set": eval_set,
                             "metric": metric,
                             **summarize([v[eval_set][metric] for v in values]),
                             "runs": [os.path.relpath(m.run.run_dir, workdir) for m in members]})
    rows += constant_guess_rows(ablation.eval_sets, data_dir)
    return {"experiment": ablation.name, "rows": rows,
            "row_bindings": {name: {"gin_files": list(files), "bindings": list(bindings)}
                             for name, files, bindings in ablation.rows},
            "runs_finished": len(finished), "runs_planned": len(runs)}
