"""The teacher of a distillation run: one finished run, identified once."""

import dataclasses
import os

import keras

from tf_kdbias import io_utils, rundir
from tf_kdbias.errors import UserError
from tf_kdbias.models import load_model

CACHE_FOLDER = "logit_cache"  # Inside the teacher's run folder: logits belong to its checkpoint.


@dataclasses.dataclass(frozen=True)
class TeacherRun:
    """A finished run whose model teaches, built once per student run.

    The checkpoint's digest is the teacher's identity: it keys the cached
    teacher logits (plain and on views) and the student's resume key, so a
    retrained teacher is never mistaken for the old one.

    Args:
      run_dir: the teacher's run folder.
      model_path: its checkpoint, `run_dir/model.keras`.
      digest: a digest of the checkpoint's bytes.
      model: the loaded model, frozen (`trainable = False`).

    Example:
      teacher = TeacherRun.load("runs/quick/runs/cnn/seed_0")
      logits = teacher_cache.teacher_logits(teacher, "train", images)
    """

    run_dir: str
    model_path: str
    digest: str
    model: keras.Model

    @classmethod
    def load(cls, run_dir: str) -> "TeacherRun":
        """The finished run in `run_dir`; an unfinished one is a UserError."""
        path = rundir.model_path(run_dir)
        if not os.path.exists(path):
            raise UserError(
                f"Teacher run {run_dir!r} has no {rundir.MODEL_FILE}: it never finished "
                "training. Train it first (scripts/train.py --workdir=...) or point "
                "--teacher_dir at a finished run; the suite never distils from a "
                "random teacher.")
        if not rundir.is_finished(run_dir):
            raise UserError(
                f"Teacher run {run_dir!r} has a {rundir.MODEL_FILE} but no "
                f"{rundir.METRICS_FILE}: it stopped before its evaluation finished. Rerun "
                "its command (it resumes and finishes) before distilling from it.")
        return cls.of_checkpoint(run_dir, load_model(path))

    @classmethod
    def of_checkpoint(cls, run_dir: str, model: keras.Model) -> "TeacherRun":
        """`model`, loaded from `run_dir`'s checkpoint, frozen, identified by its bytes.

        `load` checks that the run finished first; a benchmark's own teacher
        folder (a checkpoint without a run) comes in here directly.
        """
        path = rundir.model_path(run_dir)
        model.trainable = False
        return cls(run_dir, path, io_utils.digest_file(path), model)

    @property
    def cache_dir(self) -> str:
        """Where logits of this teacher are cached."""
        return os.path.join(self.run_dir, CACHE_FOLDER)
