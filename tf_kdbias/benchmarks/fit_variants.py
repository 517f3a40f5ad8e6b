"""The fit benchmark's rows: which trainer, fed by which pipeline, and how one is run.

Trainers: `student_only` (plain compile + fit), our Distiller fed cached
teacher logits (`ours_cached`) or running the teacher at every step
(`ours_per_step`), and keras.distillation.Distiller configured to compute our
KD loss (`keras_distiller`). Pipelines: `make_epoch_dataset` (what training
runs use), `make_dataset`, batches cached in memory, and the pre-fix
`legacy_pipeline.legacy_make_dataset` as the baseline.
"""

import dataclasses
import math
import time
from typing import Dict, List, Optional, Sequence

import keras

from tf_kdbias.benchmarks.fit_timing import time_fit
from tf_kdbias.benchmarks.fit_workloads import Workload, sparse_cross_entropy
from tf_kdbias.benchmarks.legacy_pipeline import legacy_make_dataset
from tf_kdbias.data.pipeline import make_dataset, make_epoch_dataset
from tf_kdbias.distill.distiller import Distiller
from tf_kdbias.errors import UserError
from tf_kdbias.optimizers.factory import make_optimizer


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


def variant_named(name: str) -> Variant:
    """The MNIST row called `name`."""
    return next(v for v in MNIST_VARIANTS if v.name == name)


def mnist_variants(jit: bool, names: Optional[Sequence[str]] = None) -> List[Variant]:
    """The MNIST rows to run: all, or those named, less the XLA ones if not `jit`."""
    known = {v.name for v in MNIST_VARIANTS}
    unknown = sorted(set(names or ()) - known)
    if unknown:
        raise UserError(f"Unknown benchmark variant(s) {unknown}; choose from {sorted(known)}.")
    return [v for v in MNIST_VARIANTS
            if (jit or not v.jit) and (names is None or v.name in names)]


# ---------------------------------------------------------------- trainers


def _accuracy_metric():
    return keras.metrics.SparseCategoricalAccuracy(name="accuracy")


def build_our_distiller(student: keras.Model, temperature: float,
                        teacher: Optional[keras.Model] = None) -> Distiller:
    """Pure distillation (r=1) with T^2 * KL; no teacher = cached logits."""
    return Distiller(student=student, teacher=teacher, temperature=temperature,
                     distill_rate=1.0, kd_loss="kl")


def build_keras_distiller(teacher: keras.Model, student: keras.Model,
                          temperature: float) -> keras.distillation.Distiller:
    """Keras' Distiller configured to compute our KD loss (see fit_report.NOTES[0]).

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
        student.compile(optimizer=optimizer, loss=sparse_cross_entropy(),
                        metrics=[_accuracy_metric()], jit_compile=variant.jit)
        return student
    if variant.trainer == "keras_distiller":
        trainer = build_keras_distiller(workload.teacher, student, workload.temperature)
        # The student loss is required by compile() but weighted 0.
        trainer.compile(optimizer=optimizer, loss=sparse_cross_entropy(),
                        metrics=[_accuracy_metric()], jit_compile=variant.jit)
        return trainer
    teacher = workload.teacher if variant.trainer == "ours_per_step" else None
    trainer = build_our_distiller(student, workload.temperature, teacher)
    trainer.compile(optimizer=optimizer, jit_compile=variant.jit)
    return trainer


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


# ---------------------------------------------------------------- one row


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
