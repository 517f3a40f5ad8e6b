"""One training or distillation run: data, model, fit, evaluate, save.

What a run folder holds, and when a run counts as finished, is defined in
`tf_kdbias.rundir`. A run is written once: metrics.json appears last,
complete (atomic write), and a folder holding it is never trained again. A
run killed before that resumes from its last epoch backup when the same
command is rerun, and computes the same numbers as an uninterrupted run (on
CPU, with op determinism).
"""

import dataclasses
import hashlib
import os
import sys
import time
from typing import Callable, Dict, Optional, Sequence

import gin
import keras

from tf_kdbias import io_utils, rundir, tf_support
from tf_kdbias.data import pipeline
from tf_kdbias.data.eval_sets import MNIST_EVAL_SETS
from tf_kdbias.distill import teacher_cache
from tf_kdbias.distill.distiller import Distiller
from tf_kdbias.distill.teacher_run import TeacherRun
from tf_kdbias.errors import UserError
from tf_kdbias.models import save_model_atomic
from tf_kdbias.optimizers.factory import make_optimizer
from tf_kdbias.tasks.base import Task
from tf_kdbias.tasks.mnist import MnistTask
from tf_kdbias.training import callbacks as run_callbacks
from tf_kdbias.training import distribute, function_matching, hparams, provenance, resume
from tf_kdbias.training.settings import (TrainSettings, op_determinism, resolve_deterministic,
                                         resolve_jit_compile, resolve_mixed_precision)


@dataclasses.dataclass(frozen=True)
class Teaching:
    """Where a run's teacher comes from, and how its outputs reach the student.

    Args:
      teacher_dir: a finished run whose model teaches; None for no teacher
        or an online one.
      online_teacher_fn: builds a fresh teacher trained with the student.
      use_teacher_cache: True, False or 'auto' (see `run_training`).
      cache_format: (dtype, top_k) of cached logits.
    """

    teacher_dir: Optional[str] = None
    online_teacher_fn: Optional[Callable[[], keras.Model]] = None
    use_teacher_cache: object = "auto"
    cache_format: tuple = ("float32", None)

    def check(self) -> None:
        """Fails early on settings that cannot go together."""
        if self.teacher_dir is not None and self.online_teacher_fn is not None:
            raise UserError("Both --teacher_dir and run_training.online_teacher_fn are set: "
                            "distil from a trained teacher or train one online, not both.")
        teacher_cache.check_format(*self.cache_format)


@dataclasses.dataclass
class RunSpec:
    """What one run is, before any data is loaded or model built (`describe_run`)."""

    run_dir: str
    out_dir: str
    data_dir: Optional[str]
    model_fn: Callable[..., keras.Model]
    task: Task
    eval_sets: Sequence[str]
    teaching: Teaching
    settings: TrainSettings
    strategy: object
    config_text: str


@dataclasses.dataclass
class PreparedRun:
    """A run ready to fit: its data, model, trainer, recorder and callbacks."""

    spec: RunSpec
    train: object
    validation: object
    steps: int
    model: keras.Model
    trainer: keras.Model
    teacher_logits: Dict
    recorder: resume.EpochBackup
    callbacks: list


# Gin name `run_training`: the bindings (`run_training.model_fn = @build_mlp`,
# `run_training.eval_sets = [...]`) configure the run that `run_training` trains.
@gin.configurable("run_training")
def describe_run(run_dir: str, data_dir: Optional[str] = None,
                 teacher_dir: Optional[str] = None,
                 model_fn: Callable[..., keras.Model] = gin.REQUIRED,
                 task: Optional[Task] = None,
                 eval_sets: Sequence[str] = MNIST_EVAL_SETS,
                 online_teacher_fn: Optional[Callable[..., keras.Model]] = None,
                 use_teacher_cache: object = "auto",
                 teacher_cache_dtype: str = "float32",
                 teacher_cache_top_k: Optional[int] = None) -> RunSpec:
    """The run of the current gin config, checked before any work is done.

    Args:
      run_dir: output folder (created; resumed if it holds a backup).
      data_dir: local data folder or None for TFDS.
      teacher_dir: a finished run whose model is the teacher; None trains on
        gold labels alone.
      model_fn: builds the (student) model; SVA builders take the task's
        vocabulary size (`Task.model_kwargs`).
      task: supplies data, evaluation and export (default: MnistTask()).
      eval_sets: named sets evaluated at the end (see data.eval_sets).
      online_teacher_fn: builds a fresh teacher trained together with the
        student (online distillation); excludes `teacher_dir`.
      use_teacher_cache: precompute teacher logits once (inference mode)
        instead of running the teacher at every step. 'auto' caches whenever
        that is exact (frozen teacher in inference mode); True insists and
        refuses settings where a cache would be wrong; False never caches.
      teacher_cache_dtype: 'float32' or 'float16' for cached logits.
      teacher_cache_top_k: keep only the teacher's k largest logits per
        example/token (language models with large vocabularies); None keeps all.
    """
    settings = TrainSettings()
    # First: a multi-worker strategy must exist before other TensorFlow ops.
    strategy = distribute.make_strategy()
    out_dir = distribute.worker_dir(run_dir, strategy)
    _check_writable(out_dir)
    task = task or MnistTask()
    teaching = Teaching(teacher_dir, online_teacher_fn, use_teacher_cache,
                        (teacher_cache_dtype, teacher_cache_top_k))
    return RunSpec(run_dir, out_dir, data_dir, model_fn, task, eval_sets, teaching, settings,
                   strategy, gin.config_str())


def run_training(run_dir: str, data_dir: Optional[str] = None,
                 teacher_dir: Optional[str] = None) -> Dict:
    """Trains the run the gin config describes (distilling from `teacher_dir` if given).

    Returns:
      The metrics written to `run_dir/metrics.json` (read back if the run
      finished before).
    """
    start = time.time()
    spec = describe_run(run_dir, data_dir, teacher_dir)
    finished = finished_run_metrics(spec.out_dir, spec.config_text)
    if finished is not None:
        return finished
    check_run(spec)
    with op_determinism(resolve_deterministic(spec.settings.deterministic)):
        run = prepare_run(spec)
        _fit(run.trainer, run.train, run.validation, run.teacher_logits, spec.settings,
             run.steps, run.recorder.first_epoch, run.callbacks)
        return finish_run(run, time.time() - start)


def check_run(spec: RunSpec) -> None:
    """Fails early on bad eval-set names or teacher settings (UserError)."""
    spec.eval_sets = spec.task.expand_eval_sets(spec.eval_sets)
    spec.teaching.check()


def prepare_run(spec: RunSpec) -> PreparedRun:
    """Seeds, loads data, builds model and trainer, restores a backup, writes config."""
    settings, task = spec.settings, spec.task
    keras.utils.set_random_seed(settings.seed)
    if resolve_mixed_precision(settings.mixed_precision):
        keras.mixed_precision.set_global_policy("mixed_float16")  # KD math stays float32.
    train, validation = task.load_training_splits(spec.data_dir, settings.seed)
    # An empty validation split (e.g. MnistTask.validation_size = 0, the paper's
    # runs on all 60k images) means no validation data and no val_* metrics.
    validation = validation if validation is not None and len(validation) else None
    steps = pipeline.steps_per_epoch(len(train), settings.batch_size)
    teaching = spec.teaching
    with spec.strategy.scope():
        model = spec.model_fn(**task.model_kwargs())
        teacher = None if teaching.teacher_dir is None else TeacherRun.load(teaching.teacher_dir)
        jit = resolve_jit_compile(settings.jit_compile, model)
        trainer, teacher_logits = _make_trainer(model, task, make_optimizer(steps), jit, teacher,
                                                teaching, steps, train, validation)
        recorder = _resume_or_start(trainer, spec.run_dir,
                                    _run_key(spec.config_text, train, teacher), settings.epochs,
                                    distribute.is_chief(spec.strategy))
    _write_config_once(spec.out_dir, spec.config_text)
    task.save_assets(spec.out_dir)
    return PreparedRun(spec, train, validation, steps, model, trainer, teacher_logits, recorder,
                       _callbacks(spec.out_dir, settings, recorder))


def finish_run(run: PreparedRun, wall_time_s: float, operative_config: Optional[str] = None,
               extra: Optional[Dict] = None) -> Dict:
    """Saves the model, evaluates it and records the run; metrics.json last.

    Args:
      run: a fitted run.
      wall_time_s: the run's time, recorded in metrics.json.
      operative_config: the gin config as used (default: gin's, now).
      extra: more metrics.json entries (e.g. the seed group a run trained in).
    """
    spec = run.spec
    save_model_atomic(run.model, rundir.model_path(spec.out_dir))
    if isinstance(run.trainer, Distiller) and run.trainer.online:
        save_model_atomic(run.trainer.teacher,
                           os.path.join(spec.out_dir, rundir.ONLINE_TEACHER_FILE))
    results = spec.task.evaluate(run.model, spec.data_dir, spec.eval_sets)
    metrics = {**_metrics_record(run, results, wall_time_s), **(extra or {})}
    _record(spec, metrics, operative_config or gin.operative_config_str())
    return metrics


def _metrics_record(run: PreparedRun, results: Dict, wall_time_s: float) -> Dict:
    """The content of metrics.json."""
    spec, trainer = run.spec, run.trainer
    teacher_dir = spec.teaching.teacher_dir
    return {
        "task": spec.task.name,
        "model": run.model.name,
        "teacher_dir": os.path.abspath(teacher_dir) if teacher_dir else None,
        "seed": spec.settings.seed,
        "epochs": spec.settings.epochs,
        "eval": results,
        "history": run.recorder.history_by_metric(),
        "resumed_from_epochs": run.recorder.resumed_from_epochs,
        "wall_time_s": round(wall_time_s, 2),
        **function_matching.metrics_entry(trainer),  # {} unless FunctionMatching is on.
        "distillation": trainer.hyperparameters() if isinstance(trainer, Distiller) else None,
        "precision": provenance.precision(),  # e.g. TF32 matmuls: JAX's default on a GPU.
        **provenance.provenance(),
    }


def _record(spec: RunSpec, metrics: Dict, operative_config: str) -> None:
    """Writes what a finished run leaves; metrics.json last, which marks it finished."""
    # The final eval metrics as TensorBoard scalars too (tensorboard/eval/).
    hparams.log_final_metrics(os.path.join(spec.out_dir, rundir.TENSORBOARD_FOLDER),
                              metrics["eval"], metrics["epochs"])
    provenance.write_config(spec.out_dir, rundir.OPERATIVE_CONFIG_FILE, operative_config)
    io_utils.write_json_atomic(rundir.metrics_path(spec.out_dir), metrics)
    if distribute.is_chief(spec.strategy):
        resume.remove_backups(spec.run_dir)  # The run is finished: backups can go.


def _verbosity() -> int:
    return 1 if sys.stdout.isatty() else 2


def _callbacks(out_dir: str, settings: TrainSettings, backup: resume.EpochBackup):
    cbs = [run_callbacks.StopOnNonFiniteLoss()]
    if tf_support.tensorflow_available():
        # update_freq must stay 'epoch': an int silently drops epoch summaries.
        cbs.append(keras.callbacks.TensorBoard(os.path.join(out_dir, rundir.TENSORBOARD_FOLDER),
                                               update_freq="epoch", write_graph=False))
    else:
        print("TensorBoard summaries need TensorFlow, which is not installed: this run "
              "records its per-epoch logs in metrics.json ('history') only.", flush=True)
    if settings.trajectory_checkpoints:
        cbs.append(run_callbacks.TrajectoryCheckpoint(
            os.path.join(out_dir, rundir.TRAJECTORY_FOLDER), settings.epochs, backup.first_epoch))
    # Last: an epoch counts as done only once everything above is written.
    return cbs + [backup]


def _resume_or_start(trainer: keras.Model, run_dir: str, key: str, epochs: int,
                     chief: bool) -> resume.EpochBackup:
    """Restores the run's latest backup, if any; returns the per-epoch recorder."""
    # Every worker resumes from the chief's backup, so all start at one epoch.
    backup_dir = os.path.join(run_dir, rundir.BACKUP_FOLDER)
    backup = resume.latest_backup(backup_dir, key, discard_stale=chief)
    if backup is not None:
        resume.restore(trainer, backup)
        print(f"Resuming from epoch {backup.epoch} of {epochs}: restored the backup in "
              f"{backup.folder}.", flush=True)
    return resume.EpochBackup(backup_dir, key, resumed_from=backup, write=chief)
def _fit(trainer, train, validation, teacher_logits, settings: TrainSettings, steps: int,
         first_epoch: int, callbacks) -> None:
    """Fits epochs `first_epoch` onwards (none if a kill came after the last one)."""
    if first_epoch >= settings.epochs:
        return
    if settings.engine == "fused":
        _fit_fused(trainer, train, validation, teacher_logits, settings, first_epoch, callbacks)
        return
    if function_matching.enabled():  # Augmented views instead of the plain images.
        function_matching.fit(trainer, train, validation, teacher_logits, settings, steps,
                              first_epoch, callbacks, _verbosity())
        return
    train_ds = pipeline.make_epoch_dataset(
        train.inputs, train.labels, teacher_logits["train"], batch_size=settings.batch_size,
        seed=settings.seed, first_epoch=first_epoch, epochs=settings.epochs,
        sample_weight=train.sample_weight)
    validation_ds = None if validation is None else pipeline.make_dataset(
        validation.inputs, validation.labels, teacher_logits["validation"], batch_size=1000,
        sample_weight=validation.sample_weight)
    trainer.fit(train_ds, validation_data=validation_ds, epochs=settings.epochs,
                initial_epoch=first_epoch, steps_per_epoch=steps, callbacks=callbacks,
                verbose=_verbosity(), shuffle=False)  # The dataset shuffles itself.


def _fit_fused(trainer, train, validation, teacher_logits, settings: TrainSettings,
               first_epoch: int, callbacks) -> None:
    """`_fit` on the fused engine (JAX): same batches, callbacks and math."""
    if function_matching.enabled():
        raise UserError("TrainSettings.engine='fused' does not train on augmented views "
                        "(function matching); use TrainSettings.engine='standard'.")
    from tf_kdbias.training.fused import engine  # Imports JAX.
    engine.fit_run(trainer, train, validation, teacher_logits, settings.batch_size,
                   settings.seed, settings.epochs, first_epoch, callbacks, _verbosity())


def finished_run_metrics(run_dir: str, config_text: str) -> Optional[Dict]:
    """metrics.json of a finished run with this config; None if unfinished.

    Runs are written once, so a folder finished under another config is an
    error rather than something to overwrite.
    """
    if not rundir.is_finished(run_dir):
        return None
    recorded = io_utils.read_text(os.path.join(run_dir, rundir.CONFIG_FILE))
    if recorded is not None and recorded != config_text:
        raise UserError(
            f"{run_dir!r} holds a finished run made with a different gin config (see its "
            f"{rundir.CONFIG_FILE}); runs are never overwritten. Choose a new --workdir, or "
            "delete that folder to redo the run.")
    print(f"{run_dir} holds a finished run of this config ({rundir.METRICS_FILE}); nothing to "
          "do. Delete the folder to train it again.", flush=True)
    return rundir.read_metrics(run_dir)


def _write_config_once(run_dir: str, config_text: str) -> None:
    """config.gin, unless a resumed run already wrote this very config."""
    if io_utils.read_text(os.path.join(run_dir, rundir.CONFIG_FILE)) != config_text:
        provenance.write_config(run_dir, rundir.CONFIG_FILE, config_text)


def _run_key(config_text: str, train, teacher: Optional[TeacherRun]) -> str:
    """What a backup must match to be resumed: config, training data, teacher."""
    parts = [config_text, io_utils.digest_arrays(train.inputs, train.labels)]
    if teacher is not None:
        parts.append(teacher.digest)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _make_trainer(model, task, optimizer, jit, teacher: Optional[TeacherRun],
                  teaching: Teaching, steps_per_epoch, train, validation):
    """The model to fit: `model` alone, or a Distiller around it.

    Returns (trainer, {"train": logits, "validation": logits}) where the
    logits are cached teacher outputs or None (the teacher runs per step).
    """
    no_cache = {"train": None, "validation": None}
    if teacher is None and teaching.online_teacher_fn is None:
        loss, metrics = function_matching.alone_objective(task)  # Mixup targets if on.
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit)
        return model, no_cache
    if teaching.online_teacher_fn is not None:
        with gin.config_scope("teacher"):  # e.g. teacher/make_optimizer.learning_rate
            teacher_optimizer = make_optimizer(steps_per_epoch)
        online_teacher = teaching.online_teacher_fn(**task.model_kwargs())
        trainer = Distiller(student=model, teacher=online_teacher, online=True,
                            teacher_optimizer=teacher_optimizer)
    else:
        trainer = Distiller(student=model, teacher=teacher.model)
    trainer.compile(optimizer=optimizer, jit_compile=jit)
    if function_matching.enabled():  # The plain logit cache is of images never trained on.
        return trainer, function_matching.teacher_logits(
            trainer, teacher, train, validation, teaching.use_teacher_cache,
            teaching.cache_format)
    if not _should_cache(trainer, teaching.use_teacher_cache):
        return trainer, no_cache
    dtype, top_k = teaching.cache_format
    return trainer, {name: None if split is None else teacher_cache.teacher_logits(
                         teacher, name, split.inputs, dtype=dtype, top_k=top_k)
                     for name, split in (("train", train), ("validation", validation))}
def _should_cache(trainer: Distiller, use_teacher_cache) -> bool:
    """Caching is exact only for a frozen teacher run in inference mode."""
    reasons = [why for why, applies in (
        ("the teacher trains online", trainer.online),
        ("the teacher runs in training mode (dropout on), so its outputs change "
         "every step", trainer.teacher_training)) if applies]
    if use_teacher_cache is True and reasons:
        raise UserError("run_training.use_teacher_cache=True, but cached teacher logits "
                        f"would be wrong here: {'; '.join(reasons)}. Set "
                        "use_teacher_cache='auto' (or False) to run the teacher every step.")
    if use_teacher_cache not in (True, False, "auto"):
        raise UserError(f"run_training.use_teacher_cache={use_teacher_cache!r}: use True, "
                        "False or 'auto'.")
    return bool(use_teacher_cache) and not reasons


def _check_writable(run_dir: str) -> None:
    try:
        os.makedirs(run_dir, exist_ok=True)
        probe = os.path.join(run_dir, ".write_probe")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise UserError(f"Cannot write to the run directory {run_dir!r} ({e.strerror}); "
                        "choose a --workdir you can write to.") from e
