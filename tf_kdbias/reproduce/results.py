"""A table's results: mean ± std over seeds, constant guesses, the paper beside ours.

Writes `W/results.json` and `W/results.md`. The paper's numbers
(paper_results.json, beside this module) appear only next to ours computed
the same way and on the same data.
"""

import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from tf_kdbias import io_utils
from tf_kdbias.reproduce import effects
from tf_kdbias.reproduce.plan import Experiment, Run

PAPER_RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "paper_results.json")


def aggregate(experiment: Experiment, runs: Sequence[Run], workdir: str) -> Dict:
    """results.json content: one row per (student, teacher, eval set, metric)."""
    rows = []
    finished = [r for r in runs if r.finished]  # All of them, unless asked for a partial table.
    setups = list(dict.fromkeys((r.student, r.teacher) for r in finished))
    for student, teacher in setups:
        group = [r for r in finished if (r.student, r.teacher) == (student, teacher)]
        evals = [r.metrics()["eval"] for r in group]
        for eval_set, metrics in evals[0].items():
            for metric in metrics:
                values = [e[eval_set][metric] for e in evals]
                rows.append({"student": student, "teacher": teacher, "eval_set": eval_set,
                             "metric": metric, **summarize(values),
                             "seeds": [r.seed_index for r in group],
                             "runs": [os.path.relpath(r.run_dir, workdir) for r in group]})
    return {"experiment": experiment.name, "rows": rows + baseline_rows(finished)}


def _restored_task(runs: Sequence[Run]):
    """The task of the table's first finished run, restored from its assets;
    None without one, or when its metrics.json names no task."""
    first = next((r for r in runs if r.finished), None)
    if first is None:
        return None
    name = first.metrics().get("task")
    if name is None:
        return None
    from tf_kdbias.tasks.base import task_by_name
    return task_by_name(name, first.run_dir)


def baseline_rows(runs: Sequence[Run]) -> List[Dict]:
    """Constant-guess rows (teacher None, `baseline` True) for the eval sets of
    the finished runs, when their task has them (`SvaTask.baseline_metrics`:
    always plural / singular / the training majority, scored by the task's
    own metric code from the labels alone)."""
    task = _restored_task(runs)
    if task is None or not hasattr(task, "baseline_metrics"):
        return []
    first = next(r for r in runs if r.finished)
    eval_sets = list(first.metrics()["eval"])
    per_guess = task.baseline_metrics(first.data_dir, eval_sets)
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


def _paper_for_effects(paper: Sequence[Dict]) -> List[Dict]:
    """The paper's rows under our metric names (its `ece` is our `ece_paper`;
    our 15-bin `ece` has no paper counterpart)."""
    ours_of = {v: k for k, v in PAPER_METRIC_OF.items()}
    return [{**r, "metric": ours_of.get(r["metric"], r["metric"])} for r in paper]


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


# The metrics whose effects results.md shows (all are in results.json), in this order.
EFFECT_METRICS = ("accuracy", "ece_paper")


def format_results_markdown(results: Dict, paper: Sequence[Dict], header: str = "") -> str:
    """The effects tables first, then the summary tables, then every row
    beside the paper's number and the difference."""
    lookup = _paper_lookup(paper)
    metrics = list(dict.fromkeys(r["metric"] for r in results["rows"]))
    effect_tables = [effects.format_effects_table(results.get("effects", []), m) + "\n"
                     for m in EFFECT_METRICS
                     if any(e["metric"] == m for e in results.get("effects", []))]
    summary = [format_summary_table(results, paper, m) + "\n"
               for m in metrics if any(lookup(r) for r in results["rows"] if r["metric"] == m)]
    legend = [METRIC_LEGEND[m] for m in metrics if m in METRIC_LEGEND]
    lines = [f"# {results['experiment']}", "", header, "", *effect_tables, *legend, "",
             *summary,
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
    times = [r.metrics().get("wall_time_s") for r in runs if r.finished]
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


def transfer_scores(rows: Sequence[Dict], metric: str = "accuracy") -> List[Dict]:
    """Point estimates of how much of a teacher's advantage reached its student.

    For each setup distilled from a teacher of another architecture and each
    eval set: (student − control) / (teacher − control) on the means of
    `metric`, with two controls when the table has them: the student's
    architecture trained alone, and self-distilled. None (with the reason)
    where the teacher is not better than the control. Intervals over seeds
    and examples, and agreement with the teacher, need the models:
    `scripts/analyze.py`.
    """
    means = {(r["student"], r["teacher"], r["eval_set"]): r["mean"] for r in rows
             if r["metric"] == metric and not r.get("baseline") and r["mean"] is not None}
    scores = []
    for (student, teacher, eval_set), value in means.items():
        teacher_value = means.get((teacher, None, eval_set))
        if teacher is None or teacher == student or teacher_value is None:
            continue
        for control, key in (("alone", (student, None)), ("self-distilled", (student, student))):
            if (*key, eval_set) not in means:
                continue
            gap = teacher_value - means[(*key, eval_set)]
            score = (value - means[(*key, eval_set)]) / gap if gap > 0 else None
            scores.append({"student": student, "teacher": teacher, "control": control,
                           "eval_set": eval_set, "metric": metric, "score": score,
                           "reason": None if gap > 0 else "the teacher is not better than the "
                           "control: no advantage to transfer"})
    return scores


def format_transfer_table(scores: Sequence[Dict]) -> str:
    """One line per (student, teacher, control), one column per eval set."""
    eval_sets = list(dict.fromkeys(s["eval_set"] for s in scores))
    cells: Dict[Tuple, Dict[str, str]] = {}
    for s in scores:
        key = (f"{s['teacher']}→{s['student']}", s["control"])
        cells.setdefault(key, {})[s["eval_set"]] = (
            "undefined" if s["score"] is None else f"{s['score']:.3f}")
    lines = ["Transfer score (student − control) / (teacher − control) of the mean "
             f"{scores[0]['metric']}: a point estimate; intervals over seeds and examples, and "
             "agreement with the teacher, come from `scripts/analyze.py`. Undefined where the "
             "teacher is not better than the control.", "",
             "| setup | control | " + " | ".join(eval_sets) + " |",
             "|---|---" + "|---" * len(eval_sets) + "|"]
    for (setup, control), by_set in cells.items():
        lines.append(f"| {setup} | {control} | "
                     + " | ".join(by_set.get(e, "—") for e in eval_sets) + " |")
    return "\n".join(lines) + "\n"


def write_results(workdir: str, experiment: Experiment, runs: Sequence[Run],
                  wall_time_s: Optional[float]) -> Dict:
    """results.json and results.md; `wall_time_s` None when only tabulating."""
    results = aggregate(experiment, runs, workdir)
    # Rounded once: results.md states the very numbers results.json holds.
    wall_time_s = None if wall_time_s is None else round(wall_time_s, 1)
    results["wall_time_s"] = wall_time_s
    runs_time_s, timed = summed_run_time(runs)
    runs_time_s = round(runs_time_s, 1)
    results["runs_time_s"] = runs_time_s  # The runs' own, however many invocations.
    done = sum(r.finished for r in runs)
    results["runs_finished"], results["runs_planned"] = done, len(runs)
    results["recipe"] = experiment.recipe or None
    results["transfer_scores"] = transfer_scores(results["rows"])
    paper = paper_rows(experiment.paper_section)
    source_note = " Paper numbers: Abnar et al. (2020), Tables."
    if paper and not paper_applies(runs):
        paper = []
        source_note = (" No paper numbers: these runs' data is not the paper's (for SVA, only "
                       "the full Linzen file is).")
    results["effects_pairing"] = effects.PAIRING
    results["effects"] = effects.effects(results["rows"], _paper_for_effects(paper))
    io_utils.write_json_atomic(os.path.join(workdir, "results.json"), results)
    partial = "" if done == len(runs) else f" PARTIAL: {done} of {len(runs)} runs finished."
    how = ("Tabulated by `scripts/reproduce.py --results_only`" if wall_time_s is None
           else "Measured by `scripts/reproduce.py`")
    header = (f"{how} ({len(runs)} runs).{partial}{source_note}\n\n"
              + time_note(runs_time_s, timed, done, wall_time_s))
    if experiment.recipe:
        header += f"\n\nRecipe: {experiment.recipe}."
    markdown = format_results_markdown(results, paper, header)
    if results["transfer_scores"]:
        markdown += "\n" + format_transfer_table(results["transfer_scores"])
    io_utils.write_text_atomic(os.path.join(workdir, "results.md"), markdown)
    return results
