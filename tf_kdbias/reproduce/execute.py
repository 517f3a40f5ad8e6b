"""Runs a planned table: each unfinished run (or seed group) in its own process, teachers first.

A job is a `plan.Run` or a `plan.SeedGroup`: it has a `command`, a `label`,
the run folders it `writes`, the finished runs it `needs` (teachers) and a
`log_path`.
"""

import os
import signal
import subprocess
import time
from typing import Dict, Optional, Sequence

from tf_kdbias import rundir
from tf_kdbias.errors import UserError
from tf_kdbias.gin_utils import REPO_ROOT
from tf_kdbias.reproduce import progress
from tf_kdbias.reproduce.plan import Run, command_line, seed_groups


def _announce(label: str, job, say=print) -> None:
    action = "resuming an interrupted run" if job.interrupted else "starting"
    say(f"{label}: {action}\n  {command_line(job)}")


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


def resolve_parallel_runs(parallel_runs: int) -> int:
    """--parallel_runs: 0 means one run per CPU core this process may use."""
    if parallel_runs < 0:
        raise UserError(f"--parallel_runs={parallel_runs}: use 1 or more, or 0 for one per "
                        "CPU core.")
    if parallel_runs == 0:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
    return parallel_runs


def execute_runs(runs: Sequence[Run], parallel_runs: int = 1,
                 gpu_memory_fraction: Optional[float] = None,
                 group_seeds: bool = False) -> None:
    """Runs each unfinished run in its own process, teachers before their students.

    With `parallel_runs` > 1, up to that many processes run at once (a
    student starts once its teacher has finished); 1 runs them one by one, 0
    one per CPU core (`resolve_parallel_runs`). Each run writes its output
    to `<run_dir>/log.txt` (the last lines are shown if it fails); the
    console gets one progress bar over the runs (on a terminal) and one
    summary line per finished run. With
    `group_seeds`, the unfinished runs of each setup train together in one
    process (`plan.SeedGroup`; JAX backend, fused engine), which logs to
    `runs/<setup>/seed_group_log.txt`.
    """
    parallel_runs = resolve_parallel_runs(parallel_runs)
    if gpu_memory_fraction is not None and not 0.0 < gpu_memory_fraction <= 1.0:
        raise UserError(f"--gpu_memory_fraction={gpu_memory_fraction}: use a share of the GPU's "
                        "memory in (0, 1], e.g. 0.9 / --parallel_runs.")
    env = run_environment(parallel_runs, gpu_memory_fraction)
    unfinished = []
    for i, run in enumerate(runs, 1):
        label = f"[{i}/{len(runs)}] {run.label}"
        if run.finished:
            print(f"{label}: finished already, skipped", flush=True)
        else:
            unfinished.append((label, run))
    todo = unfinished
    if group_seeds:  # Numbered anew: one job per setup.
        groups = seed_groups([run for _, run in unfinished])
        todo = [(f"[{i}/{len(groups)}] {g.label}", g) for i, g in enumerate(groups, 1)]
    bar = progress.RunProgress(len(todo))
    try:
        _execute_in_parallel(todo, parallel_runs, env, bar)
    finally:
        bar.close()


def _teachers_finished(job) -> bool:
    return all(rundir.is_finished(d) for d in job.needs)


def _execute_in_parallel(todo, parallel_runs: int, env: Dict[str, str],
                         bar: Optional["progress.RunProgress"] = None,
                         poll_s: float = 0.5) -> None:
    bar = bar or progress.RunProgress(len(todo), show_bar=False)
    pending, running, failed = list(todo), {}, []
    while pending or running:
        busy = {d for entry in running.values() for d in entry[4]}  # Being written.
        ready = [item for item in pending
                 if not busy.intersection(item[1].needs) and _teachers_finished(item[1])]
        while ready and len(running) < parallel_runs and not failed:
            label, job = ready.pop(0)
            pending.remove((label, job))
            for run_dir in job.writes:
                os.makedirs(run_dir, exist_ok=True)
            _announce(label, job, bar.say)
            bar.say(f"  output: {job.log_path}")
            log = open(job.log_path, "a")
            process = subprocess.Popen(job.command, cwd=REPO_ROOT, env=env, stdout=log,
                                       stderr=subprocess.STDOUT)
            running[process] = (label, job.log_path, log, time.time(), job.writes)
        if failed and not running:
            break
        if not running and pending:
            raise UserError("Runs wait for teachers that are not in this plan: "
                            + ", ".join(label for label, _ in pending))
        time.sleep(poll_s)
        for process in [p for p in running if p.poll() is not None]:
            label, log_path, log, start, run_dirs = running.pop(process)
            log.close()
            if process.returncode == 0:
                queue = (f"({len(running)} running, {len(pending)} waiting)"
                         if parallel_runs > 1 else "")
                bar.finished(label, run_dirs, time.time() - start, queue)
            else:
                failed.append(label)
                bar.say(f"{label}: FAILED, {_exit_reason(process.returncode)}; last lines of "
                        f"{log_path}:\n{_tail(log_path)}")
    if failed:
        raise _failure(failed, "see the log.txt of each in its run directory, or a seed "
                               "group's runs/<setup>/seed_group_log.txt")


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
