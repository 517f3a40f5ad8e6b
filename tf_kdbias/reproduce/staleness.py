"""Which finished runs of a reproduce plan were made with another config.

A run's effective config is the gin config its command parses (gin files,
then bindings: the experiment's, the user's, the derived seed, the eval
sets), as `gin.config_str()` prints it; `run_training` writes exactly that
text to the run's config.gin. A finished run whose config.gin has another
digest than its command's config today was made by another sweep: reusing it
would silently mix two configurations into one table.

What this cannot see: a change of the code's defaults (the operative config,
known only once a run has trained) and a change of data on disk.
"""

import dataclasses
import datetime
import glob
import hashlib
import os
import shutil
from typing import Dict, List, Optional, Sequence, Tuple

import gin

from tf_kdbias import io_utils, rundir
from tf_kdbias.errors import UserError
from tf_kdbias.training import hparams

STALE_FOLDER = "stale_runs"
GIN_FILE_FLAG = "--gin_file="
GIN_BINDING_FLAG = "--gin_bindings="


@dataclasses.dataclass(frozen=True)
class StaleRun:
    """A finished run that does not match its command's config.

    Args:
      run: the reproduce Run (has `run_dir`, `teacher_dir`, `command`).
      reason: why, in words.
    """

    run: object
    reason: str


def config_digest(config_text: str) -> str:
    """A short digest of a gin config's text."""
    return hashlib.sha256(config_text.encode()).hexdigest()[:16]


def command_gin_args(command: Sequence[str]) -> Tuple[List[str], List[str]]:
    """(gin files, gin bindings) of a script command line, in order."""
    files = [part[len(GIN_FILE_FLAG):] for part in command if part.startswith(GIN_FILE_FLAG)]
    bindings = [part[len(GIN_BINDING_FLAG):] for part in command
                if part.startswith(GIN_BINDING_FLAG)]
    return files, bindings


def command_config(command: Sequence[str]) -> str:
    """The config text a run's command would write to its config.gin.

    Parses the command's gin files and bindings in this process, as the
    script does (this replaces the process's gin config).
    """
    from tf_kdbias import gin_utils

    files, bindings = command_gin_args(command)
    gin_utils.parse_gin(files, bindings)
    try:
        return gin.config_str()
    finally:
        gin.clear_config()


def find_stale_runs(runs: Sequence) -> List[StaleRun]:
    """Finished runs whose config.gin differs from their command's config,
    and finished students of teachers found stale (their teacher will change).

    Args:
      runs: reproduce Runs, teachers first (as `plan_runs` orders them).
    """
    stale: Dict[str, StaleRun] = {}
    for run in runs:
        if not run.finished:
            continue
        recorded = io_utils.read_text(os.path.join(run.run_dir, rundir.CONFIG_FILE))
        if recorded is None:
            stale[run.run_dir] = StaleRun(
                run, f"it has no {rundir.CONFIG_FILE}, so its config is unknown")
            continue
        expected = command_config(run.command)
        if config_digest(recorded) != config_digest(expected):
            stale[run.run_dir] = StaleRun(run, _difference(recorded, expected))
        elif run.teacher_dir in stale:
            stale[run.run_dir] = StaleRun(run, "its teacher run is stale and will be redone")
    return list(stale.values())


def _difference(recorded: str, expected: str) -> str:
    """The first lines that differ between two configs, for the message."""
    def bindings(text):  # Comments and blank lines say nothing about the config.
        return [line for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]

    removed = [line for line in bindings(recorded) if line not in set(bindings(expected))]
    added = [line for line in bindings(expected) if line not in set(bindings(recorded))]
    parts = []
    if removed:
        parts.append(f"it was made with {removed[0]!r}")
    if added:
        parts.append(f"the plan now says {added[0]!r}")
    extra = max(len(removed), len(added)) - 1
    more = f" (and {extra} more changed line(s))" if extra > 0 else ""
    return (" but ".join(parts) or "its config.gin differs in layout") + more


def stale_error(stale: Sequence[StaleRun], workdir: str) -> UserError:
    """The message that stops a sweep which would reuse stale runs."""
    lines = [f"  {os.path.relpath(s.run.run_dir, workdir)}: {s.reason}" for s in stale]
    return UserError(
        f"{len(stale)} finished run(s) under {workdir} were made with another config than "
        "this command gives them, so their results would be reused for a different "
        "experiment:\n" + "\n".join(lines) + "\nRerun with --rerun_changed to move them to "
        f"{os.path.join(workdir, STALE_FOLDER)}/ and train them again under the current "
        "config, or use another --workdir (or restore the old bindings) to keep them.")


def move_aside(stale: Sequence[StaleRun], workdir: str,
               now: Optional[datetime.datetime] = None) -> List[str]:
    """Moves stale run folders to <workdir>/stale_runs/<run name>.<time>/.

    Moved, not deleted: a finished run is evidence, and a binding changed by
    mistake should not cost the runs it replaces. Outside runs/, they are no
    longer part of the table or of the analyses; their HParams session is
    removed too, so that TensorBoard's table (same run names) lists only the
    current runs, while their curves stay viewable under stale_runs/.

    Returns:
      The new paths, in the order of `stale`.
    """
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    moved = []
    for entry in stale:
        name = os.path.relpath(entry.run.run_dir, os.path.join(workdir, rundir.RUNS_FOLDER))
        target = os.path.join(workdir, STALE_FOLDER, f"{name}.{stamp}")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.move(entry.run.run_dir, target)
        for session in glob.glob(os.path.join(target, rundir.TENSORBOARD_FOLDER,
                                              f"*{hparams.SESSION_SUFFIX}")):
            os.remove(session)
        moved.append(target)
    return moved


def check_finished_runs(runs: Sequence, workdir: str, rerun_changed: bool = False,
                        log=print) -> List[str]:
    """Stops with a UserError naming the stale runs, or moves them aside.

    Args:
      runs: the plan (teachers first).
      workdir: the experiment folder.
      rerun_changed: move stale runs to <workdir>/stale_runs/ so that they
        are trained again, instead of stopping.
      log: where to say what was moved.

    Returns:
      The paths stale runs were moved to (empty when none were stale).
    """
    stale = find_stale_runs(runs)
    if not stale:
        return []
    if not rerun_changed:
        raise stale_error(stale, workdir)
    moved = move_aside(stale, workdir)
    for entry, target in zip(stale, moved):
        log(f"{os.path.relpath(entry.run.run_dir, workdir)}: {entry.reason}; moved to "
            f"{target} and will be trained again.")
    return moved
