"""A Keras model that trains a student on a teacher's soft targets."""

from typing import Optional

import gin
import keras
from keras import ops

from tf_kdbias.distill import losses
from tf_kdbias.batch_format import INPUTS_KEY, TEACHER_LOGITS_KEY, TOP_K_INDICES, TOP_K_VALUES
from tf_kdbias.distill.per_model_optimizer import PerModelOptimizer
from tf_kdbias.distill.schedules import ScheduleError, ScheduleOrFloat, value_at, value_range
from tf_kdbias.errors import UserError
from tf_kdbias.metrics.last_value import LastValue



def split_cached_inputs(x):
    """Returns (model inputs, cached teacher logits or None) of a batch."""
    if isinstance(x, dict) and TEACHER_LOGITS_KEY in x:
        return x[INPUTS_KEY], x[TEACHER_LOGITS_KEY]
    return x, None


def check_compatible(teacher: keras.Model, student: keras.Model) -> None:
    """Raises UserError when the teacher's outputs cannot teach the student."""
    t_shape, s_shape = tuple(teacher.output.shape[1:]), tuple(student.output.shape[1:])
    if t_shape[-1:] != s_shape[-1:]:
        raise UserError(
            f"Teacher {teacher.name!r} outputs shape {t_shape} but student "
            f"{student.name!r} outputs {s_shape}: their last dimensions (the "
            "classes) must match. Pick a teacher trained on the same task.")


@gin.configurable
class Distiller(keras.Model):
    """Trains `student` on r * KD + (1 - r) * CE(gold) + student regularisation.

    KD compares softened teacher and student distributions at temperature T
    (see `tf_kdbias.distill.losses`); r and T may be floats or schedules of the
    training step. The teacher comes either as precomputed logits in each
    batch (`x = {"inputs": ..., "teacher_logits": ...}`: the cheap, default
    path) or from running `teacher` at every step. In `online` mode teacher
    and student train together from scratch: the teacher on gold labels with
    its own optimizer, the student on the teacher's (stop-gradient) logits.
    Otherwise the teacher is frozen.

    The design is backend-neutral: the distillation objective lives in
    `compute_loss`, so Keras' own train and test steps (TensorFlow's, JAX's
    stateless one, PyTorch's) do the differentiation. Online mode sums both
    models' objectives and lets a `PerModelOptimizer` apply each model's
    gradient with its own optimizer. The schedules' step counter is a
    variable of this model, which every backend's compiled step carries
    (JAX's does not thread the optimizer's `iterations` into the loss).

    Only the student is returned by `call`, evaluated and saved: it is the
    product of a distillation run.

    Logs: `loss` (the objective: student total, plus the teacher's loss in
    online mode), `student_loss` (gold CE), `distillation_loss` (KD),
    `accuracy` (student), `temperature` and `distill_rate` (current values),
    and `teacher_loss` in online mode.

    Args:
      student: the Keras model to train (outputs logits).
      teacher: the teacher model (outputs logits) or None when every batch
        carries cached teacher logits.
      temperature: T, a float or a schedule of the training step.
      distill_rate: r in [0, 1], a float or a schedule.
      kd_loss: 'kl' (T^2 * KL, Hinton et al.) or 'soft_cross_entropy' (the
        original code's soft-target CE / T^2).
      teacher_training: run a frozen teacher in training mode (dropout on), as
        the original code did. Incompatible with cached logits.
      teacher_batch_statistics: with `teacher_training`, the frozen teacher's
        BatchNormalization layers normalise each batch with its own mean and
        variance, as the authors' TensorFlow 1 teacher did in training mode
        (Keras 3 keeps a frozen BatchNorm on its moving statistics). The
        teacher's weights and moving statistics are never changed. Gin:
        `Distiller.teacher_batch_statistics = True`.
      online: train the teacher on gold labels alongside the student.
      teacher_optimizer: optimizer for the teacher in online mode.

    Example:

    >>> distiller = Distiller(student=build_mlp(), teacher=cnn, temperature=5.0)
    >>> distiller.compile(optimizer=keras.optimizers.Adam(1e-4))
    >>> distiller.fit(train_ds, epochs=1)
    """

    def __init__(self, student: keras.Model, teacher: Optional[keras.Model] = None,
                 temperature: ScheduleOrFloat = 1.0, distill_rate: ScheduleOrFloat = 1.0,
                 kd_loss: str = "kl", teacher_training: bool = False,
                 teacher_batch_statistics: bool = False, online: bool = False,
                 teacher_optimizer: Optional[keras.optimizers.Optimizer] = None,
                 **kwargs):
        super().__init__(name=kwargs.pop("name", "distiller"), **kwargs)
        _check_scalar_range("temperature", temperature, low=0.0, low_inclusive=False)
        _check_scalar_range("distill_rate", distill_rate, low=0.0, high=1.0)
        if teacher is not None:
            check_compatible(teacher, student)
        if online and teacher is None:
            raise UserError("Online distillation needs a teacher model to train.")
        self.student = student
        self.teacher = teacher
        self.temperature = temperature
        self.distill_rate = distill_rate
        self.kd_loss_name = kd_loss
        self.kd_loss = losses.get_kd_loss(kd_loss)
        self.teacher_training = teacher_training
        self.teacher_batch_statistics = teacher_batch_statistics
        self.online = online
        # Kept out of Keras' tracking: it shares the teacher's layers and variables.
        self._batch_statistics_teacher = _Untracked(
            _check_batch_statistics(teacher, teacher_batch_statistics, teacher_training, online))
        self.teacher_optimizer = teacher_optimizer
        if teacher is not None:
            teacher.trainable = online
        if online and teacher_optimizer is None:
            self.teacher_optimizer = keras.optimizers.Adam(1e-3)
        self.schedule_step = self.add_weight(shape=(), dtype="int32", initializer="zeros",
                                             trainable=False, name="schedule_step")
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")
        self.accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.teacher_loss_tracker = keras.metrics.Mean(name="teacher_loss")
        # Scheduled hyperparameters are logged through metrics (the compiled
        # step's values); constant ones go into the logs as they are, which
        # keeps the per-step work of the usual case at its minimum.
        self.scheduled_trackers = {
            name: LastValue(name=name)
            for name, value in (("temperature", temperature), ("distill_rate", distill_rate))
            if callable(value)}
        # Student and teacher arrive built, so the wrapper is too (resuming
        # from a backup needs built variables before fit()).
        self.built = student.built and (teacher is None or teacher.built)

    @property
    def metrics(self):
        loss_tracker = getattr(self, "_loss_tracker", None)
        trackers = [self.student_loss_tracker, self.distillation_loss_tracker,
                    self.accuracy_tracker, *self.scheduled_trackers.values()]
        return (([loss_tracker] if loss_tracker is not None else []) + trackers
                + ([self.teacher_loss_tracker] if self.online else []))

    def compile(self, optimizer="rmsprop", **kwargs):
        """Compiles with `optimizer` for the student (and, online, the teacher's own)."""
        if self.online:
            optimizer = PerModelOptimizer(keras.optimizers.get(optimizer), self.teacher_optimizer,
                                          self.teacher.trainable_variables)
        super().compile(optimizer=optimizer, **kwargs)

    def call(self, inputs, training=False):
        inputs, _ = split_cached_inputs(inputs)
        return self.student(inputs, training=training)

    def hyperparameters(self) -> dict:
        """T, r and the KD settings, for a run's record (metrics.json) and its
        TensorBoard HParams row; a schedule is described by its kind and config."""
        def describe(value):
            if not callable(value):
                return float(value)
            config = {k: v for k, v in value.get_config().items() if k != "name"}
            return f"{type(value).__name__}({config})"

        return {"temperature": describe(self.temperature),
                "distill_rate": describe(self.distill_rate), "kd_loss": self.kd_loss_name,
                "teacher_training": bool(self.teacher_training), "online": bool(self.online),
                **({"teacher_batch_statistics": True} if self.teacher_batch_statistics else {})}

    def build_optimizers(self) -> None:
        """Creates the optimizer's variables before the first step.

        Needed to load a backup into a fresh Distiller: the optimizer has
        slots for the trained variables only (the student's; and the
        teacher's, under its own optimizer, in online mode).
        """
        if not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    def _teacher_logits(self, inputs, cached, student_logits, training):
        """The teacher's logits for this batch (cached, or a teacher forward pass)."""
        if cached is not None:
            if training and (self.teacher_training or self.online):
                raise UserError("Cached teacher logits come from a frozen teacher in "
                                "inference mode; set teacher_training=False and "
                                "online=False, or do not cache.")
            return cached
        if self.teacher is None:
            if not training:
                return student_logits  # Evaluating a student alone: KD reads 0.
            raise UserError("The batch carries no teacher logits and the Distiller "
                            "has no teacher model: pass teacher=... or cache logits.")
        teacher_mode = training and (self.teacher_training or self.online)
        if teacher_mode and self._batch_statistics_teacher.value is not None:
            return self._batch_statistics_teacher.value(inputs, training=True)
        return self.teacher(inputs, training=teacher_mode)

    def _current_hyperparameters(self):
        step = self.schedule_step
        return (value_at(self.temperature, step), value_at(self.distill_rate, step))

    def compute_distillation_losses(self, labels, student_logits, teacher_logits,
                                    temperature, rate, mask=None):
        """Returns dict(total, student_loss, distillation_loss), float32 scalars.

        `mask` (e.g. the sample weight marking real tokens) restricts both
        losses to the positions where it is non-zero.
        """
        student_loss = losses.masked_mean(
            losses.sparse_cross_entropy(labels, student_logits), mask)
        distillation_loss = losses.masked_mean(
            self._per_position_kd(teacher_logits, student_logits, temperature), mask)
        total = (rate * distillation_loss + (1.0 - rate) * student_loss
                 + _regularization(self.student))
        return {"total": total, "student_loss": student_loss,
                "distillation_loss": distillation_loss}

    def _per_position_kd(self, teacher_logits, student_logits, temperature):
        """KD per example (or token) from full logits or a top-k cache."""
        if isinstance(teacher_logits, dict):
            return losses.top_k_distillation(
                ops.stop_gradient(teacher_logits[TOP_K_VALUES]), teacher_logits[TOP_K_INDICES],
                student_logits, temperature, self.kd_loss_name)
        return self.kd_loss(ops.stop_gradient(teacher_logits), student_logits, temperature)

    def _teacher_objective(self, labels, teacher_logits, mask):
        """The online teacher's loss: gold cross-entropy plus its regularisation."""
        return (losses.masked_mean(losses.sparse_cross_entropy(labels, teacher_logits), mask)
                + _regularization(self.teacher))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        inputs, cached = split_cached_inputs(x)
        temperature, rate = self._current_hyperparameters()
        teacher_logits = self._teacher_logits(inputs, cached, y_pred, training)
        loss_values = self.compute_distillation_losses(
            y, y_pred, teacher_logits, temperature, rate, sample_weight)
        objective = loss_values["total"]
        if self.online:
            teacher_loss = self._teacher_objective(y, teacher_logits, sample_weight)
            self.teacher_loss_tracker.update_state(teacher_loss)
            objective = objective + teacher_loss
        self.student_loss_tracker.update_state(loss_values["student_loss"])
        self.distillation_loss_tracker.update_state(loss_values["distillation_loss"])
        for name, value in (("temperature", temperature), ("distill_rate", rate)):
            if name in self.scheduled_trackers:
                self.scheduled_trackers[name].update_state(value)
        if self.scheduled_trackers and training:
            self.schedule_step.assign_add(1)
        # Replicas' gradients are summed, so each replica's loss is divided by
        # their number (Keras' own losses do the same).
        return _per_replica_share(objective)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self.accuracy_tracker.update_state(y, y_pred, sample_weight=sample_weight)
        logs = self.get_metrics_result()
        for name in ("temperature", "distill_rate"):
            if name not in self.scheduled_trackers:
                logs[name] = float(getattr(self, name))
        return logs


class _Untracked:
    """Holds a value where Keras' attribute tracking does not look."""

    def __init__(self, value):
        self.value = value


class BatchStatisticsNormalization(keras.layers.Layer):
    """A frozen BatchNormalization layer's view that normalises with batch statistics.

    Uses the layer's own gamma, beta and epsilon (its variables, shared, not
    copied) and the batch's mean and variance over every axis but the
    layer's; its moving statistics are neither read nor updated.

    Args:
      normalization: the keras.layers.BatchNormalization layer.
    """

    def __init__(self, normalization: keras.layers.BatchNormalization, **kwargs):
        super().__init__(name=f"{normalization.name}_batch_statistics", trainable=False,
                         dtype=normalization.dtype_policy, **kwargs)
        self._source = _Untracked(normalization)

    def call(self, inputs, training=None, mask=None):
        del training, mask  # Batch statistics in every mode: the view is for training steps.
        bn = self._source.value
        x = ops.cast(inputs, "float32")
        axis = bn.axis % len(x.shape)
        mean, variance = ops.moments(x, axes=[a for a in range(len(x.shape)) if a != axis])
        outputs = ops.batch_normalization(
            x, mean, variance, axis=axis,
            offset=None if bn.beta is None else ops.cast(bn.beta, "float32"),
            scale=None if bn.gamma is None else ops.cast(bn.gamma, "float32"),
            epsilon=bn.epsilon)
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


def batch_statistics_view(teacher: keras.Model) -> keras.Model:
    """`teacher` with each BatchNormalization layer replaced by its batch-statistics view.

    Every other layer is the teacher's own (same objects, same variables), so
    the view computes with the teacher's weights and changes none of them.
    """
    def swap(layer):
        if isinstance(layer, keras.layers.BatchNormalization):
            return BatchStatisticsNormalization(layer)
        return layer

    return keras.models.clone_model(teacher, clone_function=swap)


def _check_batch_statistics(teacher, enabled: bool, teacher_training: bool, online: bool):
    """The teacher's batch-statistics view, or None when not asked for."""
    if not enabled:
        return None
    if not teacher_training or online or teacher is None:
        raise UserError("Distiller.teacher_batch_statistics = True needs a frozen teacher model "
                        "run in training mode: set Distiller.teacher_training = True (not "
                        "online, no cached logits), or drop teacher_batch_statistics.")
    if not any(isinstance(layer, keras.layers.BatchNormalization)
               for layer in teacher._flatten_layers()):
        raise UserError(f"Distiller.teacher_batch_statistics = True, but teacher "
                        f"{teacher.name!r} has no BatchNormalization layer; drop the binding.")
    return batch_statistics_view(teacher)


def _regularization(model: keras.Model):
    """The sum of `model`'s regularisation losses in float32 (0 if none)."""
    if not model.losses:
        return 0.0
    return ops.sum(ops.stack([ops.cast(loss, "float32") for loss in model.losses]))


def _per_replica_share(loss):
    """`loss` / number of replicas in sync (1 without tf.distribute)."""
    if keras.config.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss * (1.0 / replicas)


def _check_scalar_range(name, value, low=None, high=None, low_inclusive=True):
    """Validates a float hyperparameter, or every value of a schedule."""
    if callable(value):
        _check_schedule_range(name, value, low, high, low_inclusive)
        return
    value = float(value)
    too_low = low is not None and (value < low or (value == low and not low_inclusive))
    too_high = high is not None and value > high
    if too_low or too_high or value != value:
        bounds = f"({low}, {high}]" if not low_inclusive else f"[{low}, {high}]"
        raise UserError(f"{name}={value} is out of range {bounds.replace('None', 'inf')}; "
                        f"set a valid {name} in your gin config or bindings.")


def _check_schedule_range(name, schedule, low, high, low_inclusive):
    """Raises UserError if `schedule` leaves [low, high] (or (low, high]) at any step.

    Checked before training from the schedule's closed form, so that e.g. a
    linear temperature reaching 0 (NaN) or a rate above 1 (a negative gold
    weight 1 - r) stops the run at its start. Schedules of unknown form pass.
    """
    values = value_range(schedule)
    if values is None:
        return
    too_low = low is not None and (values.low < low or (
        values.low == low and values.low_reached and not low_inclusive))
    too_high = high is not None and values.high > high
    if too_low or too_high or values.low != values.low or values.high != values.high:
        allowed = (f"{'[' if low_inclusive else '('}{low}, "
                   f"{'inf)' if high is None else f'{high}]'}")
        raise ScheduleError(
            f"Distiller.{name}: the schedule {type(schedule).__name__}"
            f"({schedule.get_config()}) takes values in {values.describe()} over training, "
            f"but {name} must stay in {allowed} at every step. Change the schedule's "
            "bindings (e.g. make_schedule.initial_value / final_value / decay_rate) so that "
            "every value is allowed.")
