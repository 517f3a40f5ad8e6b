"""A paper table as a chain of short slots: its stages, their cost, the slots they take.

GPUs may come in short slots (one command of at most 600 s on a bare
machine). `scripts/chain.py` trains a table (`plan.plan_runs`) across such
slots: each slot restores the state the last one packed
(`reproduce/chain_state.py`), trains as much as its budget allows
(`reproduce/chain_run.py`) and packs the state again.

The table is split into stages, trained in order:

  stage 1    the runs trained alone (the teachers of the others);
  stage 2..  the students, grouped by the kind of their teacher (e.g.
             'students of cnn': cnn_to_mlp, cnn_to_cnn), in plan order.

A stage may run over several slots: a run cut by the budget resumes from its
last epoch backup in the next slot. How long a stage takes comes from a
measured speed (`speed.json`, a short check in the first slot,
`reproduce/chain_speed.py`): run-steps per second of some setups, and the
analytic FLOPs per example of every setup; a setup not measured gets
seconds per step = a + b x FLOPs per example, the line through the measured
setups (a: the fixed cost of a step, b: the cost of its arithmetic). Runs
are costed one after another (the runs of a stage running side by side
finish sooner, so this errs on the long side).

This module imports no backend.
"""

import dataclasses
import math
import os
from typing import Dict, List, Optional, Sequence

from tf_kdbias import rundir
from tf_kdbias.reproduce.plan import Run

TEACHER_STAGE = "teachers"
FULL_MNIST_TRAIN = 60000


@dataclasses.dataclass(frozen=True)
class Stage:
    """A part of the table trained as one: its number (from 1), name and setups."""

    number: int
    name: str
    setups: tuple

    def runs(self, runs: Sequence[Run]) -> List[Run]:
        """The runs of `runs` in this stage, in plan order."""
        return [run for run in runs if run.setup in self.setups]

    def to_json(self) -> Dict:
        return {"number": self.number, "name": self.name, "setups": list(self.setups)}


def make_stages(runs: Sequence[Run]) -> List[Stage]:
    """Stage 1: the runs trained alone; then one stage per teacher kind (plan order)."""
    alone = list(dict.fromkeys(run.setup for run in runs if run.teacher is None))
    by_teacher: Dict[str, List[str]] = {}
    for run in runs:
        if run.teacher is not None:
            setups = by_teacher.setdefault(run.teacher, [])
            if run.setup not in setups:
                setups.append(run.setup)
    stages = [Stage(1, TEACHER_STAGE, tuple(alone))] if alone else []
    for teacher, setups in by_teacher.items():
        stages.append(Stage(len(stages) + 1, f"students of {teacher}", tuple(setups)))
    return stages


def next_stage(stages: Sequence[Stage], runs: Sequence[Run]) -> Optional[Stage]:
    """The first stage with an unfinished run (None: the table is done)."""
    for stage in stages:
        if not all(run.finished for run in stage.runs(runs)):
            return stage
    return None


@dataclasses.dataclass(frozen=True)
class RunWork:
    """What one run trains: epochs x steps per epoch (of `batch_size` examples)."""

    epochs: int
    steps_per_epoch: int
    examples_per_epoch: int


def run_work(run: Run) -> RunWork:
    """The work of an MNIST run, read from its gin files and bindings."""
    from tf_kdbias import gin_utils  # pylint: disable=import-outside-toplevel
    from tf_kdbias.tasks.mnist import MnistTask  # pylint: disable=import-outside-toplevel
    from tf_kdbias.training.settings import TrainSettings  # pylint: disable=import-outside-toplevel

    gin_utils.parse_gin(run.gin_files, run.bindings)
    settings, task = TrainSettings(), MnistTask()
    examples = FULL_MNIST_TRAIN - task.validation_size
    if task.train_size is not None:
        examples = min(examples, task.train_size)
    return RunWork(settings.epochs, math.ceil(examples / settings.batch_size), examples)


def epochs_done(run: Run, work: RunWork) -> int:
    """Epochs a run has behind it: all when finished, else its newest complete backup's."""
    from tf_kdbias.training import resume  # pylint: disable=import-outside-toplevel

    if run.finished:
        return work.epochs
    backup = resume.newest_backup(os.path.join(run.run_dir, rundir.BACKUP_FOLDER))
    return 0 if backup is None else backup.epoch


def seconds_per_step(speed: Optional[Dict], setup: str) -> Optional[float]:
    """Seconds per run-step of `setup` by the speed record (None: nothing measured).

    Measured setups give their own; others the line a + b x FLOPs per example
    through the cheapest and the dearest measured setup (with one, a
    proportion), never below the fastest measured step.
    """
    if not speed or not speed.get("measured"):
        return None
    measured = speed["measured"]
    if setup in measured:
        return 1.0 / measured[setup]["steps_per_s"]
    flops = speed.get("flops_per_example", {})
    points = sorted((flops[s], 1.0 / m["steps_per_s"]) for s, m in measured.items() if s in flops)
    if setup not in flops or not points:
        return max(t for _, t in points) if points else None
    (f1, t1), (f2, t2) = points[0], points[-1]
    if f2 > f1:
        slope = max(0.0, (t2 - t1) / (f2 - f1))
        estimate = t1 + slope * (flops[setup] - f1)
    else:
        estimate = t1 * flops[setup] / f1 if f1 else t1
    return max(estimate, min(t for _, t in points))


def stage_cost(stage: Stage, runs: Sequence[Run], works: Dict[str, RunWork],
               done: Dict[str, int], speed: Optional[Dict]) -> Dict:
    """A stage's remaining work: steps, examples, FLOPs and estimated seconds.

    Args:
      works: run_dir -> RunWork.
      done: run_dir -> epochs done.
      speed: the speed record (or None: no seconds).
    """
    steps = examples = 0
    seconds, flops = 0.0, 0.0
    flops_per_example = (speed or {}).get("flops_per_example", {})
    for run in stage.runs(runs):
        work = works[run.run_dir]
        left = max(0, work.epochs - done.get(run.run_dir, 0))
        steps += left * work.steps_per_epoch
        examples += left * work.examples_per_epoch
        per_step = seconds_per_step(speed, run.setup)
        seconds = None if per_step is None or seconds is None else (
            seconds + left * work.steps_per_epoch * per_step)
        flops = None if flops is None or run.setup not in flops_per_example else (
            flops + left * work.examples_per_epoch * flops_per_example[run.setup])
    return {"stage": stage.number, "name": stage.name, "runs": len(stage.runs(runs)),
            "steps": steps, "examples": examples, "flops": flops, "seconds": seconds}


def plan_slots(costs: Sequence[Dict], slot_s: float, first_slot_s: float) -> List[List[Dict]]:
    """Which slot trains which share of which stage, stages in order.

    Args:
      costs: `stage_cost` of each stage, in order (seconds None: unknown).
      slot_s: training seconds of a slot (its budget less packing and start).
      first_slot_s: the same for the next slot (e.g. less the speed check).

    Returns:
      One list per slot of {stage, from, to} (fractions of the stage's
      remaining work); [] when a cost is unknown.
    """
    if any(c["seconds"] is None for c in costs) or slot_s <= 0:
        return []
    slots: List[List[Dict]] = [[]]
    left = first_slot_s
    for cost in costs:
        start, total = 0.0, cost["seconds"]
        while total > 0 and start < 1.0 - 1e-9:
            if left <= 0:
                slots.append([])
                left = slot_s
            share = min(1.0 - start, left / total)
            slots[-1].append({"stage": cost["stage"], "from": start, "to": start + share})
            left -= share * total
            start += share
    return [slot for slot in slots if slot]


def format_plan(costs: Sequence[Dict], slots: Sequence[Sequence[Dict]],
                speed: Optional[Dict], stages: Sequence[Stage]) -> str:
    """The stage plan in words: each stage's setups, work and time, then the slots."""
    names = {s.number: s for s in stages}
    lines = ["Stage plan (stages in order; a stage cut by the budget resumes next slot):"]
    for cost in costs:
        stage = names[cost["stage"]]
        time_text = ("time unknown (no speed measured yet)" if cost["seconds"] is None
                     else f"~{cost['seconds']:.0f} s")
        flop_text = "" if cost["flops"] is None else f", {cost['flops'] / 1e15:.2f} PFLOP"
        lines.append(f"  stage {stage.number} ({stage.name}: {', '.join(stage.setups)}): "
                     f"{cost['runs']} runs, {cost['steps']} steps left{flop_text}, {time_text}")
    if speed and speed.get("measured"):
        measured = ", ".join(f"{s} {m['steps_per_s']:.1f}" for s, m in speed["measured"].items())
        lines.append(f"  speed (run-steps/s, {speed.get('device_kind', '?')}): {measured}")
    for k, slot in enumerate(slots, 1):
        parts = ", ".join(f"stage {p['stage']} {100 * p['from']:.0f}-{100 * p['to']:.0f}%"
                          for p in slot)
        lines.append(f"  slot +{k}: {parts}")
    if slots:
        lines.append(f"  {len(slots)} more slot(s) at this speed")
    return "\n".join(lines)
