"""A recipe ablation: teachers per architecture and seed, students under rows of recipes.

Each row is today's student recipe plus some bindings (or gin files); every
row distils the same students (same seeds, paired across rows) from the same
teachers: student seed k learns from teacher seed k, so teacher variance is
part of every interval. Rows differ by their bindings alone. Runs are
ordinary train/distill runs executed by reproduce/execute.py, so they resume
and skip like a reproduce table. Results: per (row, teacher, eval set) the
students' accuracy, both ECEs and their final L1+L2 penalty, mean ± std over
seeds; and the effects (`ablation_effects`): paired differences over seeds
with 95% t intervals (reproduce/effects.py).
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
from tf_kdbias.reproduce import effects
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
      teacher_gin_files: teacher name -> gin files of its runs (one per seed).
      teacher_bindings: teacher name -> bindings of its runs.
      student_gin_files: gin files of every student (today's recipe).
      student_bindings: bindings of every student (e.g. the epoch budget).
      rows: (row name, extra gin files, extra bindings), in table order; a
        fourth element, a list of teacher names, limits the row to those
        teachers (e.g. a knob only a BatchNorm teacher has).
      all_knobs_row: the row with every knob, compared with each single-knob
        row; None = the last row.
      comparisons: further (row A, row B) pairs compared under each teacher
        both rows have.
      num_seeds: teachers per architecture and students per (row, teacher);
        student seed k is shared by all rows and learns from teacher seed k.
      seed: experiment seed; run seeds derive from it.
      eval_sets: eval sets of every run.
    """

    name: str = gin.REQUIRED
    teacher_gin_files: Dict[str, Sequence[str]] = gin.REQUIRED
    student_gin_files: Sequence[str] = gin.REQUIRED
    rows: Sequence[Tuple[str, Sequence[str], Sequence[str]]] = gin.REQUIRED
    teacher_bindings: Dict[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    student_bindings: Sequence[str] = ()
    all_knobs_row: Optional[str] = None
    comparisons: Sequence[Tuple[str, str]] = ()
    num_seeds: int = 3
    seed: int = 0
    eval_sets: Sequence[str] = ("mnist", "mnist_c/scale", "mnist_c/translate")


@dataclasses.dataclass(frozen=True)
class AblationRun:
    row: Optional[str]  # None for a teacher.
    run: Run


def plan(ablation: Ablation, workdir: str, data_dir: Optional[str]) -> List[AblationRun]:
    """Teacher runs first (one per architecture and seed), then every (row,
    teacher, seed) student; student seed k learns from teacher seed k."""
    names = [row[0] for row in ablation.rows]
    if len(set(names)) != len(names):
        raise UserError(f"Ablation.rows has repeated row names {names}; name each row once.")
    eval_bindings = [f"run_training.eval_sets = {json.dumps(expand_any_eval_sets(ablation.eval_sets))}"]
    runs = []
    for teacher, files in ablation.teacher_gin_files.items():
        for k in range(ablation.num_seeds):
            run_dir = teacher_dir_in(workdir, teacher, k)
            bindings = [*ablation.teacher_bindings.get(teacher, ()), *eval_bindings,
                        f"SEED = {derive_seed(ablation.seed, f'teachers/{teacher}/seed_{k}')}"]
            runs.append(AblationRun(None, planned_run(teacher, None, k, run_dir, None, files,
                                                      bindings, data_dir)))
    for row, row_files, row_bindings, *only in ablation.rows:
        for teacher in (only[0] if only else ablation.teacher_gin_files):
            if teacher not in ablation.teacher_gin_files:
                raise UserError(f"Ablation row {row!r} names teacher {teacher!r}, which is not "
                                f"in Ablation.teacher_gin_files {sorted(ablation.teacher_gin_files)}.")
            for k in range(ablation.num_seeds):
                teacher_dir = teacher_dir_in(workdir, teacher, k)
                run_dir = os.path.join(workdir, "students", row, f"{teacher}_to_student",
                                       f"seed_{k}")
                bindings = [*ablation.student_bindings, *row_bindings, *eval_bindings,
                            f"SEED = {derive_seed(ablation.seed, f'students/seed_{k}')}"]
                runs.append(AblationRun(row, planned_run(
                    "student", teacher, k, run_dir, teacher_dir,
                    [*ablation.student_gin_files, *row_files], bindings, data_dir)))
    return runs


def teacher_dir_in(workdir: str, teacher: str, seed_index: int) -> str:
    """teachers/<teacher>/seed_<k>: the teacher of every row's student seed k."""
    return os.path.join(workdir, "teachers", teacher, f"seed_{seed_index}")


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
                             "seeds": [m.run.seed_index for m in members],
                             "runs": [os.path.relpath(m.run.run_dir, workdir) for m in members]})
    rows += constant_guess_rows(ablation.eval_sets, data_dir)
    return {"experiment": ablation.name, "rows": rows,
            "effects": ablation_effects(rows, [row[0] for row in ablation.rows],
                                        ablation.all_knobs_row, ablation.comparisons),
            "effects_pairing": effects.PAIRING,
            "row_bindings": {name: {"gin_files": list(files), "bindings": list(bindings)}
                             for name, files, bindings, *_ in ablation.rows},
            "runs_finished": len(finished), "runs_planned": len(runs)}


# The students' architecture trained alone: the ablation's MLP teachers (the
# same recipe as the models that teach), paired with students by seed.
ALONE_TEACHER = "mlp"


def ablation_comparisons(row_names: Sequence[str], teachers: Sequence[str],
                         all_knobs_row: Optional[str] = None,
                         extra_pairs: Sequence[Tuple[str, str]] = ()) -> List[Tuple]:
    """(kind, (row, teacher) A, (row, teacher) B) in table order: each row
    against the first (one knob's effect); the all-knobs row (default: the
    last) against each single-knob row; `extra_pairs`; each row's students of
    one teacher against another's; each row's students against the students'
    architecture trained alone. Pairs a row lacks are skipped later."""
    first, last = row_names[0], all_knobs_row or row_names[-1]
    singles = [row for row in row_names[1:] if row != last]
    found = []
    for teacher in teachers:
        found += [("knob", (row, teacher), (first, teacher)) for row in row_names[1:]]
        found += [("all knobs vs one", (last, teacher), (row, teacher)) for row in singles
                  if row_names.index(row) < row_names.index(last)]
        found += [("row vs row", (a, teacher), (b, teacher)) for a, b in extra_pairs]
    for row in row_names:
        found += [("teacher vs teacher", (row, a), (row, b))
                  for i, a in enumerate(teachers) for b in teachers[i + 1:]]
        if ALONE_TEACHER in teachers:
            found += [("vs alone", (row, teacher), ("teacher", ALONE_TEACHER))
                      for teacher in teachers]
    return found


def ablation_effects(rows: Sequence[Dict], row_names: Sequence[str],
                     all_knobs_row: Optional[str] = None,
                     extra_pairs: Sequence[Tuple[str, str]] = (),
                     metrics: Sequence[str] = ("accuracy", "ece_paper")) -> List[Dict]:
    """Paired differences over seeds (`effects.paired_effect`) for each
    `ablation_comparisons` entry, eval set and metric, with verdicts (no
    paper column: the paper has no ablation)."""
    by_key = {(r["row"], r["teacher"], r["eval_set"], r["metric"]): effects.values_by_seed(r)
              for r in rows if r.get("values")}
    teachers = list(dict.fromkeys(r["teacher"] for r in rows if r["row"] == "teacher"))
    eval_sets = list(dict.fromkeys(r["eval_set"] for r in rows if r["row"] == "teacher"))
    found = []
    for kind, a, b in ablation_comparisons(row_names, teachers, all_knobs_row, extra_pairs):
        for eval_set in eval_sets:
            for metric in metrics:
                entry = effects.compare(by_key.get((*a, eval_set, metric)),
                                        by_key.get((*b, eval_set, metric)))
                if entry is not None:
                    found.append({"kind": kind, "a": _label(a), "b": _label(b),
                                  "eval_set": eval_set, "metric": metric, **entry})
    return found


def _label(key: Tuple[str, str]) -> str:
    row, teacher = key
    return f"{teacher} alone" if row == "teacher" else f"{row} ({teacher}→student)"
