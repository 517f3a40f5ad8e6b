"""The runs of one setup that differ only by seed, trained in one process.

A paper table trains every setup over several seeds. On a GPU one small run
leaves the device mostly idle, so `run_seed_group` prepares each member as
`run_training` would - its own gin config (the same files and bindings, its
own SEED), data, model, teacher, backup and callbacks - then fits all of
them as one vmapped program (`fused.seeds.SeedGroupFitter`, the fused
engine on Keras' JAX backend), and finishes each in its own run folder:
model.keras, evaluation, config files and metrics.json, exactly the files a
run trained alone leaves. `scripts/reproduce.py --seed_groups` starts one
such process per setup (`scripts/train_seed_group.py`).

A member that finished before is skipped; members resumed from backups of
different epochs are fitted in one group per starting epoch.
"""

import dataclasses
import itertools
import json
import time
from typing import Dict, List, Optional, Sequence

import gin
import keras

from tf_kdbias import gin_utils
from tf_kdbias.errors import UserError
from tf_kdbias.training import function_matching
from tf_kdbias.training.run import (PreparedRun, RunSpec, check_run, describe_run,
                                    finish_run, finished_run_metrics, prepare_run)


@dataclasses.dataclass(frozen=True)
class GroupMember:
    """One run of a seed group: the arguments of its own train/distill command.

    Args:
      gin_files: the run's gin files.
      gin_bindings: its bindings (with its own `SEED = ...`).
      workdir: its run folder.
      teacher_dir: its teacher's finished run, or None.
    """

    gin_files: Sequence[str]
    gin_bindings: Sequence[str]
    workdir: str
    teacher_dir: Optional[str] = None

    @classmethod
    def from_json(cls, text: str) -> "GroupMember":
        """A member from `--member` JSON: {gin_files, gin_bindings, workdir, teacher_dir}."""
        try:
            fields = json.loads(text)
            return cls(tuple(fields["gin_files"]), tuple(fields["gin_bindings"]),
                       fields["workdir"], fields.get("teacher_dir"))
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"--member={text!r} is not a run of a seed group ({e}); give JSON "
                            "like {\"gin_files\": [...], \"gin_bindings\": [...], \"workdir\": "
                            "\"runs/mlp/seed_0\", \"teacher_dir\": null}.") from e

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))


def _check_groupable(spec: RunSpec) -> None:
    """Seed groups need the fused engine (JAX) and plain batches."""
    if keras.config.backend() != "jax" or spec.settings.engine != "fused":
        raise UserError("A seed group trains on the fused engine of Keras' JAX backend: set "
                        "KERAS_BACKEND=jax and TrainSettings.engine = 'fused', or train the "
                        "runs one by one (reproduce without --seed_groups).")
    if function_matching.enabled():
        raise UserError("Seed groups do not train on augmented views (function matching); "
                        "train these runs one by one (reproduce without --seed_groups).")


def _prepare_member(member: GroupMember, data_dir: Optional[str]):
    """(prepared run, its operative config), or (None, metrics) if it finished before."""
    gin_utils.parse_gin(member.gin_files, member.gin_bindings)
    spec = describe_run(member.workdir, data_dir, member.teacher_dir)
    finished = finished_run_metrics(spec.out_dir, spec.config_text)
    if finished is not None:
        return None, finished
    check_run(spec)
    _check_groupable(spec)
    return prepare_run(spec), gin.operative_config_str()


def _fit_together(runs: Sequence[PreparedRun], verbose: int) -> None:
    """Fits runs that start at one epoch as one vmapped program."""
    from tf_kdbias.training.fused.engine import split_elements  # Imports JAX.
    from tf_kdbias.training.fused.seeds import SeedGroupFitter

    settings = runs[0].spec.settings
    if runs[0].recorder.first_epoch >= settings.epochs:
        return  # Killed after the last epoch's backup: nothing left to fit.
    validations = [split_elements(r.validation, r.teacher_logits["validation"]) for r in runs]
    fitter = SeedGroupFitter(
        [r.trainer for r in runs],
        [split_elements(r.train, r.teacher_logits["train"]) for r in runs],
        [r.spec.settings.seed for r in runs], settings.batch_size,
        validations=None if validations[0] is None else validations)
    fitter.fit(settings.epochs, runs[0].recorder.first_epoch, [r.callbacks for r in runs],
               verbose)


def run_seed_group(members: Sequence[GroupMember], data_dir: Optional[str] = None,
                   verbose: int = 2) -> List[Dict]:
    """Trains `members` (one setup, differing only by seed) in this process.

    Returns:
      Each member's metrics.json content, in order (read back for a member
      that finished before). Each records its group in `seed_group`, and as
      its `wall_time_s` an equal share of the group's time to prepare and
      fit (plus its own evaluation).
    """
    start = time.time()
    prepared, configs, metrics = [], [], {}
    for i, member in enumerate(members):
        run, config_or_metrics = _prepare_member(member, data_dir)
        if run is None:
            metrics[i] = config_or_metrics
        else:
            prepared.append((i, run))
            configs.append(config_or_metrics)
    by_epoch = lambda item: item[1].recorder.first_epoch
    for _, group in itertools.groupby(sorted(prepared, key=by_epoch), key=by_epoch):
        _fit_together([run for _, run in group], verbose)
    group_time = time.time() - start
    entry = {"seed_group": {"size": len(prepared), "wall_time_s": round(group_time, 2)}}
    for (i, run), config in zip(prepared, configs):
        metrics[i] = finish_run(run, group_time / len(prepared), config, entry)
    return [metrics[i] for i in range(len(members))]
