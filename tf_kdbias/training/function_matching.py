"""Function matching: consistent-view distillation (Beyer et al. 2022) in a run.

With `FunctionMatching.enabled = True` every training batch is a batch of
augmented *views* (`tf_kdbias.data.views`: mixup with λ ~ Beta(α, α), and
optionally pixel noise), drawn afresh for every example in every epoch. The
Distiller gets one input tensor per step and passes that same tensor to the
teacher and to the student, so both see the identical view; the teacher runs
at every step in inference mode, or in training mode with
`Distiller.teacher_training = True`. Schedules of any length work: epoch e
uses view index e, so a longer run simply sees more views.

With `FunctionMatching.cache_views = V` the teacher is run once on views
0..V-1 of every training example (`tf_kdbias.distill.view_cache`), and epoch
e trains on view e mod V with the cached logits: the images are regenerated,
only the logits are stored. For E <= V epochs this is the live mode's data,
step for step.

A model trained alone under this config (no teacher) trains on the same views
with mixup's mixed one-hot targets: the "augmentation without a teacher"
control.

Views are made on the host in numpy, as the rest of the input pipeline on
non-TensorFlow backends: the same code makes the batches on TensorFlow and
JAX, and regenerates cached views bit for bit. All loss math stays in the
Distiller (keras.ops) or in Keras' own categorical cross-entropy.
"""

import dataclasses
from typing import Dict, Optional, Tuple

import gin
import keras
import numpy as np

from tf_kdbias.data import pipeline, views
from tf_kdbias.distill import teacher_cache, view_cache
from tf_kdbias.distill.teacher_run import TeacherRun
from tf_kdbias.batch_format import INPUTS_KEY, TEACHER_LOGITS_KEY
from tf_kdbias.distill.distiller import Distiller
from tf_kdbias.errors import UserError



@gin.configurable
@dataclasses.dataclass(frozen=True)
class FunctionMatching:
    """Consistent-view training, switched on by a gin binding.

    Args:
      enabled: train on augmented views instead of the plain images.
      augmentations: 'mixup' and/or 'pixel_noise' (see data.views); shifts,
        crops and zooms are refused (they are MNIST-C's test shifts).
      mixup_alpha: α of λ ~ Beta(α, α); 1.0 (uniform) as in Beyer et al.'s
        released function-matching configs.
      noise_std: std of 'pixel_noise' in grey levels.
      cache_views: V cached teacher views per example (float16 logits); None
        runs the teacher on a fresh view every step.
      view_seed: seeds the views; None uses the run's seed (TrainSettings.seed).
    """

    enabled: bool = False
    augmentations: Tuple[str, ...] = ("mixup",)
    mixup_alpha: float = 1.0
    noise_std: float = 0.0
    cache_views: Optional[int] = None
    view_seed: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "augmentations", tuple(self.augmentations))

    def spec(self, run_seed: int) -> views.ViewSpec:
        seed = run_seed if self.view_seed is None else self.view_seed
        return views.ViewSpec(self.augmentations, self.mixup_alpha, self.noise_std, int(seed))


def settings() -> FunctionMatching:
    """The gin-configured settings (disabled unless bound)."""
    return FunctionMatching()


def enabled() -> bool:
    return settings().enabled


def _run_seed() -> int:
    from tf_kdbias.training.settings import TrainSettings
    return TrainSettings().seed


def _check_images(split) -> None:
    inputs = np.asarray(split.inputs)
    if inputs.ndim != 4 or inputs.dtype != np.uint8 or split.sample_weight is not None:
        raise UserError("FunctionMatching.enabled=True makes image views (mixup, pixel noise) "
                        "and works on MNIST-style uint8 images only; this task's inputs are "
                        f"{inputs.dtype} {inputs.shape}. Unbind FunctionMatching.enabled.")


def alone_objective(task) -> Tuple[keras.losses.Loss, list]:
    """(loss, metrics) of a model trained alone: the task's, or on mixup's soft
    targets (mixed one-hot labels) when function matching is on."""
    fm = settings()
    if not fm.enabled:
        return task.training_loss(), task.training_metrics()
    fm.spec(0)  # A bad augmentation setting fails before training starts.
    return (keras.losses.CategoricalCrossentropy(from_logits=True),
            [keras.metrics.CategoricalAccuracy(name="accuracy")])


def teacher_logits(trainer: Distiller, teacher: Optional[TeacherRun], train, validation,
                   use_teacher_cache, cache_format) -> Dict:
    """{"train": view logits [N, V, C] or None (live), "validation": logits or None}.

    The plain logit cache of the training images is never used here: the
    student does not see those images.
    """
    fm = settings()
    _check_images(train)
    fm.spec(0)  # A bad augmentation setting fails before any teacher pass.
    if trainer.online:
        raise UserError("FunctionMatching with online distillation is not supported: "
                        "distil from a trained teacher (--teacher_dir) instead.")
    if fm.cache_views is None:
        if use_teacher_cache is True:
            raise UserError("run_training.use_teacher_cache=True, but function matching runs the "
                            "teacher live on fresh views; set FunctionMatching.cache_views = V "
                            "to cache its logits on V views per example, or unbind "
                            "use_teacher_cache.")
        return {"train": None, "validation": None}
    if trainer.teacher_training:
        raise UserError("FunctionMatching.cache_views is set but Distiller.teacher_training="
                        "True: cached logits come from the teacher in inference mode. Unbind "
                        "cache_views (live teacher) or set teacher_training=False.")
    if use_teacher_cache is False:
        raise UserError("FunctionMatching.cache_views is set but run_training."
                        "use_teacher_cache=False; unbind one of them.")
    dtype, top_k = cache_format
    return {"train": view_cache.view_logits(teacher, "train", train.inputs,
                                            fm.spec(_run_seed()), fm.cache_views),
            "validation": None if validation is None else teacher_cache.teacher_logits(
                teacher, "validation", validation.inputs, dtype=dtype, top_k=top_k)}


def view_batches(images: np.ndarray, labels: np.ndarray, spec: views.ViewSpec,
                 cache_views: Optional[int], batch_size: int, seed: int, first_epoch: int,
                 epochs: int, cached_logits: Optional[np.ndarray] = None,
                 soft_labels: bool = False, num_classes: int = 10):
    """Batches of views for epochs `first_epoch` .. `epochs - 1`, as a generator.

    Epoch e visits the examples in `pipeline.epoch_order(N, seed, e)` and gives
    each its view `views.view_index_at(e, cache_views)`. Elements are
    (views, labels) or ({inputs: views, teacher_logits: cached}, labels); labels
    are the larger-weight image's class, or mixed one-hot rows with
    `soft_labels`.
    """
    num_examples = len(labels)
    for epoch in range(first_epoch, epochs):
        order = pipeline.epoch_order(num_examples, seed, epoch)
        view_index = views.view_index_at(epoch, cache_views)
        for start in range(0, num_examples, batch_size):
            indices = order[start:start + batch_size]
            inputs = views.make_views(images, spec, indices, view_index)
            dominant, soft = views.view_labels(labels, spec, indices, view_index, num_classes)
            if cached_logits is not None:
                inputs = {INPUTS_KEY: inputs,
                          TEACHER_LOGITS_KEY: cached_logits[indices, view_index]}
            yield inputs, (soft if soft_labels else dominant)


def _as_dataset(make_generator, num_classes: int, cached: bool, soft_labels: bool,
                image_shape, logits_dtype):
    """On TensorFlow a prefetching tf.data pipeline (views are made while the
    previous step trains); elsewhere the generator itself."""
    if keras.config.backend() != "tensorflow":
        return make_generator()
    import tensorflow as tf

    image_spec = tf.TensorSpec((None, *image_shape), tf.uint8)
    x_spec = image_spec if not cached else {
        INPUTS_KEY: image_spec,
        TEACHER_LOGITS_KEY: tf.TensorSpec((None, num_classes), tf.as_dtype(logits_dtype))}
    y_spec = (tf.TensorSpec((None, num_classes), tf.float32) if soft_labels
              else tf.TensorSpec((None,), tf.int64))
    dataset = tf.data.Dataset.from_generator(make_generator, output_signature=(x_spec, y_spec))
    options = tf.data.Options()
    options.autotune.enabled = False  # As in data.pipeline: autotune stalls fit()'s exit.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return dataset.prefetch(pipeline.PREFETCH_BATCHES).with_options(options)


def make_datasets(trainer: keras.Model, train, validation, teacher_logits: Dict, settings_,
                  first_epoch: int):
    """(training views, validation batches or None) for `fit`.

    Args:
      trainer: a Distiller, or a model trained alone (then mixup's soft targets).
      train, validation: the task's ArraySplits (validation may be None).
      teacher_logits: from `teacher_logits` (or no cache for a model alone).
      settings_: the run's TrainSettings (batch size, seed, epochs).
      first_epoch: the first epoch to train (a resumed run starts later).
    """
    fm = settings()
    _check_images(train)
    if getattr(settings_, "engine", "standard") != "standard":
        raise UserError(f"FunctionMatching needs TrainSettings.engine='standard' (views are "
                        f"made on the host each step); got {settings_.engine!r}.")
    soft_labels = not isinstance(trainer, Distiller)
    num_classes = int(getattr(trainer, "student", trainer).output.shape[-1])
    spec = fm.spec(settings_.seed)
    cached = teacher_logits.get("train")
    images, labels = np.asarray(train.inputs), np.asarray(train.labels)

    def make_generator():
        return view_batches(images, labels, spec, fm.cache_views, settings_.batch_size,
                            settings_.seed, first_epoch, settings_.epochs, cached,
                            soft_labels, num_classes)

    train_ds = _as_dataset(make_generator, num_classes, cached is not None, soft_labels,
                           images.shape[1:], None if cached is None else cached.dtype)
    if validation is None:
        return train_ds, None
    validation_labels = validation.labels
    if soft_labels:  # The loss of a model alone reads one-hot rows.
        validation_labels = keras.utils.to_categorical(validation.labels, num_classes)
    validation_ds = pipeline.make_dataset(validation.inputs, validation_labels,
                                          teacher_logits.get("validation"), batch_size=1000)
    return train_ds, validation_ds


def fit(trainer: keras.Model, train, validation, teacher_logits: Dict, settings_, steps: int,
        first_epoch: int, callbacks, verbose) -> None:
    """`training.run._fit` on views: epochs `first_epoch` .. `settings_.epochs - 1`."""
    train_ds, validation_ds = make_datasets(trainer, train, validation, teacher_logits,
                                            settings_, first_epoch)
    trainer.fit(train_ds, validation_data=validation_ds, epochs=settings_.epochs,
                initial_epoch=first_epoch, steps_per_epoch=steps, callbacks=callbacks,
                verbose=verbose, shuffle=False)  # The views come in their own order.


def metrics_entry(trainer: keras.Model) -> Dict:
    """{"function_matching": what the run trained on} for metrics.json; {} when off.

    Read back by the analysis: `overlapping_corruptions` are the MNIST-C
    corruptions an augmentation resembles, marked in the robustness profile.
    """
    fm = settings()
    if not fm.enabled:
        return {}
    spec = fm.spec(_run_seed())
    teacher_mode = None
    if isinstance(trainer, Distiller):
        teacher_mode = ("cached views (inference mode)" if fm.cache_views is not None
                        else "training" if trainer.teacher_training else "inference")
    return {"function_matching": {**spec.describe(), "cache_views": fm.cache_views,
                                  "teacher_mode": teacher_mode,
                                  "overlapping_corruptions": list(spec.overlapping_corruptions)}}
