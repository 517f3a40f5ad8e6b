"""One training or distillation run: data, model, fit, evaluate, save.

A run directory holds:
  config.gin / operative_config.gin  the gin config as parsed / as used
  model.keras                         the trained model (student)
  backup/                             resumable state (last epoch; removed when done)
  trajectory/epoch_XXXX.weights.h5    checkpoints at epochs 0, 1, 2, 4, ...
  tensorboard/                        per-epoch scalars (train, validation), config text
  metrics.json                        eval-set metrics, history, provenance

A run is written once: metrics.json appears last, complete (atomic write), and
a folder holding it is never trained again. A run killed before that resumes
from its last epoch backup when the same command is rerun, and computes the
same numbers as an uninterrupted run (on CPU, with op determinism).
"""

import contextlib
import dataclasses
import hashlib
import os
import sys
import time
from typing import Callable, Dict, Optional, Sequence

import gin
import keras

from tf_kdbias import io_utils, tf_support
from tf_kdbias.data.eval_sets import MNIST_EVAL_SETS
from tf_kdbias.data import pipeline
from tf_kdbias.distill import teacher_cache
from tf_kdbias.distill.distiller import Distiller
from tf_kdbias.errors import UserError
from tf_kdbias.training import callbacks as run_callbacks
from tf_kdbias.training import distribute
from tf_kdbias.training import function_matching
from tf_kdbias.training import hparams
from tf_kdbias.training import provenance
from tf_kdbias.training import resume
# Imports no backend; registers the fused engine's gin settings (fused_loop).
from tf_kdbias.training.fused import check_engine
from tf_kdbias.tasks.base import MnistTask, Task
from tf_kdbias.models import load_model
# Re-exported: run_training builds each run's optimizer with it.
from tf_kdbias.optimizers.factory import make_optimizer  # noqa: F401

MODEL_FILE = "model.keras"
ONLINE_TEACHER_FILE = "online_teacher.keras"
METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.gin"
# metrics.json fields that legitimately differ between two runs of the same
# command (timing, where and how often it ran); everything else must match.
NON_REPRODUCIBLE_FIELDS = ("wall_time_s", "resumed_from_epochs", "tf_kdbias_version",
                           "git_commit", "keras_version", "backend")


@gin.configurable
@dataclasses.dataclass
class TrainSettings:
    """How a model is fit.

    Args:
      epochs: passes over the training split.
      batch_size: examples per step.
      seed: seeds weights, dropout, shuffling and the validation carve-out.
      trajectory_checkpoints: save weights at epochs 0, 1, 2, 4, ... and last.
      jit_compile: True, False or 'auto' (TensorFlow: XLA on GPU unless the
        model has a cuDNN LSTM, off on CPU where it slows convolutions down;
        JAX: always on).
      mixed_precision: True, False or 'auto' (float16 compute on GPU, the
        losses and KD math in float32; off on CPU).
      deterministic: True, False or 'auto': TF op determinism (same seed ->
        same numbers; a resumed run equals an uninterrupted one). 'auto' turns
        it on without a GPU, where it costs next to nothing.
      engine: 'standard' (Keras' fit) or 'fused' (JAX backend only: the
        training split on the device and an epoch's steps in one compiled
        call; same batches and math, see tf_kdbias/experiments/fused).
    """

    epochs: int = gin.REQUIRED
    batch_size: int = 128
    seed: int = 0
    trajectory_checkpoints: bool = True
    jit_compile: object = "auto"
    mixed_precision: object = "auto"
    deterministic: object = "auto"
    engine: str = "standard"

    def __post_init__(self):
        check_engine(self.engine, keras.config.backend())  # Fails before any work.


def resolve_jit_compile(setting, model: keras.Model) -> bool:
    """XLA policy for 'auto'.

    TensorFlow: on for GPU, off on CPU (where XLA halves convolution speed),
    never for cuDNN LSTMs (which XLA cannot compile). JAX: always on, since
    JAX without jit dispatches op by op (and has no cuDNN LSTM).
    """
    if setting != "auto":
        return bool(setting)
    if keras.config.backend() == "jax":
        return True
    has_lstm = any(isinstance(layer, keras.layers.LSTM) for layer in model._flatten_layers())
    return keras.config.backend() != "numpy" and _has_gpu() and not has_lstm


def resolve_mixed_precision(setting) -> bool:
    return _has_gpu() if setting == "auto" else bool(setting)


def resolve_deterministic(setting) -> bool:
    return (not _has_gpu()) if setting == "auto" else bool(setting)


@contextlib.contextmanager
def _op_determinism(enabled: bool):
    """Op determinism for the run only, so a caller's process is left as it was.

    TensorFlow only: JAX on CPU is deterministic as it is.
    """
    if keras.config.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf
    # Only `enable_op_determinism` is public; the other two live here.
    from tensorflow.python.framework import config as tf_config

    switch_on = enabled and not tf_config.is_op_determinism_enabled()
    if switch_on:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if switch_on:
            tf_config.disable_op_determinism()


def comparable_metrics(metrics: Dict) -> Dict:
    """metrics.json without NON_REPRODUCIBLE_FIELDS: equal for equal commands."""
    return {k: v for k, v in metrics.items() if k not in NON_REPRODUCIBLE_FIELDS}


def _has_gpu() -> bool:
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf
        return bool(tf.config.list_physical_devices("GPU"))
    if keras.config.backend() == "jax":
        import jax
        return any(d.platform == "gpu" for d in jax.devices())
    return False


def load_teacher(teacher_dir: str) -> keras.Model:
    """Loads a finished run's model; a missing checkpoint is an error."""
    path = os.path.join(teacher_dir, MODEL_FILE)
    if not os.path.exists(path):
        raise UserError(
            f"Teacher run {teacher_dir!r} has no {MODEL_FILE}: it never finished "
            "training. Train it first (scripts/train.py --workdir=...) or point "
            "--teacher_dir at a finished run; the suite never distils from a "
            "random teacher.")
    teacher = load_model(path)
    teacher.trainable = False
    return teacher


def _verbosity() -> int:
    return 1 if sys.stdout.isatty() else 2


def _callbacks(out_dir: str, settings: TrainSettings, backup: resume.EpochBackup):
    cbs = [run_callbacks.StopOnNonFiniteLoss()]
    if tf_support.tensorflow_available():
        # update_freq must stay 'epoch': an int silently drops epoch summaries.
        cbs.append(keras.callbacks.TensorBoard(os.path.join(out_dir, "tensorboard"),
                                               update_freq="epoch", write_graph=False))
    else:
        print("TensorBoard summaries need TensorFlow, which is not installed: this run "
              "records its per-epoch logs in metrics.json ('history') only.", flush=True)
    if settings.trajectory_checkpoints:
        cbs.append(run_callbacks.TrajectoryCheckpoint(
            os.path.join(out_dir, "trajectory"), settings.epochs, backup.first_epoch))
    # Last: an epoch counts as done only once everything above is written.
    return cbs + [backup]


def _save_model_atomic(model: keras.Model, path: str) -> None:
    tmp = path + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)


@gin.configurable
def run_training(run_dir: str, data_dir: Optional[str] = None,
                 teacher_dir: Optional[str] = None,
                 model_fn: Callable[[], keras.Model] = gin.REQUIRED,
                 task: Optional[Task] = None,
                 eval_sets: Sequence[str] = MNIST_EVAL_SETS,
                 online_teacher_fn: Optional[Callable[[], keras.Model]] = None,
                 use_teacher_cache: object = "auto",
                 teacher_cache_dtype: str = "float32",
                 teacher_cache_top_k: Optional[int] = None) -> Dict:
    """Trains `model_fn()` on `task` (distilling from `teacher_dir` if given).

    Args:
      run_dir: output folder (created; resumed if it holds a backup).
      data_dir: local data folder or None for TFDS.
      teacher_dir: a finished run whose model is the teacher; None trains on
        gold labels alone.
      model_fn: builds the (student) model.
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

    Returns:
      The metrics written to `run_dir/metrics.json`.
    """
    start = time.time()
    settings = TrainSettings()
    # First: a multi-worker strategy must exist before other TensorFlow ops.
    strategy = distribute.make_strategy()
    chief = distribute.is_chief(strategy)
    out_dir = distribute.worker_dir(run_dir, strategy)
    _check_writable(out_dir)
    config_text = gin.config_str()
    finished = finished_run_metrics(out_dir, config_text)
    if finished is not None:
        return finished
    task = task or MnistTask()
    eval_sets = task.expand_eval_sets(eval_sets)  # Fail early on bad names.
    teacher_cache.check_format(teacher_cache_dtype, teacher_cache_top_k)  # Fail early.
    with _op_determinism(resolve_deterministic(settings.deterministic)):
        keras.utils.set_random_seed(settings.seed)
        if resolve_mixed_precision(settings.mixed_precision):
            keras.mixed_precision.set_global_policy("mixed_float16")  # KD math stays float32.
        train, validation = task.load_training_splits(data_dir, settings.seed)
        # An empty validation split (e.g. MnistTask.validation_size = 0, the paper's
        # runs on all 60k images) means no validation data and no val_* metrics.
        validation = validation if validation is not None and len(validation) else None
        steps = pipeline.steps_per_epoch(len(train), settings.batch_size)
        with strategy.scope():
            model = model_fn()
            optimizer = make_optimizer(steps)
            jit = resolve_jit_compile(settings.jit_compile, model)
            trainer, teacher, teacher_logits = _make_trainer(
                model, task, optimizer, jit, teacher_dir, online_teacher_fn, steps,
                use_teacher_cache, (teacher_cache_dtype, teacher_cache_top_k), train, validation)
            recorder = _resume_or_start(trainer, run_dir, _run_key(config_text, train, teacher_dir),
                                        settings.epochs, chief)
        _write_config_once(out_dir, config_text)
        task.save_assets(out_dir)
        _fit(trainer, train, validation, teacher_logits, settings, steps, recorder.first_epoch,
             _callbacks(out_dir, settings, recorder))
        _save_model_atomic(model, os.path.join(out_dir, MODEL_FILE))
        if online_teacher_fn is not None:
            _save_model_atomic(teacher, os.path.join(out_dir, ONLINE_TEACHER_FILE))
        results = task.evaluate(model, data_dir, eval_sets)
    metrics = {
        "task": task.name,
        "model": model.name,
        "teacher_dir": os.path.abspath(teacher_dir) if teacher_dir else None,
        "seed": settings.seed,
        "epochs": settings.epochs,
        "eval": results,
        "history": recorder.history_by_metric(),
        "resumed_from_epochs": recorder.resumed_from_epochs,
        "wall_time_s": round(time.time() - start, 2),
        **function_matching.metrics_entry(trainer),  # {} unless FunctionMatching is on.
        "distillation": trainer.hyperparameters() if isinstance(trainer, Distiller) else None,
        **provenance.provenance(),
    }
    # The final eval metrics as TensorBoard scalars too (tensorboard/eval/).
    hparams.log_final_metrics(os.path.join(out_dir, "tensorboard"), results, settings.epochs)
    provenance.write_config(out_dir, "operative_config.gin", gin.operative_config_str())
    # Last and atomic: metrics.json marks the run finished; then backups can go.
    io_utils.write_json_atomic(os.path.join(out_dir, METRICS_FILE), metrics)
    if chief:
        resume.remove_backups(run_dir)
    return metrics


def _resume_or_start(trainer: keras.Model, run_dir: str, key: str, epochs: int,
                     chief: bool) -> resume.EpochBackup:
    """Restores the run's latest backup, if any; returns the per-epoch recorder."""
    # Every worker resumes from the chief's backup, so all start at one epoch.
    backup_dir = os.path.join(run_dir, resume.BACKUP_FOLDER)
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
    path = os.path.join(run_dir, METRICS_FILE)
    if not os.path.exists(path):
        return None
    recorded = io_utils.read_text(os.path.join(run_dir, CONFIG_FILE))
    if recorded is not None and recorded != config_text:
        raise UserError(
            f"{run_dir!r} holds a finished run made with a different gin config (see its "
            f"{CONFIG_FILE}); runs are never overwritten. Choose a new --workdir, or "
            "delete that folder to redo the run.")
    print(f"{run_dir} holds a finished run of this config (metrics.json); nothing to do. "
          "Delete the folder to train it again.", flush=True)
    return io_utils.read_json(path)


def _write_config_once(run_dir: str, config_text: str) -> None:
    """config.gin, unless a resumed run already wrote this very config."""
    if io_utils.read_text(os.path.join(run_dir, CONFIG_FILE)) != config_text:
        provenance.write_config(run_dir, CONFIG_FILE, config_text)


def _run_key(config_text: str, train, teacher_dir: Optional[str]) -> str:
    """What a backup must match to be resumed: config, training data, teacher."""
    parts = [config_text, io_utils.digest_arrays(train.inputs, train.labels)]
    if teacher_dir is not None:
        parts.append(io_utils.digest_file(os.path.join(teacher_dir, MODEL_FILE)))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _make_trainer(model, task, optimizer, jit, teacher_dir, online_teacher_fn,
                  steps_per_epoch, use_teacher_cache, cache_format, train, validation):
    """The model to fit: `model` alone, or a Distiller around it.

    Returns (trainer, teacher or None, {"train": logits, "validation": logits})
    where the logits are cached teacher outputs or None (teacher runs per step).
    """
    no_cache = {"train": None, "validation": None}
    if teacher_dir is not None and online_teacher_fn is not None:
        raise UserError("Both --teacher_dir and run_training.online_teacher_fn are set: "
                        "distil from a trained teacher or train one online, not both.")
    if teacher_dir is None and online_teacher_fn is None:
        loss, metrics = function_matching.alone_objective(task)  # Mixup targets if on.
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit)
        return model, None, no_cache
    if online_teacher_fn is not None:
        teacher = online_teacher_fn()
        with gin.config_scope("teacher"):  # e.g. teacher/make_optimizer.learning_rate
            teacher_optimizer = make_optimizer(steps_per_epoch)
        trainer = Distiller(student=model, teacher=teacher, online=True,
                            teacher_optimizer=teacher_optimizer)
    else:
        teacher = load_teacher(teacher_dir)
        trainer = Distiller(student=model, teacher=teacher)
    trainer.compile(optimizer=optimizer, jit_compile=jit)
    if function_matching.enabled():  # The plain logit cache is of images never trained on.
        return trainer, teacher, function_matching.teacher_logits(
            trainer, teacher, teacher_dir, train, validation, use_teacher_cache, cache_format)
    if not _should_cache(trainer, use_teacher_cache):
        return trainer, teacher, no_cache
    model_path = os.path.join(teacher_dir, MODEL_FILE)
    dtype, top_k = cache_format
    logits = {name: None if split is None else teacher_cache.teacher_logits(
                  teacher, teacher_dir, model_path, name, split.inputs, dtype=dtype, top_k=top_k)
              for name, split in (("train", train), ("validation", validation))}
    return trainer, teacher, logits


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


def format_eval_table(results: Dict[str, Dict[str, Optional[float]]]) -> str:
    """A Markdown table: one row per eval set, one column per metric."""
    metrics = list(dict.fromkeys(m for values in results.values() for m in values))
    lines = ["| eval set | " + " | ".join(metrics) + " |",
             "|---" * (len(metrics) + 1) + "|"]
    for name, values in results.items():
        cells = ["n/a" if values.get(m) is None else f"{values[m]:.4f}" for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
