"""The state one slot of a chain hands the next: packed, checked, restored.

`pack_state` writes `state.tgz` holding what the next slot needs and
nothing else, paths relative to the workdir:

  chain/                    the stage plan, the speed measurement, slot reports
  runs/<setup>/seed_<k>/    finished runs: metrics.json, config.gin,
                            operative_config.gin, log.txt; model.keras only for
                            a run that teaches (weights only: `compact_teacher`
                            dropped its optimizer state before any student
                            started); unfinished runs: config.gin, log.txt
                            and their newest complete epoch backup
  runs/<setup>/seed_group_log.txt

plus MANIFEST.json: every file's sha256 and size. Nothing else travels: no
TensorBoard files, trajectory checkpoints, logit caches, older or
incomplete backups, finished students' models. A state larger than
`part_bytes` is cut into state.tgz.000, .001, ... (a device returns files
of at most 16 MiB).

`restore_state` rebuilds a workdir from it on a bare machine: every file
must be in the manifest with its digest, and every manifest entry present;
anything else (a truncated or altered file, a missing part) is a UserError
that names the problem.
"""

import glob
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from typing import Dict, List, Optional, Sequence

from tf_kdbias import io_utils, rundir
from tf_kdbias.errors import UserError

STATE_NAME = "state.tgz"
MANIFEST = "MANIFEST.json"
FORMAT = "tf_kdbias chain state 1"
CHAIN_FOLDER = "chain"
COMPACTED_FILE = "compacted_teachers.json"
RUN_FILES = (rundir.METRICS_FILE, rundir.CONFIG_FILE, rundir.OPERATIVE_CONFIG_FILE,
             rundir.LOG_FILE)
PART_BYTES = 15 * 2 ** 20
_RESTORE_HINT = ("use the state.tgz (or all its .NNN parts) exactly as the last slot wrote it "
                 "into $OUT, or an earlier slot's state")


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def teacher_dirs(runs: Sequence) -> List[str]:
    """Run folders that teach another run of the plan."""
    return list(dict.fromkeys(run.teacher_dir for run in runs if run.teacher_dir))


def state_files(workdir: str, runs: Sequence) -> List[str]:
    """The files (relative to `workdir`) the next slot needs, in a fixed order."""
    from tf_kdbias.training import resume  # pylint: disable=import-outside-toplevel

    teachers = set(teacher_dirs(runs))
    files = []
    chain_dir = os.path.join(workdir, CHAIN_FOLDER)
    if os.path.isdir(chain_dir):
        files += [os.path.join(CHAIN_FOLDER, name) for name in sorted(os.listdir(chain_dir))
                  if os.path.isfile(os.path.join(chain_dir, name))]
    for setup_dir in sorted({os.path.dirname(run.run_dir) for run in runs}):
        group_log = os.path.join(setup_dir, "seed_group_" + rundir.LOG_FILE)
        if os.path.exists(group_log):
            files.append(os.path.relpath(group_log, workdir))
    for run in runs:
        names = [n for n in RUN_FILES if os.path.exists(os.path.join(run.run_dir, n))]
        if run.finished and run.run_dir in teachers:
            names.append(rundir.MODEL_FILE)
        elif not run.finished:
            names = [n for n in names if n != rundir.METRICS_FILE]
            backup = resume.newest_backup(os.path.join(run.run_dir, rundir.BACKUP_FOLDER))
            if backup is not None:
                folder = os.path.relpath(backup.folder, run.run_dir)
                names += [os.path.join(folder, resume.WEIGHTS_FILE),
                          os.path.join(folder, resume.STATE_FILE)]
        files += [os.path.relpath(os.path.join(run.run_dir, n), workdir) for n in names]
    return files


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def pack_state(workdir: str, runs: Sequence, out_dir: str, summary: Optional[Dict] = None,
               part_bytes: int = PART_BYTES) -> Dict:
    """Writes out_dir/state.tgz (or its parts) with MANIFEST.json; returns the manifest.

    Args:
      workdir: the chain's workdir.
      runs: the plan's runs (`plan.plan_runs`).
      out_dir: where the state goes (e.g. $OUT); older state files there are replaced.
      summary: more manifest entries (runs finished, next stage, ...).
      part_bytes: the largest file written; a larger state is cut into parts.
    """
    files = state_files(workdir, runs)
    manifest = {"format": FORMAT, **(summary or {}),
                "files": {f: {"sha256": _sha256(os.path.join(workdir, f)),
                              "bytes": os.path.getsize(os.path.join(workdir, f))}
                          for f in files}}
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".state", suffix=".tmp")
    os.close(fd)
    try:
        with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1).encode())
            for f in files:
                tar.add(os.path.join(workdir, f), arcname=f, recursive=False)
        for old in glob.glob(os.path.join(out_dir, STATE_NAME + "*")):
            os.remove(old)
        _place_parts(tmp, os.path.join(out_dir, STATE_NAME), part_bytes)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    manifest["packed_bytes"] = state_bytes(os.path.join(out_dir, STATE_NAME))
    return manifest


def _place_parts(tmp: str, target: str, part_bytes: int) -> None:
    """Moves `tmp` to `target`, or cuts it into target.000, .001, ... if too large."""
    if os.path.getsize(tmp) <= part_bytes:
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        return
    with open(tmp, "rb") as source:
        for k, chunk in enumerate(iter(lambda: source.read(part_bytes), b"")):
            io_utils.write_bytes_atomic(f"{target}.{k:03d}", chunk)


def state_paths(path: str) -> List[str]:
    """The file(s) of the state at `path`: itself, or its .NNN parts in order."""
    if os.path.isfile(path):
        return [path]
    parts = sorted(glob.glob(glob.escape(path) + ".[0-9][0-9][0-9]"))
    if not parts:
        raise UserError(f"No chain state at {path!r} (nor its parts {path}.000, ...): "
                        f"{_RESTORE_HINT}; or start a fresh chain without --state.")
    expected = [f"{path}.{k:03d}" for k in range(len(parts))]
    if parts != expected:
        raise UserError(f"The chain state {path!r} misses a part ({len(parts)} found, not "
                        f"numbered 000..{len(parts) - 1:03d}): {_RESTORE_HINT}.")
    return parts


def state_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in state_paths(path))


class _Joined(io.RawIOBase):
    """The parts of a state read as one stream."""

    def __init__(self, paths: Sequence[str]):
        self._files = [open(p, "rb") for p in paths]

    def readable(self):
        return True

    def readinto(self, buffer):
        while self._files:
            n = self._files[0].readinto(buffer)
            if n:
                return n
            self._files.pop(0).close()
        return 0

    def close(self):
        for f in self._files:
            f.close()
        super().close()


def _damaged(path: str, why: str) -> UserError:
    return UserError(f"The chain state {path!r} is damaged ({why}); nothing was restored: "
                     f"{_RESTORE_HINT}.")


def _extract_checked(tar: tarfile.TarFile, path: str, target: str) -> Dict:
    """Extracts every member into `target`, checking it against the manifest."""
    manifest, seen = None, set()
    for member in tar:
        name = os.path.normpath(member.name)
        if (not member.isfile() or os.path.isabs(name) or name.startswith("..")):
            raise _damaged(path, f"unexpected entry {member.name!r}")
        data = tar.extractfile(member).read()
        if name == MANIFEST:
            manifest = json.loads(data)
            if manifest.get("format") != FORMAT:
                raise _damaged(path, f"format {manifest.get('format')!r}, not {FORMAT!r}")
            continue
        entry = (manifest or {}).get("files", {}).get(name)
        if entry is None:
            raise _damaged(path, f"{name} is not in its manifest")
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise _damaged(path, f"{name} does not match its sha256")
        destination = os.path.join(target, name)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        with open(destination, "wb") as f:
            f.write(data)
        seen.add(name)
    if manifest is None:
        raise _damaged(path, f"no {MANIFEST}")
    missing = sorted(set(manifest["files"]) - seen)
    if missing:
        raise _damaged(path, f"{len(missing)} file(s) missing, e.g. {missing[0]}")
    return manifest


def restore_state(path: str, workdir: str) -> Dict:
    """Rebuilds `workdir` (absent or empty) from the state at `path`; returns its manifest."""
    workdir = os.path.abspath(workdir)
    if os.path.isdir(workdir) and os.listdir(workdir):
        raise UserError(f"--workdir={workdir} is not empty; restore a chain state into a "
                        "fresh folder (or delete this one first).")
    paths = state_paths(path)
    parent = os.path.dirname(workdir)
    os.makedirs(parent, exist_ok=True)
    target = tempfile.mkdtemp(dir=parent, prefix=".restoring_")
    try:
        with _Joined(paths) as stream, tarfile.open(fileobj=io.BufferedReader(stream),
                                                    mode="r|gz") as tar:
            manifest = _extract_checked(tar, path, target)
        if os.path.isdir(workdir):
            os.rmdir(workdir)
        os.replace(target, workdir)
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) as e:
        raise _damaged(path, f"{type(e).__name__}: {e}") from e
    finally:
        shutil.rmtree(target, ignore_errors=True)
    return manifest


def compacted_teachers(workdir: str) -> Dict[str, str]:
    """Teachers (relative run folders) whose model.keras holds weights only."""
    path = os.path.join(workdir, CHAIN_FOLDER, COMPACTED_FILE)
    return io_utils.read_json(path) if os.path.exists(path) else {}


def teachers_to_compact(workdir: str, runs: Sequence) -> List[str]:
    """Finished teachers not compacted yet, none of whose students has started.

    A student's resume key holds its teacher's file digest, so a teacher is
    rewritten only before any student of it began (else never).
    """
    done = compacted_teachers(workdir)
    started = {run.teacher_dir for run in runs if run.teacher_dir and os.path.isdir(run.run_dir)}
    return [d for d in teacher_dirs(runs)
            if rundir.is_finished(d) and d not in started
            and os.path.relpath(d, workdir) not in done]


def compact_teachers(workdir: str, runs: Sequence) -> List[str]:
    """Rewrites finished teachers' model.keras as float32 weights without optimizer state."""
    from tf_kdbias.models import load_model, save_model_atomic  # Imports Keras.

    compacted = compacted_teachers(workdir)
    todo = teachers_to_compact(workdir, runs)
    for run_dir in todo:
        model = load_model(rundir.model_path(run_dir))  # compile=False: no optimizer.
        if any(w.dtype != "float32" for w in model.weights):
            raise UserError(f"{run_dir}'s model has non-float32 weights; the chain carries "
                            "float32 teachers (the authors' recipe trains in float32).")
        save_model_atomic(model, rundir.model_path(run_dir))
        compacted[os.path.relpath(run_dir, workdir)] = io_utils.digest_file(
            rundir.model_path(run_dir))
    if todo:
        io_utils.write_json_atomic(os.path.join(workdir, CHAIN_FOLDER, COMPACTED_FILE), compacted)
    return todo
