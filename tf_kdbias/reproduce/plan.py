"""A whole paper table: teachers x students x seeds, as resumable runs.

Each run is its own process (`scripts/train.py` or `scripts/distill.py`), so
it gets a clean gin config, its own seed and its own operative config file,
and the list of commands can be handed to a cluster's job array as it is.
Finished runs (those with metrics.json) are skipped, so rerunning the same
command resumes a table.
"""

import dataclasses
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import gin
import numpy as np

from tf_kdbias import io_utils
from tf_kdbias.data.eval_sets import MNIST_EVAL_SETS, expand_any_eval_sets
from tf_kdbias.errors import UserError
from tf_kdbias.reproduce import progress
from tf_kdbias.gin_utils import REPO_ROOT
from tf_kdbias.training.resume import BACKUP_FOLDER
from tf_kdbias.training.run import METRICS_FILE

PAPER_RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "paper_results.json")


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
    student: str
    teacher: Optional[str]
    seed_index: int
    run_dir: str
    teacher_dir: Optional[str]
    command: Tuple[str, ...]

    @property
    def finished(self) -> bool:
        return os.path.exists(os.path.join(self.run_dir, METRICS_FILE))

    @property
    def interrupted(self) -> bool:
        """Started but not finished: its command resumes from the last backup."""
        return not self.finished and os.path.isdir(os.path.join(self.run_dir, BACKUP_FOLDER))


def setup_name(student: str, teacher: Optional[str]) -> str:
    return student if teacher is None else f"{teacher}_to_{student}"


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
            name = f"{setup_name(student, teacher)}/seed_{k}"
            run_dir = os.path.join(workdir, "runs", name)
            teacher_dir = (None if teacher is None
                           else os.path.join(workdir, "runs", teacher, f"seed_{k}"))
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


def _label(i: int, total: int, run: Run) -> str:
    return f"[{i}/{total}] {setup_name(run.student, run.teacher)} seed {run.seed_index}"


def _announce(label: str, run: Run, say=print) -> None:
    action = "resuming an interrupted run" if run.interrupted else "starting"
    say(f"{label}: {action}\n  {command_line(run)}")


def _failure(labels: Sequence[str], where: str) -> UserError:
    return UserError(f"{', '.join(labels)} failed ({where}). Fix the cause and rerun the "
                     "same command: finished runs are skipped and unfinished ones resume.")


def run_environment(parallel_runs: int, gpu_memory_fraction: Optional[float]) -> Dict[str, str]:
    """The environment of each run's process.

    Several runs share one GPU: JAX gets a fixed share of its memory (it
    would otherwise take 75% at start), TensorFlow grows its use on demand.
    """
    env = dict(os.environ)
    if parallel_runs > 1:
        fraction = gpu_memory_fraction or 0.9 / parallel_runs
        env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{fraction:.3f}"
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    return env


def execute_runs(runs: Sequence[Run], parallel_runs: int = 1,
                 gpu_memory_fraction: Optional[float] = None) -> None:
    """Runs each unfinished run in its own process, teachers before their students.

    With `parallel_runs` > 1, up to that many processes run at once (a
    student starts once its teacher has finished); otherwise runs go one by
    one. Each run writes its output to `<run_dir>/log.txt` (the last lines
    are shown if it fails); the console gets one progress bar over the runs
    (on a terminal) and one summary line per finished run.
    """
    if parallel_runs < 1:
        raise UserError(f"--parallel_runs={parallel_runs}: use 1 or more.")
    if gpu_memory_fraction is not None and not 0.0 < gpu_memory_fraction <= 1.0:
        raise UserError(f"--gpu_memory_fraction={gpu_memory_fraction}: use a share of the GPU's "
                        "memory in (0, 1], e.g. 0.9 / --parallel_runs.")
    env = run_environment(parallel_runs, gpu_memory_fraction)
    todo = []
    for i, run in enumerate(runs, 1):
        label = _label(i, len(runs), run)
        if run.finished:
            print(f"{label}: finished already, skipped", flush=True)
        else:
            todo.append((label, run))
    bar = progress.RunProgress(len(todo))
    try:
        _execute_in_parallel(todo, parallel_runs, env, bar)
    finally:
        bar.close()


def _teacher_finished(run: Run) -> bool:
    return run.teacher_dir is None or os.path.exists(os.path.join(run.teacher_dir, METRICS_FILE))


def _execute_in_parallel(todo, parallel_runs: int, env: Dict[str, str],
                         bar: Optional["progress.RunProgress"] = None,
                         poll_s: float = 0.5) -> None:
    bar = bar or progress.RunProgress(len(todo), show_bar=False)
    pending, running, failed = list(todo), {}, []
    while pending or running:
        busy = {entry[4] for entry in running.values()}  # Run dirs still being written.
        ready = [item for item in pending
                 if item[1].teacher_dir not in busy and _teacher_finished(item[1])]
        while ready and len(running) < parallel_runs and not failed:
            label, run = ready.pop(0)
            pending.remove((label, run))
            os.makedirs(run.run_dir, exist_ok=True)
            log_path = os.path.join(run.run_dir, "log.txt")
            _announce(label, run, bar.say)
            bar.say(f"  output: {log_path}")
            log = open(log_path, "a")
            process = subprocess.Popen(run.command, cwd=REPO_ROOT, env=env, stdout=log,
                                       stderr=subprocess.STDOUT)
            running[process] = (label, log_path, log, time.time(), run.run_dir)
        if failed and not running:
            break
        if not running and pending:
            raise UserError("Runs wait for teachers that are not in this plan: "
                            + ", ".join(label for label, _ in pending))
        time.sleep(poll_s)
        for process in [p for p in running if p.poll() is not None]:
            label, log_path, log, start, run_dir = running.pop(process)
            log.close()
            if process.returncode == 0:
                queue = (f"({len(running)} running, {len(pending)} waiting)"
                         if parallel_runs > 1 else "")
                bar.finished(label, run_dir, time.time() - start, queue)
            else:
                failed.append(label)
                bar.say(f"{label}: FAILED, {_exit_reason(process.returncode)}; last lines of "
                        f"{log_path}:\n{_tail(log_path)}")
    if failed:
        raise _failure(failed, "see the log.txt of each in its run directory")


def _exit_reason(returncode: int) -> str:
    """Says how a run's process ended; a signal means something outside it stopped it."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return (f"killed by {name} from outside the run (another process, a time limit, or the "
            "system when memory ran out)")


def _tail(path: str, lines: int = 15) -> str:
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])


def aggregate(experiment: Experiment, runs: Sequence[Run], workdir: str) -> Dict:
    """results.json content: one row per (student, teacher, eval set, metric)."""
    rows = []
    finished = [r for r in runs if r.finished]  # All of them, unless asked for a partial table.
    setups = list(dict.fromkeys((r.student, r.teacher) for r in finished))
    for student, teacher in setups:
        group = [r for r in finished if (r.student, r.teacher) == (student, teacher)]
        evals = [io_utils.read_json(os.path.join(r.run_dir, METRICS_FILE))["eval"] for r in group]
        for eval_set, metrics in evals[0].items():
            for metric in metrics:
                values = [e[eval_set][metric] for e in evals]
                rows.append({"student": student, "teacher": teacher, "eval_set": eval_set,
                             "metric": metric, **summarize(values),
                             "runs": [os.path.relpath(r.run_dir, workdir) for r in group]})
    return {"experiment": experiment.name, "rows": rows + baseline_rows(finished)}


def _run_data_dir(run: Run) -> Optional[str]:
    """The --data_dir of a run's command (None: it has none)."""
    flag = "--data_dir="
    return next((part[len(flag):] for part in run.command if part.startswith(flag)), None)


def _restored_task(runs: Sequence[Run]):
    """The task of the table's first finished run, restored from its assets;
    None without one, or when its metrics.json names no task."""
    first = next((r for r in runs if r.finished), None)
    if first is None:
        return None
    name = io_utils.read_json(os.path.join(first.run_dir, METRICS_FILE)).get("task")
    if name is None:
        return None
    from tf_kdbias import gin_utils
    from tf_kdbias.tasks import base as tasks
    gin_utils.register_configurables()  # Every task registers on import.
    return tasks.task_by_name(name, first.run_dir)


def baseline_rows(runs: Sequence[Run]) -> List[Dict]:
    """Constant-guess rows (teacher None, `baseline` True) for the eval sets of
    the finished runs, when their task has them (`SvaTask.baseline_metrics`:
    always plural / singular / the training majority, scored by the task's
    own metric code from the labels alone)."""
    task = _restored_task(runs)
    if task is None or not hasattr(task, "baseline_metrics"):
        return []
    first = next(r for r in runs if r.finished)
    eval_sets = list(io_utils.read_json(os.path.join(first.run_dir, METRICS_FILE))["eval"])
    per_guess = task.baseline_metrics(_run_data_dir(first), eval_sets)
    return [{"student": guess, "teacher": None, "eval_set": eval_set, "metric": metric,
             **summarize([value]), "runs": [], "baseline": True}
            for guess, by_set in per_guess.items()
            for eval_set, metrics in by_set.items() for metric, value in metrics.items()]


def paper_applies(runs: Sequence[Run]) -> bool:
    """Whether the runs' data is the paper's, so its numbers belong beside
    ours (a task says so with `is_paper_data`; MNIST's always is)."""
    return bool(getattr(_restored_task(runs), "is_paper_data", True))


def summarize(values: Sequence[Optional[float]]) -> Dict:
    """mean/std/n of a metric over seeds; a metric not available stays None."""
    if any(v is None for v in values):
        return {"mean": None, "std": None, "n": len(values), "values": list(values)}
    values = [float(v) for v in values]
    return {"mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "n": len(values), "values": values}


def paper_rows(section: Optional[str]) -> List[Dict]:
    if not section:
        return []
    with open(PAPER_RESULTS) as f:
        return json.load(f).get(section, {}).get("rows", [])


# Our metric -> the paper's name for the same estimator; and our metrics with a
# paper namesake computed another way (the 15-bin `ece`), never put beside it.
PAPER_METRIC_OF = {"ece_paper": "ece"}
OUR_METRIC_WITHOUT_PAPER_COLUMN = ("ece",)
METRIC_LEGEND = {
    "ece": "`ece`: expected calibration error with a few equal-width bins (15 for MNIST, 20 for "
           "SVA; ours; no paper column: the paper used another estimator).",
    "ece_paper": "`ece_paper`: expected calibration error with 1,000,000 equal-width bins, the "
                 "estimator behind the paper's ECE columns (tensorflow-probability's).",
}


def _paper_lookup(paper: Sequence[Dict]):
    """Finds the paper's row for one of ours (paper SVA rows name no eval set:
    they match our `*/test` sets)."""
    def key(row):
        return (row["student"], row.get("teacher"), row.get("eval_set"), row["metric"])

    by_key = {key(r): r for r in paper}

    def lookup(row):
        # The paper's ECE is the 1e6-bin estimator: only our `ece_paper` meets it.
        if row["metric"] in OUR_METRIC_WITHOUT_PAPER_COLUMN:
            return None
        row = {**row, "metric": PAPER_METRIC_OF.get(row["metric"], row["metric"])}
        ref = by_key.get(key(row))
        if ref is None and row["eval_set"].endswith("/test"):
            ref = by_key.get(key({**row, "eval_set": None}))
        return ref

    return lookup


def _setup_label(row) -> str:
    return row["student"] if row["teacher"] is None else f"{row['teacher']}→{row['student']}"


def format_summary_table(results: Dict, paper: Sequence[Dict], metric: str) -> str:
    """One line per setup, one column per eval set: ours (paper) for `metric`."""
    lookup = _paper_lookup(paper)
    rows = [r for r in results["rows"] if r["metric"] == metric]
    eval_sets = list(dict.fromkeys(r["eval_set"] for r in rows))
    cells: Dict[str, Dict[str, str]] = {}
    for row in rows:
        ref = lookup(row)
        ours = "n/a" if row["mean"] is None else f"{row['mean']:.3f}"
        cells.setdefault(_setup_label(row), {})[row["eval_set"]] = (
            f"{ours} ({ref['mean']:.3f})" if ref else ours)
    lines = [f"| {metric}: ours (paper) | " + " | ".join(eval_sets) + " |",
             "|---" * (len(eval_sets) + 1) + "|"]
    for label, by_set in cells.items():
        lines.append(f"| {label} | " + " | ".join(by_set.get(e, "—") for e in eval_sets) + " |")
    return "\n".join(lines)


def format_results_markdown(results: Dict, paper: Sequence[Dict], header: str = "") -> str:
    """Summary tables, then every row beside the paper's number and the difference."""
    lookup = _paper_lookup(paper)
    metrics = list(dict.fromkeys(r["metric"] for r in results["rows"]))
    summary = [format_summary_table(results, paper, m) + "\n"
               for m in metrics if any(lookup(r) for r in results["rows"] if r["metric"] == m)]
    legend = [METRIC_LEGEND[m] for m in metrics if m in METRIC_LEGEND]
    lines = [f"# {results['experiment']}", "", header, "", *legend, "", *summary,
             "| student | teacher | eval set | metric | ours (mean ± std, n) | paper | ours − paper |",
             "|---|---|---|---|---|---|---|"]
    for row in results["rows"]:
        ref = lookup(row)
        available = row["mean"] is not None
        ours = f"{row['mean']:.4f} ± {row['std']:.4f} ({row['n']})" if available else "n/a"
        paper_cell = "—"
        if ref:
            paper_cell = f"{ref['mean']:.3f}" + (f" ± {ref['std']:.4f}" if "std" in ref else " (approx)")
        diff = f"{row['mean'] - ref['mean']:+.4f}" if ref and available else "—"
        lines.append(f"| {row['student']} | {row['teacher'] or '—'} | {row['eval_set']} | "
                     f"{row['metric']} | {ours} | {paper_cell} | {diff} |")
    return "\n".join(lines) + "\n"


def summed_run_time(runs: Sequence[Run]) -> Tuple[float, int]:
    """(seconds, count): the finished runs' own wall times (metrics.json
    `wall_time_s`) summed, and how many runs recorded one."""
    times = [io_utils.read_json(os.path.join(r.run_dir, METRICS_FILE)).get("wall_time_s")
             for r in runs if r.finished]
    times = [float(t) for t in times if t is not None]
    return float(sum(times)), len(times)


def time_note(runs_time_s: float, timed: int, finished: int,
              wall_time_s: Optional[float]) -> str:
    """Two times that differ as soon as a rerun skips finished runs or runs go
    in parallel: the runs' own (summed), and this invocation's."""
    note = (f"Time: the runs took {runs_time_s:.0f} s in total (each run's own wall time, "
            f"from its metrics.json, summed over {timed} of {finished} finished runs, "
            "whichever invocation ran them; parallel runs overlap)")
    if wall_time_s is None:
        return note + "; this invocation trained nothing."
    return note + f"; this invocation took {wall_time_s:.0f} s of wall time."


def write_results(workdir: str, experiment: Experiment, runs: Sequence[Run],
                  wall_time_s: Optional[float]) -> Dict:
    """results.json and results.md; `wall_time_s` None when only tabulating."""
    results = aggregate(experiment, runs, workdir)
    results["wall_time_s"] = None if wall_time_s is None else round(wall_time_s, 1)
    runs_time_s, timed = summed_run_time(runs)
    results["runs_time_s"] = round(runs_time_s, 1)  # The runs' own, however many invocations.
    done = sum(r.finished for r in runs)
    results["runs_finished"], results["runs_planned"] = done, len(runs)
    results["recipe"] = experiment.recipe or None
    io_utils.write_json_atomic(os.path.join(workdir, "results.json"), results)
    partial = "" if done == len(runs) else f" PARTIAL: {done} of {len(runs)} runs finished."
    how = ("Tabulated by `scripts/reproduce.py --results_only`" if wall_time_s is None
           else "Measured by `scripts/reproduce.py`")
    paper = paper_rows(experiment.paper_section)
    source_note = " Paper numbers: Abnar et al. (2020), Tables."
    if paper and not paper_applies(runs):
        paper = []
        source_note = (" No paper numbers: these runs' data is not the paper's (for SVA, only "
                       "the full Linzen file is).")
    header = (f"{how} ({len(runs)} runs).{partial}{source_note}\n\n"
              + time_note(runs_time_s, timed, done, wall_time_s))
    if experiment.recipe:
        header += f"\n\nRecipe: {experiment.recipe}."
    io_utils.write_text_atomic(os.path.join(workdir, "results.md"),
                               format_results_markdown(results, paper, header))
    return results
