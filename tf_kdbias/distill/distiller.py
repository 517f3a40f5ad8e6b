"""A Keras model that trains a student on a teacher's soft targets."""

from typing import Optional

import gin
import keras
from keras import ops

from tf_kdbias.distill import losses
from tf_kdbias.distill.schedules import ScheduleOrFloat, value_at
from tf_kdbias.errors import UserError

# Key under which a dataset element carries precomputed teacher logits; the
# model inputs then sit under INPUTS_KEY.
TEACHER_LOGITS_KEY = "teacher_logits"
INPUTS_KEY = "inputs"


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
    step. The teacher comes either as precomputed logits in each batch (`x =
    {"inputs": ..., "teacher_logits": ...}`: the cheap, default path) or from
    running `teacher` at every step. In `online` mode teacher and student
    train together from scratch: the teacher on gold labels with its own
    optimizer, the student on the teacher's (stop-gradient) logits. Otherwise
    the teacher is frozen.

    Only the student is returned by `call`, evaluated and saved: it is the
    product of a distillation run.

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
                 online: bool = False,
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
        self.online = online
        self.teacher_optimizer = teacher_optimizer
        if teacher is not None:
            teacher.trainable = online
        if online and teacher_optimizer is None:
            self.teacher_optimizer = keras.optimizers.Adam(1e-3)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")
        self.accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.teacher_loss_tracker = keras.metrics.Mean(name="teacher_loss")
        # Student and teacher arrive built, so the wrapper is too (resuming
        # with BackupAndRestore needs built variables before fit()).
        self.built = student.built and (teacher is None or teacher.built)

    @property
    def metrics(self):
        trackers = [self.loss_tracker, self.student_loss_tracker,
                    self.distillation_loss_tracker, self.accuracy_tracker]
        return trackers + ([self.teacher_loss_tracker] if self.online else [])

    def call(self, inputs, training=False):
        inputs, _ = split_cached_inputs(inputs)
        return self.student(inputs, training=training)

    def build_optimizers(self) -> None:
        """Creates the optimizers' variables before the first step.

        Needed to load a backup into a fresh Distiller: each optimizer has
        slots for its own model's variables only (the student's; the
        teacher's in online mode).
        """
        if not self.optimizer.built:
            self.optimizer.build(self.student.trainable_variables)
        if self.online and not self.teacher_optimizer.built:
            self.teacher_optimizer.build(self.teacher.trainable_variables)

    def _teacher_logits(self, inputs, cached, training):
        if cached is not None:
            if self.teacher_training or self.online:
                raise UserError("Cached teacher logits come from a frozen teacher in "
                                "inference mode; set teacher_training=False and "
                                "online=False, or do not cache.")
            return cached
        if self.teacher is None:
            raise UserError("The batch carries no teacher logits and the Distiller "
                            "has no teacher model: pass teacher=... or cache logits.")
        return self.teacher(inputs, training=training)

    def _current_hyperparameters(self):
        step = self.optimizer.iterations
        return (value_at(self.temperature, step), value_at(self.distill_rate, step))

    def compute_distillation_losses(self, labels, student_logits, teacher_logits,
                                    temperature, rate, mask=None):
        """Returns dict(total, student_loss, distillation_loss), float32 scalars.

        `mask` (e.g. the sample weight marking real tokens) restricts both
        losses to the positions where it is non-zero.
        """
        teacher_logits = ops.stop_gradient(teacher_logits)
        student_loss = losses.masked_mean(
            losses.sparse_cross_entropy(labels, student_logits), mask)
        distillation_loss = losses.masked_mean(
            self.kd_loss(teacher_logits, student_logits, temperature), mask)
        regularization = (ops.sum(ops.stack([ops.cast(l, "float32") for l in self.student.losses]))
                          if self.student.losses else 0.0)
        total = rate * distillation_loss + (1.0 - rate) * student_loss + regularization
        return {"total": total, "student_loss": student_loss,
                "distillation_loss": distillation_loss}

    def _update_trackers(self, labels, student_logits, loss_values, mask=None):
        self.loss_tracker.update_state(loss_values["total"])
        self.student_loss_tracker.update_state(loss_values["student_loss"])
        self.distillation_loss_tracker.update_state(loss_values["distillation_loss"])
        self.accuracy_tracker.update_state(labels, student_logits, sample_weight=mask)

    def train_step(self, data):
        import tensorflow as tf  # This train_step is the TF backend's.

        x, labels, mask = keras.utils.unpack_x_y_sample_weight(data)
        inputs, cached = split_cached_inputs(x)
        temperature, rate = self._current_hyperparameters()
        with tf.GradientTape(persistent=self.online) as tape:
            teacher_logits = self._teacher_logits(
                inputs, cached, training=self.teacher_training or self.online)
            student_logits = self.student(inputs, training=True)
            loss_values = self.compute_distillation_losses(
                labels, student_logits, teacher_logits, temperature, rate, mask)
            if self.online:
                teacher_loss = losses.masked_mean(
                    losses.sparse_cross_entropy(labels, teacher_logits), mask)
                if self.teacher.losses:
                    teacher_loss += ops.sum(ops.stack(self.teacher.losses))
            # Replicas' gradients are summed, so each replica's loss is divided by
            # their number; a LossScaleOptimizer (mixed precision) expects the
            # loss scaled up, as Keras' own train_step does.
            student_objective = self.optimizer.scale_loss(
                _per_replica_share(loss_values["total"]))
            if self.online:
                teacher_objective = self.teacher_optimizer.scale_loss(
                    _per_replica_share(teacher_loss))
        student_vars = self.student.trainable_variables
        self.optimizer.apply(tape.gradient(student_objective, student_vars), student_vars)
        if self.online:
            teacher_vars = self.teacher.trainable_variables
            self.teacher_optimizer.apply(tape.gradient(teacher_objective, teacher_vars),
                                         teacher_vars)
            self.teacher_loss_tracker.update_state(teacher_loss)
            del tape
        self._update_trackers(labels, student_logits, loss_values, mask)
        logs = {m.name: m.result() for m in self.metrics}
        logs.update(temperature=temperature, distill_rate=rate)
        return logs

    def test_step(self, data):
        x, labels, mask = keras.utils.unpack_x_y_sample_weight(data)
        inputs, cached = split_cached_inputs(x)
        temperature, rate = self._current_hyperparameters()
        student_logits = self.student(inputs, training=False)
        if cached is None and self.teacher is None:
            teacher_logits = student_logits  # No teacher: KD term reads 0.
        else:
            teacher_logits = cached if cached is not None else self.teacher(inputs, training=False)
        loss_values = self.compute_distillation_losses(
            labels, student_logits, teacher_logits, temperature, rate, mask)
        self._update_trackers(labels, student_logits, loss_values, mask)
        return {m.name: m.result() for m in self.metrics}


def _per_replica_share(loss):
    """`loss` / number of replicas in sync (1 without tf.distribute)."""
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss * (1.0 / replicas)


def _check_scalar_range(name, value, low=None, high=None, low_inclusive=True):
    """Validates a float hyperparameter (schedules are checked by their maker)."""
    if callable(value):
        return
    value = float(value)
    too_low = low is not None and (value < low or (value == low and not low_inclusive))
    too_high = high is not None and value > high
    if too_low or too_high or value != value:
        bounds = f"({low}, {high}]" if not low_inclusive else f"[{low}, {high}]"
        raise UserError(f"{name}={value} is out of range {bounds.replace('None', 'inf')}; "
                        f"set a valid {name} in your gin config or bindings.")
