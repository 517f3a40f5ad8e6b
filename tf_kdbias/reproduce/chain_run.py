"""One slot of a chain: the next stages, stopped at the budget, then the state packed.

`run_slot` plans the table (`plan.plan_runs`), says its stage plan
(`reproduce/chain.py`), then trains stage after stage, each in its own
process group (`scripts/chain.py --action=stage`, which runs the stage's
unfinished runs with `execute.execute_runs`: seed groups, parallel
processes and resuming as `scripts/reproduce.py` does). When the budget is
reached the group is stopped (SIGTERM, then SIGKILL): its runs keep their
last epoch backups and resume in the next slot. Before a stage of students
starts, its finished teachers are compacted (weights only,
`chain_state.compact_teachers`). At the end the slot writes results.md
(PARTIAL while runs are left), appends its report (each stage's examples/s
and fraction of the device's peak) to chain/slots.json, and packs the state
into the output folder. The parent process imports no backend, so it holds
no GPU memory while the stages train.
"""

import dataclasses
import os
import signal
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

from tf_kdbias import gin_utils, io_utils
from tf_kdbias.gin_utils import REPO_ROOT
from tf_kdbias.reproduce import chain, chain_state, plan

SPEED_FILE = "speed.json"
PLAN_FILE = "plan.json"
SLOTS_FILE = "slots.json"


@dataclasses.dataclass
class ChainSettings:
    """What a slot trains and how long it may take.

    Args:
      gin_files, gin_bindings: the table (as for scripts/reproduce.py).
      workdir: the chain's workdir (restored from the last slot's state).
      data_dir: MNIST.
      out_dir: where state.tgz, results.md/json and chain.json go.
      budget_s: the slot's seconds from its start, packing included.
      reserve_s: seconds kept for results and packing at the end.
      epoch_budget: stop once this many epochs were trained in this slot (all
        runs together; 0: no such limit). Deterministic, for tests and dry runs.
      parallel_runs: processes at once (execute.execute_runs).
      seed_groups: train a setup's seeds as one vmapped program (JAX, fused).
      min_stage_s: a stage is not started with less time left than this.
      until_stage: train no stage after this one in this slot (0: all).
    """

    gin_files: Sequence[str]
    gin_bindings: Sequence[str]
    workdir: str
    data_dir: Optional[str]
    out_dir: str
    budget_s: float = 540.0
    reserve_s: float = 30.0
    epoch_budget: int = 0
    parallel_runs: int = 1
    seed_groups: bool = False
    min_stage_s: float = 20.0
    until_stage: int = 0

    def script_args(self) -> List[str]:
        """The flags that give a child `scripts/chain.py` this table."""
        args = [f"--gin_file={f}" for f in self.gin_files]
        args += [f"--gin_bindings={b}" for b in self.gin_bindings]
        args += [f"--workdir={self.workdir}", f"--parallel_runs={self.parallel_runs}"]
        if self.data_dir:
            args.append(f"--data_dir={self.data_dir}")
        if self.seed_groups:
            args.append("--seed_groups")
        return args


def chain_path(workdir: str, name: str) -> str:
    return os.path.join(workdir, chain_state.CHAIN_FOLDER, name)


def read_chain_json(workdir: str, name: str, default=None):
    path = chain_path(workdir, name)
    return io_utils.read_json(path) if os.path.exists(path) else default


def load_plan(gin_files: Sequence[str], bindings: Sequence[str], workdir: str,
              data_dir: Optional[str]):
    """(experiment, runs) of the table, as scripts/reproduce.py plans it."""
    gin_utils.parse_gin(gin_files, bindings)
    experiment = plan.Experiment()
    runs = plan.plan_runs(experiment, os.path.abspath(workdir), data_dir,
                          extra_bindings=list(bindings))
    return experiment, runs


def progress(runs: Sequence, works: Dict[str, chain.RunWork]) -> Dict[str, int]:
    """run_dir -> epochs done (finished runs: all)."""
    return {run.run_dir: chain.epochs_done(run, works[run.run_dir]) for run in runs}


def stop_group(process: subprocess.Popen, grace_s: float = 5.0) -> bool:
    """Stops `process` and every process of its group; True when none is left."""
    pgid = process.pid  # start_new_session: the group's id is the leader's pid.
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.time() + wait_s
        while time.time() < deadline and _group_alive(pgid):
            process.poll()
            time.sleep(0.1)
    process.wait()
    return not _group_alive(pgid)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def run_child(command: Sequence[str], deadline: float, stop: Callable[[], bool],
              env: Optional[Dict[str, str]] = None, poll_s: float = 0.5) -> str:
    """Runs `command` in its own process group until it ends, `deadline` or `stop()`.

    Returns 'finished', 'failed' or 'budget' (stopped, with its processes).
    """
    process = subprocess.Popen(list(command), cwd=REPO_ROOT, start_new_session=True,
                               env=env)
    while process.poll() is None:
        if time.time() >= deadline or stop():
            left_clean = stop_group(process)
            print(f"budget reached: stopped the stage's processes"
                  f"{'' if left_clean else ' (SOME DID NOT STOP)'}", flush=True)
            return "budget"
        time.sleep(poll_s)
    return "finished" if process.returncode == 0 else "failed"


def stage_report(stage: chain.Stage, runs: Sequence, works: Dict, before: Dict[str, int],
                 after: Dict[str, int], seconds: float, speed: Optional[Dict],
                 outcome: str) -> Dict:
    """A stage's work in this slot: epochs, examples/s, TFLOP/s, fraction of peak."""
    flops_per_example = (speed or {}).get("flops_per_example", {})
    examples, flops = 0, 0.0
    for run in stage.runs(runs):
        n = (after[run.run_dir] - before[run.run_dir]) * works[run.run_dir].examples_per_epoch
        examples += n
        flops = None if flops is None or run.setup not in flops_per_example else (
            flops + n * flops_per_example[run.setup])
    tflops = None if flops is None or seconds <= 0 else flops / seconds / 1e12
    peak = (speed or {}).get("peak_tflops")
    return {"stage": stage.number, "name": stage.name, "outcome": outcome,
            "seconds": round(seconds, 1),
            "epochs": sum(after[r.run_dir] - before[r.run_dir] for r in stage.runs(runs)),
            "runs_finished": sum(r.finished for r in stage.runs(runs)),
            "runs": len(stage.runs(runs)), "examples": examples,
            "examples_per_s": round(examples / seconds, 1) if seconds > 0 else None,
            "achieved_tflops": None if tflops is None else round(tflops, 3),
            "peak_tflops": peak, "peak_precision": (speed or {}).get("peak_precision"),
            "fraction_of_peak": None if tflops is None or not peak else round(tflops / peak, 4)}


def format_stage_report(report: Dict) -> str:
    fraction = ("n/a (no GPU peak known)" if report["fraction_of_peak"] is None
                else f"{100 * report['fraction_of_peak']:.1f}% of the "
                     f"{report['peak_precision']} peak")
    return (f"stage {report['stage']} ({report['name']}): {report['outcome']} after "
            f"{report['seconds']} s, {report['epochs']} epochs, {report['runs_finished']}/"
            f"{report['runs']} runs done; {report['examples_per_s']} examples/s, "
            f"{report['achieved_tflops'] or 'n/a'} TFLOP/s, {fraction}")


def _compact_teachers_first(settings: ChainSettings, runs: Sequence, deadline: float) -> None:
    """Compacts finished teachers whose students have not started, in a CPU-only process."""
    if not chain_state.teachers_to_compact(os.path.abspath(settings.workdir), runs):
        return
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, os.path.join(REPO_ROOT, "scripts", "chain.py"),
               "--action=compact", *settings.script_args()]
    if run_child(command, deadline, lambda: False, env=env) != "finished":
        raise RuntimeError("Compacting the teachers failed or ran out of time; see above.")


def _train_stages(settings: ChainSettings, runs: Sequence, works: Dict, speed: Optional[Dict],
                  deadline: float) -> List[Dict]:
    """Trains stage after stage until the table is done or the budget is spent."""
    reports = []
    start_progress = progress(runs, works)
    budget_left = lambda: (settings.epoch_budget > 0 and sum(progress(runs, works).values())
                           - sum(start_progress.values()) >= settings.epoch_budget)
    for stage in chain.make_stages(runs):
        if all(run.finished for run in stage.runs(runs)):
            continue
        if settings.until_stage and stage.number > settings.until_stage:
            break
        if deadline - time.time() < settings.min_stage_s or budget_left():
            print(f"stage {stage.number} not started: budget spent", flush=True)
            break
        if stage.number > 1:
            _compact_teachers_first(settings, runs, deadline)
        before, tick = progress(runs, works), time.time()
        print(f"stage {stage.number} ({stage.name}) starts, {deadline - tick:.0f} s left",
              flush=True)
        command = [sys.executable, os.path.join(REPO_ROOT, "scripts", "chain.py"),
                   "--action=stage", f"--stage={stage.number}", *settings.script_args()]
        outcome = run_child(command, deadline, budget_left)
        reports.append(stage_report(stage, runs, works, before, progress(runs, works),
                                    time.time() - tick, speed, outcome))
        print(format_stage_report(reports[-1]), flush=True)
        if outcome != "finished":
            break
    return reports


def describe_plan(runs: Sequence, works: Dict, speed: Optional[Dict], budget_s: float,
                  reserve_s: float, speed_check_s: float = 0.0) -> Dict:
    """The stage plan: stages, their remaining cost, and the slots they would take."""
    stages = chain.make_stages(runs)
    done = progress(runs, works)
    costs = [chain.stage_cost(s, runs, works, done, speed) for s in stages]
    slot_s = budget_s - reserve_s
    slots = chain.plan_slots(costs, slot_s, slot_s - speed_check_s)
    return {"stages": [s.to_json() for s in stages], "costs": costs, "slots": slots,
            "budget_s": budget_s, "reserve_s": reserve_s,
            "text": chain.format_plan(costs, slots, speed, stages)}


def write_results(workdir: str, experiment, runs: Sequence, slot: Optional[Dict]) -> None:
    """results.json/.md of the runs finished so far (PARTIAL until all are), with a chain note."""
    from tf_kdbias.reproduce import results  # pylint: disable=import-outside-toplevel

    if not any(run.finished for run in runs):
        return
    results.write_results(workdir, experiment, runs, None)
    done = sum(run.finished for run in runs)
    note = (f"Trained as a chain of slots (`scripts/chain.py`): {done} of {len(runs)} runs "
            f"done{'' if done == len(runs) else ' (PARTIAL)'}"
            + (f", after slot {slot['slot']}" if slot else "") + ".\n\n")
    path = os.path.join(workdir, "results.md")
    io_utils.write_text_atomic(path, note + io_utils.read_text(path))


def finish_slot(settings: ChainSettings, experiment, runs: Sequence,
                slot: Optional[Dict]) -> Dict:
    """Results, the slot's record, the packed state; returns the state's manifest."""
    workdir = os.path.abspath(settings.workdir)
    slots = read_chain_json(workdir, SLOTS_FILE, [])
    if slot is not None:
        slots.append(slot)
        io_utils.write_json_atomic(chain_path(workdir, SLOTS_FILE), slots)
    write_results(workdir, experiment, runs, slot)
    done = sum(run.finished for run in runs)
    next_stage = chain.next_stage(chain.make_stages(runs), runs)
    summary = {"runs_finished": done, "runs_planned": len(runs),
               "next_stage": None if next_stage is None else next_stage.number,
               "slots": len(slots)}
    manifest = chain_state.pack_state(workdir, runs, settings.out_dir, summary)
    for name in ("results.md", "results.json"):
        if os.path.exists(os.path.join(workdir, name)):
            io_utils.write_text_atomic(os.path.join(settings.out_dir, name),
                                       io_utils.read_text(os.path.join(workdir, name)))
    io_utils.write_json_atomic(os.path.join(settings.out_dir, "chain.json"),
                               {"slots": slots, "speed": read_chain_json(workdir, SPEED_FILE),
                                "plan": read_chain_json(workdir, PLAN_FILE), **summary})
    print(f"state: {len(manifest['files'])} files, {manifest['packed_bytes'] / 2 ** 20:.2f} MiB "
          f"packed in {settings.out_dir}; {done} of {len(runs)} runs done"
          + ("" if next_stage is None else f"; next: stage {next_stage.number}"), flush=True)
    return manifest


def run_slot(settings: ChainSettings, start: Optional[float] = None) -> Dict:
    """Trains the next stages until done or out of budget, then packs the state.

    Args:
      settings: the table and the budget.
      start: when the slot began (time.time(); default now): the budget counts from it.

    Returns:
      The packed state's manifest.
    """
    from tf_kdbias.reproduce import staleness  # pylint: disable=import-outside-toplevel

    start = time.time() if start is None else start
    deadline = start + settings.budget_s - settings.reserve_s
    workdir = os.path.abspath(settings.workdir)
    experiment, runs = load_plan(settings.gin_files, settings.gin_bindings, workdir,
                                 settings.data_dir)
    staleness.check_finished_runs(runs, workdir)
    works = {run.run_dir: chain.run_work(run) for run in runs}
    speed = read_chain_json(workdir, SPEED_FILE)
    described = describe_plan(runs, works, speed, settings.budget_s, settings.reserve_s)
    io_utils.write_json_atomic(chain_path(workdir, PLAN_FILE),
                               {k: v for k, v in described.items() if k != "text"})
    print(described["text"], flush=True)
    slot_number = len(read_chain_json(workdir, SLOTS_FILE, [])) + 1
    reports = _train_stages(settings, runs, works, speed, deadline)
    slot = {"slot": slot_number, "wall_s": round(time.time() - start, 1), "stages": reports,
            "budget_s": settings.budget_s, "epoch_budget": settings.epoch_budget,
            "runs_finished": sum(run.finished for run in runs)}
    return finish_slot(settings, experiment, runs, slot)
