"""Per-epoch backups from which a killed run continues exactly.

After every epoch the chief writes `backup/epoch_XXXX/` holding

  trainer.weights.h5  model (student and teacher) and optimizer state
  state.json          epochs done, per-epoch logs, dropout RNG states and
                      the run's key; written last and atomically

A folder without a readable state.json is a backup cut short by a kill and is
ignored, so the previous complete backup (kept until the new one is
complete) is used. Together with an epoch order that depends only on (seed,
epoch) (`data.pipeline.make_epoch_dataset`), restoring this state makes a
resumed run compute the same numbers as an uninterrupted one.

Keras' BackupAndRestore is not enough for that: it does not save the
dropout `SeedGenerator` states, forgets the history of earlier epochs, and
writes weights and epoch number as two non-atomic steps.
"""

import dataclasses
import math
import os
import re
import shutil
from typing import Dict, List, Optional

import keras

from tf_kdbias import io_utils
from tf_kdbias.rundir import BACKUP_FOLDER

STATE_FILE = "state.json"
WEIGHTS_FILE = "trainer.weights.h5"
_EPOCH_FOLDER = re.compile(r"^epoch_(\d{4,})$")


@dataclasses.dataclass
class Backup:
    """A complete backup: `epoch` epochs are done; `history` has their logs."""

    folder: str
    epoch: int
    history: List[Dict[str, Optional[float]]]
    seed_states: List[List[int]]
    key: Optional[str] = None
    resumes: List[int] = dataclasses.field(default_factory=list)  # Epochs resumed at before.

    @property
    def weights_path(self) -> str:
        return os.path.join(self.folder, WEIGHTS_FILE)


def _epoch_folders(backup_dir: str) -> List[str]:
    """Backup folders, newest epoch first."""
    if not os.path.isdir(backup_dir):
        return []
    numbered = [(int(m.group(1)), name) for name in os.listdir(backup_dir)
                if (m := _EPOCH_FOLDER.match(name))]
    return [os.path.join(backup_dir, name) for _, name in sorted(numbered, reverse=True)]


def _read_backup(folder: str) -> Optional[Backup]:
    """The backup in `folder`, or None when it was cut short."""
    try:
        state = io_utils.read_json(os.path.join(folder, STATE_FILE))
    except (OSError, ValueError):
        return None
    backup = Backup(folder, int(state["epoch"]), state["history"], state["seed_states"],
                    state.get("key"), state.get("resumes", []))
    return backup if os.path.exists(backup.weights_path) else None


def newest_backup(backup_dir: str) -> Optional[Backup]:
    """The newest complete backup in `backup_dir`, whatever its key."""
    for folder in _epoch_folders(backup_dir):
        backup = _read_backup(folder)
        if backup is not None:
            return backup  # Else it was cut short by a kill; an older one may be complete.
    return None


def latest_backup(backup_dir: str, key: str, discard_stale: bool = True) -> Optional[Backup]:
    """The newest complete backup made under `key`, or None.

    Backups made under another key (another config, data or teacher) are not
    trusted: the run starts from scratch, and they are deleted if
    `discard_stale` (the chief's job in a multi-worker run).
    """
    backup = newest_backup(backup_dir)
    if backup is None or backup.key == key:
        return backup
    print(f"warning: the backup in {backup_dir} was made with another config, data or "
          "teacher; not resuming from it: training from scratch.", flush=True)
    if discard_stale:
        shutil.rmtree(backup_dir, ignore_errors=True)
    return None


def seed_generator_states(model: keras.Model) -> list:
    """The state variables of every dropout (or other) SeedGenerator in `model`.

    `save_weights` leaves them out, so a resumed run would otherwise replay
    the dropout masks of its first epochs.
    """
    seen, states = set(), []
    for variable in model.variables:
        if variable.name == "seed_generator_state" and id(variable) not in seen:
            seen.add(id(variable))
            states.append(variable)
    return states


def restore(trainer: keras.Model, backup: Backup) -> None:
    """Loads weights, optimizer state and RNG states saved in `backup`."""
    if hasattr(trainer, "build_optimizers"):
        trainer.build_optimizers()  # A Distiller's optimizers own distinct variables.
    elif not trainer.optimizer.built:
        trainer.optimizer.build(trainer.trainable_variables)
    trainer.load_weights(backup.weights_path)
    states = seed_generator_states(trainer)
    if len(states) != len(backup.seed_states):
        raise ValueError(f"The backup in {backup.folder} has {len(backup.seed_states)} "
                         f"RNG states but the model has {len(states)}.")
    for variable, value in zip(states, backup.seed_states):
        variable.assign(value)


class EpochBackup(keras.callbacks.Callback):
    """Writes a backup after each epoch and keeps the logs of all epochs.

    Put it last among the callbacks, so that what others write for an epoch
    (e.g. trajectory checkpoints) exists before the epoch counts as done.

    Args:
      backup_dir: `<run_dir>/backup`.
      key: identifies the config, data and teacher; stored in each backup.
      resumed_from: the backup training continues from, or None.
      write: False on non-chief workers of a multi-worker run: they keep the
        history but leave the (shared) backup to the chief.
    """

    def __init__(self, backup_dir: str, key: str, resumed_from: Optional[Backup] = None,
                 write: bool = True):
        super().__init__()
        self.backup_dir = backup_dir
        self.key = key
        self.write = write
        self.history: List[Dict[str, Optional[float]]] = []
        # Epochs at which this run was resumed, recorded in metrics.json.
        self.resumed_from_epochs: List[int] = []
        self.first_epoch = 0  # Where training (re)starts.
        if resumed_from is not None:
            self.history = list(resumed_from.history)
            self.first_epoch = resumed_from.epoch
            self.resumed_from_epochs = resumed_from.resumes + [resumed_from.epoch]

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({name: _json_number(value) for name, value in (logs or {}).items()})
        if self.write:
            self._save(epoch + 1)

    def _save(self, epochs_done: int) -> None:
        folder = os.path.join(self.backup_dir, f"epoch_{epochs_done:04d}")
        shutil.rmtree(folder, ignore_errors=True)  # A leftover of a killed attempt.
        os.makedirs(folder)
        weights_path = os.path.join(folder, WEIGHTS_FILE)
        self.model.save_weights(weights_path)
        _flush_to_disk(weights_path)  # Before state.json declares the backup complete.
        state = {"epoch": epochs_done, "key": self.key, "history": self.history,
                 "resumes": self.resumed_from_epochs,
                 "seed_states": [[int(x) for x in keras.ops.convert_to_numpy(v.value)]
                                 for v in seed_generator_states(self.model)]}
        io_utils.write_json_atomic(os.path.join(folder, STATE_FILE), state)
        for older in _epoch_folders(self.backup_dir):
            if older != folder:
                shutil.rmtree(older, ignore_errors=True)

    def history_by_metric(self) -> Dict[str, List[float]]:
        """{metric: [value per epoch]}, like `keras.callbacks.History.history`."""
        names = list(dict.fromkeys(name for logs in self.history for name in logs))
        return {name: [logs.get(name) for logs in self.history] for name in names}


def _flush_to_disk(path: str) -> None:
    """Survives a host crash too, not only a killed process."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _json_number(value) -> Optional[float]:
    """A float for JSON; NaN/Inf (e.g. a diverged validation loss) become None."""
    value = float(value)
    return value if math.isfinite(value) else None


def remove_backups(run_dir: str) -> None:
    """Drops the backups of a finished run (its model and metrics are written)."""
    shutil.rmtree(os.path.join(run_dir, BACKUP_FOLDER), ignore_errors=True)
