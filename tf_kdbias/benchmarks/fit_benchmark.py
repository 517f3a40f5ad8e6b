"""Side-by-side timings of student-only training and three ways to distil.

Everything runs in one process on the same data, with the same seed (so the
same initial student weights and batch order), optimizer, batch size and
number of steps for every variant. Per variant we time each epoch with
`time.perf_counter` and report the median epoch *excluding the first*, which
traces (and, with jit_compile, compiles) the training step.

MNIST rows (CNN teacher -> the paper's MLP), see `MNIST_VARIANTS`:
  student_only                  plain compile(loss=SparseCE(from_logits)) + fit
  student_only_jit              the same with jit_compile=True (XLA)
  student_only_in_memory        the same fed pre-materialised batches
  student_only_legacy_pipeline  the same fed the pre-fix `make_dataset`
  ours_cached                   our Distiller, teacher logits cached in the batches
  ours_cached_jit               the same with jit_compile=True
  ours_per_step                 our Distiller running the teacher every step
  keras_distiller               keras.distillation.Distiller, same T and loss

Optional SVA rows (LSTM teacher -> causal Transformer-seq student) repeat
the four main variants on the synthetic agreement grammar.

docs/BENCHMARKS.md explains the rows, ratios and targets.
"""

import dataclasses
import math
import os
import platform
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import keras
import numpy as np

from tf_kdbias import io_utils
from tf_kdbias.data.mnist import load_mnist
from tf_kdbias.data.pipeline import make_dataset, make_epoch_dataset
from tf_kdbias.distill import teacher_cache
from tf_kdbias.distill.distiller import INPUTS_KEY, TEACHER_LOGITS_KEY, Distiller
from tf_kdbias.errors import UserError
from tf_kdbias.training.run import MODEL_FILE, load_teacher, make_optimizer
from tf_kdbias.models.cnn import build_cnn
from tf_kdbias.models.mlp import build_mlp

# The targets: ratio name -> the largest acceptable value.
TARGETS = {
    "cached_over_student_only": 1.10,
    "ours_cached_over_keras_distiller": 0.2,
    "pipeline_overhead": 0.05,
}
# Ours-cached and Keras' Distiller train the same student on the same soft
# targets, so their test accuracies should agree to within this.
ACCURACY_TOLERANCE = 0.005

SMALL_CNN_TEACHER = {"filters": (32, 32, 32), "maxout_units": (16, 16, 16), "pool_sizes": (2, 2, 1)}
QUICK_SVA_TEACHER = {"embedding_dim": 64, "hidden_dim": 64, "hidden_dropout": 0.2}
QUICK_SVA_STUDENT = {"hidden_dim": 64, "num_layers": 2, "num_heads": 4,
                     "residual_dropout": 0.1, "attention_dropout": 0.1}

NOTES = (
    "keras_distiller uses LogitsDistillation(temperature=T, loss=keras.losses.KLDivergence()): "
    "only a KLDivergence *object* makes Keras apply the softmax to the T-scaled logits and "
    "multiply by T^2; the default string loss 'kl_divergence' skips both (it feeds raw "
    "scaled logits to the KL), which is not Hinton's loss.",
    "keras_distiller has student_loss_weight=0 (pure distillation, like our distill_rate=1). "
    "Its compute_loss leaves out the student's regularisation losses (the MLP's L1/L2 "
    "penalties); our Distiller adds them. Both compute the same KD term (tested).",
    "Rows are fed make_epoch_dataset, the pipeline training runs use (pipeline "
    "'epoch_dataset'). student_only_in_memory feeds batches cached in memory (unshuffled, "
    "filled during the untimed first epoch): the cheapest input a Keras fit() can get. "
    "pipeline_overhead = student_only / student_only_in_memory - 1.",
    "mnist_paper_cnn/keras_distiller (quick mode) runs Keras' Distiller with the paper's "
    "CNN as teacher for a few steps per epoch and scales the median step time to a full "
    "epoch; the CNN -> MLP speed target is judged on it, since ours_cached costs the same "
    "whatever the teacher.",
    "fit_exit_s is the time from the last epoch's on_epoch_end to fit() returning; the stall "
    "probe times the destruction of a finished epoch's tf.data iterator, which fit() does "
    "on return.",
    "On CPU, jit_compile=True is slow because of Dropout: XLA's CPU random-number "
    "generation made an MLP step ~8x slower here, while without dropout XLA and plain TF "
    "steps cost about the same.",
)


@dataclasses.dataclass
class SvaSettings:
    """The optional SVA workload: LSTM teacher -> Transformer-seq student."""

    num_train: int = 2000
    num_test: int = 1000
    epochs: int = 3
    batch_size: int = 64
    temperature: float = 1.0  # SETUP.md: the paper's SVA distillation used T=1.
    learning_rate: float = 1e-3
    teacher_epochs: int = 3
    teacher_kwargs: Dict = dataclasses.field(default_factory=lambda: dict(QUICK_SVA_TEACHER))
    student_kwargs: Dict = dataclasses.field(default_factory=lambda: dict(QUICK_SVA_STUDENT))


@dataclasses.dataclass
class BenchmarkSettings:
    """What the benchmark runs; `quick_settings` and `full_settings` are presets.

    Args:
      mode: 'quick', 'full' or 'custom' (recorded only).
      epochs: epochs per variant; the first is traced and not timed.
      batch_size, learning_rate, seed, temperature: shared by every variant.
      train_size: MNIST training examples (None: the full 55k split).
      test_size: MNIST test examples for the accuracies (None: all 10k).
      teacher_kwargs: `build_cnn` arguments of the teacher ({}: the paper's CNN).
      teacher_epochs: epochs the teacher trains when it is not loaded.
      paper_teacher_steps: also time Keras' Distiller with the paper's CNN as
        teacher over this many steps per epoch (quick mode, whose own teacher
        is small); None: no such row.
      student_kwargs: `build_mlp` arguments ({}: the paper's MLP).
      jit: add the jit_compile=True rows.
      variants: names of the MNIST rows to run (None: all of `MNIST_VARIANTS`).
      stall_trials: finished iterators destroyed per pipeline in the stall probe.
      sva: the SVA workload's settings, or None to skip it.
    """

    mode: str = "custom"
    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    temperature: float = 5.0
    train_size: Optional[int] = None
    test_size: Optional[int] = None
    teacher_kwargs: Dict = dataclasses.field(default_factory=lambda: dict(SMALL_CNN_TEACHER))
    # One epoch is not enough: the CNN's BatchNorm statistics still lag its
    # weights and its test accuracy is near chance.
    teacher_epochs: int = 2
    paper_teacher_steps: Optional[int] = None
    student_kwargs: Dict = dataclasses.field(default_factory=dict)
    jit: bool = True
    variants: Optional[Sequence[str]] = None
    stall_trials: int = 5
    sva: Optional[SvaSettings] = None


def quick_settings() -> BenchmarkSettings:
    """Under 5 minutes on 2 idle cores: a small CNN teacher, 3 epochs per row,
    Keras' Distiller with the paper's CNN timed over 30 steps per epoch, no
    XLA rows (slow on CPU, see docs) and no SVA rows."""
    return BenchmarkSettings(mode="quick", paper_teacher_steps=30, jit=False, sva=None)


def full_settings() -> BenchmarkSettings:
    """The paper's CNN teacher (slow on CPU: train it once with --teacher_dir)."""
    return BenchmarkSettings(mode="full", epochs=6, teacher_kwargs={}, teacher_epochs=3,
                             stall_trials=10,
                             sva=SvaSettings(num_train=10000, num_test=5000, epochs=4))


def with_overrides(settings: BenchmarkSettings, jit: Optional[bool] = None,
                   sva: Optional[bool] = None, variants: Optional[Sequence[str]] = None,
                   epochs: Optional[int] = None) -> BenchmarkSettings:
    """`settings` with the command line's choices; None keeps the preset's."""
    changes = {"variants": variants, "epochs": epochs, "jit": jit}
    changes = {name: value for name, value in changes.items() if value is not None}
    if sva is not None:
        changes["sva"] = (settings.sva or SvaSettings()) if sva else None
    return dataclasses.replace(settings, **changes)


@dataclasses.dataclass(frozen=True)
class Variant:
    """One row: which trainer, fed by which pipeline, with or without XLA."""

    name: str
    trainer: str  # student_only | ours_cached | ours_per_step | keras_distiller
    description: str
    # epoch_dataset (make_epoch_dataset, what runs train on) | make_dataset |
    # in_memory | legacy_pipeline
    pipeline: str = "epoch_dataset"
    jit: bool = False
    # Time only this many steps per epoch and scale the step time up to a full
    # epoch (rows whose every step runs an expensive teacher).
    timed_steps: Optional[int] = None


MNIST_VARIANTS = (
    Variant("student_only", "student_only", "MLP alone on gold labels (plain compile + fit)"),
    Variant("student_only_jit", "student_only", "student_only with jit_compile=True", jit=True),
    Variant("student_only_in_memory", "student_only",
            "student_only fed batches cached in memory", pipeline="in_memory"),
    Variant("student_only_legacy_pipeline", "student_only",
            "student_only fed make_dataset as it was before the fit()-exit fix",
            pipeline="legacy_pipeline"),
    Variant("ours_cached", "ours_cached", "our Distiller, cached teacher logits in the batches"),
    Variant("ours_cached_jit", "ours_cached", "ours_cached with jit_compile=True", jit=True),
    Variant("ours_per_step", "ours_per_step", "our Distiller, teacher run at every step"),
    Variant("keras_distiller", "keras_distiller",
            "keras.distillation.Distiller + LogitsDistillation(T, KLDivergence())"),
)
SVA_VARIANTS = tuple(v for v in MNIST_VARIANTS
                     if v.name in ("student_only", "ours_cached", "ours_per_step",
                                   "keras_distiller"))


@dataclasses.dataclass
class Workload:
    """A teacher, a student builder and the data every variant trains on."""

    name: str
    inputs: np.ndarray
    labels: np.ndarray
    teacher: keras.Model
    teacher_logits: np.ndarray
    build_student: Callable[[], keras.Model]
    test_accuracy: Callable[[keras.Model], float]
    epochs: int
    batch_size: int
    learning_rate: float
    temperature: float
    info: Dict


# ---------------------------------------------------------------- timing


class EpochTimer(keras.callbacks.Callback):
    """Records each epoch's wall time, each step's time and when the last epoch ended.

    A step's time runs from the previous step's end (or the epoch's start)
    to its own end, so it includes waiting for the input pipeline.
    """

    def __init__(self):
        super().__init__()
        self.durations: List[float] = []
        self.step_durations: List[List[float]] = []
        self.last_epoch_end: Optional[float] = None
        self._epoch_start = None
        self._last_mark = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self._last_mark = time.perf_counter()
        self.step_durations.append([])

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.step_durations[-1].append(now - self._last_mark)
        self._last_mark = now

    def on_epoch_end(self, epoch, logs=None):
        self.last_epoch_end = time.perf_counter()
        self.durations.append(self.last_epoch_end - self._epoch_start)


def _require_a_timed_epoch(epochs: int) -> None:
    if epochs < 2:
        raise UserError(f"Got {epochs} epoch(s); the benchmark needs at least 2 "
                        "because the first one (tracing) is not timed. Raise --epochs.")


def median_epoch_time(durations: Sequence[float]) -> float:
    """Median epoch time without the first epoch, which traces the step."""
    _require_a_timed_epoch(len(durations))
    return float(statistics.median(durations[1:]))


def robust_epoch_time(step_durations: Sequence[Sequence[float]]) -> float:
    """Median step time of the timed epochs (all but the first) x steps per epoch.

    On a machine shared with other tenants a burst of their load lands in
    some steps; the median step ignores it, where an epoch's wall time would
    not. Validation after each epoch is left out either way.
    """
    _require_a_timed_epoch(len(step_durations))
    timed = [d for epoch in step_durations[1:] for d in epoch]
    return float(statistics.median(timed)) * len(step_durations[-1])


def time_fit(trainer: keras.Model, dataset, epochs: int,
             steps_per_epoch: Optional[int] = None) -> Dict:
    """Fits and returns epoch times, their robust median and the fit() exit time."""
    timer = EpochTimer()
    trainer.fit(dataset, epochs=epochs, verbose=0, callbacks=[timer], shuffle=False,
                steps_per_epoch=steps_per_epoch)
    returned = time.perf_counter()
    epoch_s = robust_epoch_time(timer.step_durations)
    return {"median_epoch_s": epoch_s,
            "median_step_s": epoch_s / len(timer.step_durations[-1]),
            "median_wall_epoch_s": median_epoch_time(timer.durations),
            "epochs_timed": len(timer.durations) - 1,
            "epoch_s": list(timer.durations),
            "fit_exit_s": returned - timer.last_epoch_end}


# ---------------------------------------------------------------- trainers


def _sparse_ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _accuracy_metric():
    return keras.metrics.SparseCategoricalAccuracy(name="accuracy")


def build_our_distiller(student: keras.Model, temperature: float,
                        teacher: Optional[keras.Model] = None) -> Distiller:
    """Pure distillation (r=1) with T^2 * KL; no teacher = cached logits."""
    return Distiller(student=student, teacher=teacher, temperature=temperature,
                     distill_rate=1.0, kd_loss="kl")


def build_keras_distiller(teacher: keras.Model, student: keras.Model,
                          temperature: float) -> keras.distillation.Distiller:
    """Keras' Distiller configured to compute our KD loss (see NOTES[0]).

    student_loss_weight=0 is Keras' name for pure distillation (our r=1).
    """
    kd = keras.distillation.LogitsDistillation(temperature=temperature,
                                               loss=keras.losses.KLDivergence())
    return keras.distillation.Distiller(teacher=teacher, student=student,
                                        distillation_losses=kd, student_loss_weight=0.0)


def _make_trainer(variant: Variant, student: keras.Model, workload: Workload,
                  optimizer) -> keras.Model:
    """The model whose fit() is timed, compiled with `optimizer`."""
    if variant.trainer == "student_only":
        student.compile(optimizer=optimizer, loss=_sparse_ce(), metrics=[_accuracy_metric()],
                        jit_compile=variant.jit)
        return student
    if variant.trainer == "keras_distiller":
        trainer = build_keras_distiller(workload.teacher, student, workload.temperature)
        # The student loss is required by compile() but weighted 0.
        trainer.compile(optimizer=optimizer, loss=_sparse_ce(), metrics=[_accuracy_metric()],
                        jit_compile=variant.jit)
        return trainer
    teacher = workload.teacher if variant.trainer == "ours_per_step" else None
    trainer = build_our_distiller(student, workload.temperature, teacher)
    trainer.compile(optimizer=optimizer, jit_compile=variant.jit)
    return trainer


# ---------------------------------------------------------------- pipelines


def legacy_make_dataset(inputs, labels, teacher_logits=None, batch_size: int = 128,
                        shuffle: bool = False, seed: int = 0):
    """`make_dataset` as it was before the fit()-exit fix, for before/after rows.

    It sliced every example into tf.data, shuffled the examples themselves
    and let tf.data autotune the prefetch buffer.
    """
    import tensorflow as tf

    features = inputs if teacher_logits is None else {
        INPUTS_KEY: inputs, TEACHER_LOGITS_KEY: teacher_logits}
    dataset = tf.data.Dataset.from_tensor_slices((features, labels))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _dataset_for(variant: Variant, workload: Workload, seed: int):
    logits = workload.teacher_logits if variant.trainer == "ours_cached" else None
    if variant.pipeline == "epoch_dataset":
        return make_epoch_dataset(workload.inputs, workload.labels, logits,
                                  workload.batch_size, seed=seed, epochs=workload.epochs)
    if variant.pipeline == "legacy_pipeline":
        return legacy_make_dataset(workload.inputs, workload.labels, logits,
                                   workload.batch_size, shuffle=True, seed=seed)
    in_memory = variant.pipeline == "in_memory"
    dataset = make_dataset(workload.inputs, workload.labels, logits, workload.batch_size,
                           shuffle=not in_memory, seed=seed)
    # Cached batches skip all per-step pipeline work after the first epoch.
    return dataset.cache() if in_memory else dataset


def time_iterator_teardown(dataset, trials: int) -> List[float]:
    """Seconds to destroy a finished epoch's iterator, as fit() does on return.

    Like Keras, each trial reads exactly one epoch of batches (never asking
    past the end) and creates the next epoch's iterator before the finished
    one goes.
    """
    steps = int(dataset.cardinality())
    seconds = []
    for _ in range(trials):
        finished = iter(dataset)
        for _ in range(steps):
            next(finished)
        upcoming = iter(dataset)
        start = time.perf_counter()
        del finished
        seconds.append(time.perf_counter() - start)
        del upcoming
    return seconds


def stall_probe(workload: Workload, trials: int, seed: int) -> Dict:
    """Iterator teardown times of the pre-fix and current pipelines."""
    pipelines = {
        "legacy_pipeline": legacy_make_dataset(workload.inputs, workload.labels,
                                               workload.teacher_logits, workload.batch_size,
                                               shuffle=True, seed=seed),
        "make_dataset": make_dataset(workload.inputs, workload.labels, workload.teacher_logits,
                                     workload.batch_size, shuffle=True, seed=seed),
    }
    probe = {}
    for name, dataset in pipelines.items():
        seconds = time_iterator_teardown(dataset, trials)
        probe[name] = {"teardown_s": [round(s, 4) for s in seconds],
                       "median_s": float(statistics.median(seconds)), "max_s": max(seconds)}
    return probe


# ---------------------------------------------------------------- variants


def run_variant(workload: Workload, variant: Variant, seed: int) -> Dict:
    """Trains a fresh student (same seed for every variant) and times it.

    A row with `timed_steps` runs epochs of that many steps and reports the
    median step time times a full epoch's steps; its student is not fully
    trained, so it reports no test accuracy.
    """
    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    student = workload.build_student()
    steps_per_epoch = math.ceil(len(workload.labels) / workload.batch_size)
    optimizer = make_optimizer(steps_per_epoch, name="adam",
                               learning_rate=workload.learning_rate)
    trainer = _make_trainer(variant, student, workload, optimizer)
    fit_steps = variant.timed_steps or steps_per_epoch
    # The epoch dataset holds all epochs in one stream: fit must know an epoch's steps.
    timing = time_fit(trainer, _dataset_for(variant, workload, seed), workload.epochs,
                      fit_steps if variant.pipeline == "epoch_dataset" else None)
    row = {"workload": workload.name, "name": variant.name,
           "description": variant.description, **timing, "test_accuracy": None,
           "jit_compile": variant.jit, "trainer": variant.trainer, "pipeline": variant.pipeline,
           "steps_per_epoch": steps_per_epoch}
    if variant.timed_steps:
        row.update(timed_steps=variant.timed_steps,
                   median_epoch_s=timing["median_epoch_s"] * steps_per_epoch / fit_steps)
    else:
        row["test_accuracy"] = workload.test_accuracy(student)
    row["row_wall_s"] = time.perf_counter() - start
    return row


def mnist_variants(jit: bool, names: Optional[Sequence[str]] = None) -> List[Variant]:
    """The MNIST rows to run: all, or those named, less the XLA ones if not `jit`."""
    known = {v.name for v in MNIST_VARIANTS}
    unknown = sorted(set(names or ()) - known)
    if unknown:
        raise UserError(f"Unknown benchmark variant(s) {unknown}; choose from {sorted(known)}.")
    return [v for v in MNIST_VARIANTS
            if (jit or not v.jit) and (names is None or v.name in names)]


# ---------------------------------------------------------------- ratios


def _median_of(rows: Sequence[Dict], name: str, workload: str) -> Optional[float]:
    for row in rows:
        if row["name"] == name and row.get("workload", "mnist") == workload:
            return row["median_epoch_s"]
    return None


def _ratio(numerator: Optional[float], denominator: Optional[float]) -> Optional[float]:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def compute_ratios(rows: Sequence[Dict], workload: str = "mnist") -> Dict[str, Optional[float]]:
    """Median-epoch ratios of one workload's rows (None where a row is missing)."""
    def median(name):
        return _median_of(rows, name, workload)

    paper_cnn = _median_of(rows, "keras_distiller", PAPER_CNN_WORKLOAD)
    ratios = {
        "cached_over_student_only": _ratio(median("ours_cached"), median("student_only")),
        # Quick mode: our cached row against Keras' Distiller with the paper's
        # CNN as teacher (the cached row's cost does not depend on the teacher).
        "ours_cached_over_keras_distiller_paper_cnn": _ratio(median("ours_cached"), paper_cnn),
        "ours_cached_over_keras_distiller": _ratio(median("ours_cached"),
                                                   median("keras_distiller")),
        "per_step_over_cached": _ratio(median("ours_per_step"), median("ours_cached")),
        "student_only_jit_over_no_jit": _ratio(median("student_only_jit"),
                                               median("student_only")),
        "cached_jit_over_no_jit": _ratio(median("ours_cached_jit"), median("ours_cached")),
    }
    for suffix, pipeline_row in (("", "student_only"), ("_legacy", "student_only_legacy_pipeline")):
        relative = _ratio(median(pipeline_row), median("student_only_in_memory"))
        ratios["pipeline_overhead" + suffix] = None if relative is None else relative - 1.0
    return ratios


def _accuracy_of(rows: Sequence[Dict], name: str, workload: str) -> Optional[float]:
    for row in rows:
        if row["name"] == name and row.get("workload", "mnist") == workload:
            return row["test_accuracy"]
    return None


def evaluate_targets(ratios: Dict[str, Optional[float]], rows: Sequence[Dict],
                     workload: str = "mnist") -> List[Dict]:
    """Each target with its value and whether it is met (None: not measured)."""
    checks = []
    for name, limit in TARGETS.items():
        # The CNN -> MLP target is about the paper's CNN: judge on it when measured.
        if name == "ours_cached_over_keras_distiller" and ratios.get(name + "_paper_cnn"):
            name += "_paper_cnn"
        value = ratios.get(name)
        checks.append({"name": name, "value": value, "target": f"<= {limit}",
                       "met": None if value is None else value <= limit})
    ours = _accuracy_of(rows, "ours_cached", workload)
    keras_acc = _accuracy_of(rows, "keras_distiller", workload)
    gap = None if ours is None or keras_acc is None else abs(ours - keras_acc)
    checks.append({"name": "accuracy_gap_ours_cached_vs_keras_distiller", "value": gap,
                   "target": f"<= {ACCURACY_TOLERANCE}",
                   "met": None if gap is None else gap <= ACCURACY_TOLERANCE})
    return checks


# ---------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _gpu_names() -> List[str]:
    import tensorflow as tf

    names = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        names.append(details.get("device_name", device.name))
    return names


def machine_info() -> Dict:
    """The hardware and software stack; the load average flags a busy machine."""
    import tensorflow as tf

    return {"cpu_model": _cpu_model(), "cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "backend": keras.config.backend(), "gpu": _gpu_names(),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_1m_at_start": round(os.getloadavg()[0], 2)}


# ---------------------------------------------------------------- workloads


def classification_accuracy(model: keras.Model, inputs: np.ndarray, labels: np.ndarray,
                            batch_size: int = 1000) -> float:
    """Top-1 accuracy. Eager calls: predict() would trace every fresh model."""
    correct = 0
    for start in range(0, len(labels), batch_size):
        logits = model(inputs[start:start + batch_size], training=False)
        correct += int(np.sum(np.argmax(logits, axis=-1) == labels[start:start + batch_size]))
    return correct / len(labels)


def _fit_teacher(teacher: keras.Model, inputs, labels, epochs: int, batch_size: int,
                 seed: int) -> None:
    teacher.compile(optimizer=keras.optimizers.Adam(1e-3), loss=_sparse_ce(),
                    jit_compile=False)
    teacher.fit(make_dataset(inputs, labels, batch_size=batch_size, shuffle=True, seed=seed),
                epochs=epochs, verbose=0, shuffle=False)  # The dataset shuffles itself.


def _save_model_atomic(model: keras.Model, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)


def mnist_teacher(settings: BenchmarkSettings, images, labels,
                  teacher_dir: Optional[str]):
    """(teacher, info): loaded from `teacher_dir`, else trained (and saved there)."""
    model_path = os.path.join(teacher_dir, MODEL_FILE) if teacher_dir else None
    if model_path and os.path.exists(model_path):
        return load_teacher(teacher_dir), {"source": f"loaded from {model_path}"}
    keras.utils.set_random_seed(settings.seed)
    teacher = build_cnn(**settings.teacher_kwargs)
    start = time.perf_counter()
    _fit_teacher(teacher, images, labels, settings.teacher_epochs, settings.batch_size,
                 settings.seed)
    info = {"source": f"trained {settings.teacher_epochs} epoch(s)",
            "train_s": time.perf_counter() - start}
    if model_path:
        _save_model_atomic(teacher, model_path)
        info["source"] += f", saved to {model_path}"
    teacher.trainable = False
    return teacher, info


def _mnist_teacher_logits(teacher, images, teacher_dir: Optional[str]) -> np.ndarray:
    if teacher_dir is None:
        return teacher.predict(images, batch_size=1000, verbose=0).astype("float32")
    return teacher_cache.teacher_logits(teacher, teacher_dir,
                                        os.path.join(teacher_dir, MODEL_FILE),
                                        "benchmark_train", images)


def mnist_workload(settings: BenchmarkSettings, data_dir: Optional[str],
                   teacher_dir: Optional[str], log=print) -> Workload:
    splits = load_mnist(data_dir, seed=settings.seed, train_size=settings.train_size)
    train, test = splits.train, splits.test
    if settings.test_size is not None:
        test = test.take(np.arange(settings.test_size))
    log(f"MNIST: {len(train)} training, {len(test)} test examples; preparing the teacher")
    teacher, info = mnist_teacher(settings, train.images, train.labels, teacher_dir)
    start = time.perf_counter()
    logits = _mnist_teacher_logits(teacher, train.images, teacher_dir)
    info.update(name=teacher.name, params=teacher.count_params(),
                logits_s=time.perf_counter() - start,
                test_accuracy=classification_accuracy(teacher, test.images, test.labels))
    log(f"teacher {teacher.name}: {info['source']}, test accuracy "
        f"{info['test_accuracy']:.4f}")
    return Workload(
        name="mnist", inputs=train.images, labels=train.labels, teacher=teacher,
        teacher_logits=logits, build_student=lambda: build_mlp(**settings.student_kwargs),
        test_accuracy=lambda model: classification_accuracy(model, test.images, test.labels),
        epochs=settings.epochs, batch_size=settings.batch_size,
        learning_rate=settings.learning_rate, temperature=settings.temperature,
        info={"teacher": info, "train_examples": len(train), "test_examples": len(test)})


PAPER_CNN_WORKLOAD = "mnist_paper_cnn"


def _variant(name: str) -> Variant:
    return next(v for v in MNIST_VARIANTS if v.name == name)


def paper_cnn_workload(mnist: Workload, seed: int) -> Workload:
    """The MNIST workload with the paper's CNN as the (per-step) teacher.

    Untrained: its weights do not change what a forward pass costs, and rows
    on this workload only time steps.
    """
    keras.utils.set_random_seed(seed)
    teacher = build_cnn()
    teacher.trainable = False
    return dataclasses.replace(mnist, name=PAPER_CNN_WORKLOAD, teacher=teacher,
                               teacher_logits=None,
                               info={"teacher": "build_cnn() (the paper's), untrained",
                                     "params": teacher.count_params()})


def sva_workload(sva: SvaSettings, seed: int, log=print) -> Optional[Workload]:
    """The synthetic-SVA workload, or None (with a note) if SVA is not installed."""
    try:
        from tf_kdbias.data.sva.sources import GrammarSource
        from tf_kdbias.tasks.sva import SvaClassificationTask
        from tf_kdbias.models import sva as sva_models
    except ImportError as e:
        log(f"note: SVA rows skipped: tf_kdbias.models.sva is not importable ({e}).")
        return None
    task = SvaClassificationTask(GrammarSource(num_train=sva.num_train, num_validation=10,
                                               num_test=sva.num_test))
    train, _ = task.load_training_splits(None, seed)
    vocabulary_size = len(task.vocabulary)
    keras.utils.set_random_seed(seed)
    teacher = sva_models.build_lstm_classifier(vocabulary_size, **sva.teacher_kwargs)
    _fit_teacher(teacher, train.inputs, train.labels, sva.teacher_epochs, sva.batch_size, seed)
    teacher.trainable = False
    logits = teacher.predict(train.inputs, batch_size=1000, verbose=0).astype("float32")

    # Padding is masked, so one padded predict() gives the task's accuracy
    # without its per-length batches (one trace each).
    test = task.encode_split(task.eval_examples("sva/test", None))

    def test_accuracy(model):
        return classification_accuracy(model, test.inputs, test.labels)

    info = {"teacher": {"name": teacher.name, "params": teacher.count_params(),
                        "source": f"trained {sva.teacher_epochs} epoch(s)",
                        "test_accuracy": test_accuracy(teacher)},
            "train_examples": len(train), "test_examples": sva.num_test}
    log(f"SVA: {len(train)} sentences; LSTM teacher test accuracy "
        f"{info['teacher']['test_accuracy']:.4f}")
    return Workload(
        name="sva", inputs=train.inputs, labels=train.labels, teacher=teacher,
        teacher_logits=logits,
        build_student=lambda: sva_models.build_transformer_seq_classifier(
            vocabulary_size, **sva.student_kwargs),
        test_accuracy=test_accuracy, epochs=sva.epochs, batch_size=sva.batch_size,
        learning_rate=sva.learning_rate, temperature=sva.temperature, info=info)


# ---------------------------------------------------------------- report


def _run_rows(workload: Workload, variants: Sequence[Variant], seed: int, log) -> List[Dict]:
    rows = []
    for variant in variants:
        row = run_variant(workload, variant, seed)
        log(f"  {workload.name}/{row['name']}: median epoch {row['median_epoch_s']:.3f} s, "
            f"test accuracy {_cell(row['test_accuracy'], 4)}, fit exit {row['fit_exit_s']:.3f} s "
            f"({row['row_wall_s']:.0f} s in all)")
        rows.append(row)
    return rows


def run_benchmark(settings: BenchmarkSettings, data_dir: Optional[str] = None,
                  teacher_dir: Optional[str] = None, output_path: Optional[str] = None,
                  log=print) -> Dict:
    """Runs every row, writes `output_path` (JSON, atomically) and returns the report."""
    start = time.perf_counter()
    report = {"machine": machine_info(), "settings": dataclasses.asdict(settings)}
    mnist = mnist_workload(settings, data_dir, teacher_dir, log)
    report["settings"]["mnist"] = mnist.info
    rows = _run_rows(mnist, mnist_variants(settings.jit, settings.variants), settings.seed, log)
    if settings.paper_teacher_steps:
        rows += _run_rows(paper_cnn_workload(mnist, settings.seed),
                          [dataclasses.replace(_variant("keras_distiller"),
                                               timed_steps=settings.paper_teacher_steps)],
                          settings.seed, log)
    log("stall probe: destroying finished epoch iterators")
    report["stall"] = stall_probe(mnist, settings.stall_trials, settings.seed)
    sva = sva_workload(settings.sva, settings.seed, log) if settings.sva else None
    if sva is not None:
        report["settings"]["sva_workload"] = sva.info
        rows += _run_rows(sva, SVA_VARIANTS, settings.seed, log)
    report["rows"] = rows
    report["ratios"] = compute_ratios(rows, "mnist")
    report["targets"] = evaluate_targets(report["ratios"], rows, "mnist")
    if sva is not None:
        report["sva_ratios"] = compute_ratios(rows, "sva")
    report["notes"] = list(NOTES)
    report["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    report["wall_time_s"] = time.perf_counter() - start
    if output_path:
        io_utils.write_json_atomic(output_path, report)
    return report


def _cell(value, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _epochs_timed_cell(row: Dict) -> str:
    if row.get("timed_steps"):  # Scaled up from a few steps.
        return f"{row['epochs_timed']} × {row['timed_steps']} steps"
    return _cell(row["epochs_timed"])


def format_rows(rows: Sequence[Dict]) -> str:
    lines = ["| workload | variant | median epoch (s) | epochs timed | test accuracy | "
             "jit | pipeline | fit exit (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append("| " + " | ".join([
            row.get("workload", "mnist"), row["name"], _cell(row["median_epoch_s"]),
            _epochs_timed_cell(row), _cell(row["test_accuracy"], 4),
            _cell(row["jit_compile"]), row["pipeline"], _cell(row["fit_exit_s"])]) + " |")
    return "\n".join(lines)


def format_targets(targets: Sequence[Dict]) -> str:
    lines = []
    for check in targets:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[check["met"]]
        lines.append(f"- {check['name']} = {_cell(check['value'])} "
                     f"(target {check['target']}): {verdict}")
    return "\n".join(lines)


def format_report(report: Dict) -> str:
    """The rows as a Markdown table, then ratios, targets and the stall probe."""
    parts = [format_rows(report["rows"]), "", "Ratios (MNIST):"]
    parts += [f"- {name} = {_cell(value)}" for name, value in report["ratios"].items()]
    if "sva_ratios" in report:
        parts += ["", "Ratios (SVA):"]
        parts += [f"- {name} = {_cell(value)}" for name, value in report["sva_ratios"].items()]
    parts += ["", "Targets:", format_targets(report["targets"]), "",
              "Stall probe (seconds to destroy a finished epoch's iterator):"]
    for name, probe in report["stall"].items():
        parts.append(f"- {name}: median {probe['median_s']:.3f}, max {probe['max_s']:.3f} "
                     f"over {len(probe['teardown_s'])} trials")
    load = (report["machine"]["load_average_1m_at_start"],
            report["machine"].get("load_average_1m_at_end"))
    parts += ["", f"Load average (1 min) at start/end: {load[0]} / {load[1]} on "
              f"{report['machine']['cores']} cores; a load above the core count means a "
              "contended machine and noisy timings."]
    return "\n".join(parts)
