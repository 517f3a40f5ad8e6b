"""One run on the fused engine: an epoch of steps per compiled call (JAX backend).

`FusedFitter.fit` trains a compiled Keras model, or a `Distiller`, exactly
as Keras' `fit` would on the JAX backend fed by
`data.pipeline.make_epoch_dataset`, with three differences in *how*, none in
*what*:

- the training split lives on the device; a step gathers its batch there
  from an index array, instead of a host gather and a host-to-device copy;
- the steps of an epoch run in one compiled call, a `jax.lax.scan` over the
  trainer's own stateless `train_step(state, batch)` (the very function
  Keras' `fit` compiles, so the Distiller's `compute_loss` - KD, CE,
  regularisation, T, r, a teacher run per step in training mode - is shared);
  a last partial batch takes one more call of the same function. For a
  convolutional model on a CPU the default is one call per step instead
  (`loop='steps'`), still on device-resident data: XLA:CPU runs
  convolutions inside a loop several times slower than the same step
  compiled alone (docs/BENCHMARKS.md);
- callbacks see an epoch as one batch: `on_train_batch_end` once per epoch
  (with the epoch's logs), then `on_epoch_end` as usual, so histories,
  trajectory checkpoints, backups and the NaN guard work unchanged.

The batch order of epoch e is `pipeline.epoch_order(n, seed, e)` cut into
consecutive batches, the order the standard JAX path uses, so a run resumed
from a backup, or trained by the other engine, sees the same batches.

Only the JAX backend is supported; this module imports JAX, never TensorFlow.
"""

from typing import Dict, List, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import keras
import numpy as np

from tf_kdbias.data import pipeline
from tf_kdbias.batch_format import INPUTS_KEY, TEACHER_LOGITS_KEY
from tf_kdbias.errors import UserError
from tf_kdbias.training.fused import fused_loop

# training/run.py's standard path evaluates the validation split in batches of 1000.
VALIDATION_BATCH_SIZE = 1000
LOOPS = ("auto", "scan", "steps")

State = Tuple[list, ...]


def training_elements(inputs, labels, teacher_logits=None, sample_weight=None):
    """The structure of a batch, as the standard pipeline builds it.

    (features, labels[, sample_weight]), where features are the inputs, or
    {"inputs": ..., "teacher_logits": ...} when cached teacher logits (an
    array or a top-k dict) ride along.
    """
    features = inputs if teacher_logits is None else {
        INPUTS_KEY: inputs, TEACHER_LOGITS_KEY: teacher_logits}
    return (features, labels) if sample_weight is None else (features, labels, sample_weight)


def num_examples(elements) -> int:
    return len(jax.tree.leaves(elements)[0])


def to_device(elements):
    """Every array of `elements` as a JAX array on the default device.

    With 64-bit types off (JAX's default), int64 labels become int32, as
    they do when Keras' `fit` feeds the same numpy batch to its step.
    """
    return jax.tree.map(jnp.asarray, elements)


def epoch_batches(count: int, batch_size: int, seed: int,
                  epoch: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """The batches of epoch `epoch` as example indices, in the standard order.

    Returns (full, rest): full is [count // batch_size, batch_size], rest is
    [1, count % batch_size], or None when the batches divide `count`.
    """
    order = pipeline.epoch_order(count, seed, epoch).astype(np.int32)
    full_steps = count // batch_size
    full = order[:full_steps * batch_size].reshape(full_steps, batch_size)
    rest = order[full_steps * batch_size:]
    return full, (rest[None] if len(rest) else None)


def evaluation_batches(count: int, batch_size: int) -> List[np.ndarray]:
    """In-order batches of `count` examples: [[steps, batch_size]] (+ [[1, rest]])."""
    order = np.arange(count, dtype=np.int32)
    full_steps = count // batch_size
    blocks = [order[:full_steps * batch_size].reshape(full_steps, batch_size)]
    if count % batch_size:
        blocks.append(order[full_steps * batch_size:][None])
    return [b for b in blocks if len(b)]


def _gather(data, indices):
    return jax.tree.map(lambda column: jnp.take(column, indices, axis=0), data)


def _as_arrays(logs: Dict) -> Dict:
    # The Distiller logs constant T and r as Python floats; scan outputs arrays.
    return {name: jnp.asarray(value, "float32") for name, value in logs.items()}


# Layers that XLA:CPU runs far slower inside a loop body (a scan) than in a
# step compiled alone (docs/results/engine_benchmark_cpu/cnn_loops.txt).
_SLOW_IN_CPU_LOOPS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def resolve_loop(loop: str, trainer: Optional[keras.Model] = None) -> str:
    """'scan' (an epoch per call) or 'steps' (a step per call) for `loop`.

    'auto' scans, except on a CPU for a trainer holding convolutions, which
    XLA:CPU runs several times slower inside a loop body than in a step
    compiled alone.
    """
    if loop not in LOOPS:
        raise UserError(f"fused_loop.loop={loop!r} is not a loop of the fused engine; use "
                        f"one of {list(LOOPS)}.")
    if loop != "auto":
        return loop
    convolutional = trainer is not None and any(
        isinstance(layer, _SLOW_IN_CPU_LOOPS) for layer in trainer._flatten_layers())
    return "steps" if jax.default_backend() == "cpu" and convolutional else "scan"


def train_step_fn(trainer: keras.Model):
    """(state, data, batch indices [batch]) -> (state, logs): one step on device data.

    The state is Keras' (trainable, non-trainable, optimizer, metrics)
    variable values; the batch is gathered from `data` on the device. Not
    jitted: the caller jits it, scans it or vmaps it first (seeds.py).
    """
    def step(state, data, batch_indices):
        logs, state = trainer.train_step(state, _gather(data, batch_indices))
        return state, _as_arrays(logs)

    return step


def train_block_fn(trainer: keras.Model):
    """(state, data, indices [steps, batch]) -> (state, each step's logs).

    Runs `train_step_fn(trainer)` once per row of `indices` inside a
    `jax.lax.scan`. Not jitted (see `train_step_fn`).
    """
    step = train_step_fn(trainer)

    def block(state, data, indices):
        return jax.lax.scan(lambda carry, row: step(carry, data, row), state, indices)

    return block


def run_steps(step, state, data, indices):
    """`step` (jitted) once per row of `indices`: the 'steps' loop of an epoch.

    Returns (state, each step's logs stacked on the last axis); the steps
    are dispatched without waiting for each other.
    """
    logs = []
    for row in range(indices.shape[-2]):
        state, step_logs = step(state, data, indices[..., row, :])
        logs.append(step_logs)
    return state, jax.tree.map(lambda *values: jnp.stack(values, axis=-1), *logs)


def eval_block_fn(trainer: keras.Model):
    """(state, data, indices [steps, batch]) -> (state, the last step's logs).

    `trainer.test_step` over in-order batches; the state is (trainable,
    non-trainable, metrics) values, as in Keras' `evaluate`.
    """
    def block(state, data, indices):
        def step(carry, batch_indices):
            logs, carry = trainer.test_step(carry, _gather(data, batch_indices))
            return carry, _as_arrays(logs)

        state, logs = jax.lax.scan(step, state, indices)
        return state, jax.tree.map(lambda values: values[-1], logs)

    return block


def read_state(trainer: keras.Model) -> State:
    """The values of the trainer's variables, in `train_step`'s state layout."""
    return ([v.value for v in trainer.trainable_variables],
            [v.value for v in trainer.non_trainable_variables],
            [v.value for v in trainer.optimizer.variables],
            [v.value for v in trainer.metrics_variables])


def write_state(trainer: keras.Model, state: State) -> None:
    """Assigns a `train_step` state to the trainer's variables (for callbacks)."""
    groups = (trainer.trainable_variables, trainer.non_trainable_variables,
              trainer.optimizer.variables, trainer.metrics_variables)
    for variables, values in zip(groups, state):
        for variable, value in zip(variables, values):
            variable.assign(value)


def build_trainer(trainer: keras.Model, elements) -> None:
    """Creates every variable (model, metrics, optimizer) as `fit` would first."""
    first = jax.tree.map(lambda column: np.asarray(column[:1]), elements)
    trainer._symbolic_build(data_batch=first)  # What Keras' fit() calls first.
    if hasattr(trainer, "build_optimizers"):
        trainer.build_optimizers()


def last_logs(step_logs: Dict) -> Dict[str, float]:
    """The last step's logs (the metrics' running values) as Python floats."""
    return {name: float(values[-1]) for name, values in step_logs.items()}


def first_non_finite_step(step_logs: Dict) -> Optional[int]:
    """Index of the first step whose loss is NaN/Inf, None if all are finite."""
    losses = np.asarray(step_logs.get("loss", []), dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(losses))
    return int(bad[0]) if len(bad) else None


def concatenate_logs(blocks: Sequence[Dict]) -> Dict[str, np.ndarray]:
    """Per-step logs of several blocks as one array per name (last axis: steps)."""
    return {name: np.concatenate([np.asarray(b[name]) for b in blocks], axis=-1)
            for name in blocks[0]}


def make_callback_list(trainer, callbacks, epochs: int, steps: int, verbose: int):
    """Callbacks as Keras' fit() wires them (history and, if verbose, a progress bar)."""
    if isinstance(callbacks, keras.callbacks.CallbackList):
        return callbacks
    return keras.callbacks.CallbackList(list(callbacks or ()), add_history=True,
                                        add_progbar=verbose != 0, verbose=verbose,
                                        epochs=epochs, steps=steps, model=trainer)


class FusedFitter:
    """Fits a compiled trainer with one compiled call per epoch (JAX backend).

    Args:
      trainer: a compiled Keras model or Distiller (its `train_step` is used).
      train: the training batch structure of whole arrays
        (`training_elements(...)`).
      batch_size: examples per step; the last batch of an epoch may be smaller.
      seed: the run's seed; epoch e's order is `pipeline.epoch_order(n, seed, e)`.
      validation: validation arrays in the same structure, or None / empty
        for no validation.
      loop: 'scan' (each epoch one compiled call), 'steps' (one call per
        step, on the same device-resident data) or 'auto' (scan, except for
        convolutions on a CPU); None reads gin's `fused_loop.loop`. All
        compute the same steps.

    Example:

    >>> trainer.compile(optimizer=keras.optimizers.Adam(1e-3), loss=..., metrics=[...])
    >>> fitter = FusedFitter(trainer, training_elements(images, labels), 128, seed=0)
    >>> fitter.fit(epochs=10, callbacks=[...])
    """

    def __init__(self, trainer: keras.Model, train, batch_size: int, seed: int,
                 validation=None, loop: Optional[str] = None):
        self.trainer = trainer
        self.loop = resolve_loop(fused_loop() if loop is None else loop, trainer)
        self.batch_size = batch_size
        self.seed = seed
        self.count = num_examples(train)
        build_trainer(trainer, train)
        self.data = to_device(train)
        self.validation = (to_device(validation)
                           if validation is not None and num_examples(validation) else None)
        self.train_block = jax.jit(train_block_fn(trainer))
        self.train_step = jax.jit(train_step_fn(trainer))
        self.eval_block = jax.jit(eval_block_fn(trainer))

    @property
    def steps_per_epoch(self) -> int:
        return pipeline.steps_per_epoch(self.count, self.batch_size)

    def read_state(self) -> State:
        """The trainer's variables as a step state, with fresh metrics."""
        self.trainer.reset_metrics()
        return read_state(self.trainer)

    def write_state(self, state: State) -> None:
        write_state(self.trainer, state)

    def train_epoch(self, state: State, epoch: int) -> Tuple[State, Dict[str, np.ndarray]]:
        """One epoch from `state`: (new state, per-step logs)."""
        blocks = []
        for indices in epoch_batches(self.count, self.batch_size, self.seed, epoch):
            if indices is None or not len(indices):
                continue
            if self.loop == "scan":
                state, logs = self.train_block(state, self.data, indices)
            else:
                state, logs = run_steps(self.train_step, state, self.data, indices)
            blocks.append(logs)
        return state, concatenate_logs(blocks)

    def evaluate(self) -> Dict[str, float]:
        """Validation logs of the trainer's current weights (fresh metrics)."""
        self.trainer.reset_metrics()
        trainable, non_trainable, _, metrics = read_state(self.trainer)
        state = (trainable, non_trainable, metrics)
        for indices in evaluation_batches(num_examples(self.validation), VALIDATION_BATCH_SIZE):
            state, logs = self.eval_block(state, self.validation, indices)
        return {name: float(value) for name, value in logs.items()}

    def fit(self, epochs: int, first_epoch: int = 0, callbacks=(), verbose: int = 0) -> Dict:
        """Trains epochs `first_epoch` .. `epochs - 1`; returns the last epoch's logs.

        Callbacks get the same calls per epoch as under Keras' `fit`, with
        `on_train_batch_end` once per epoch (batch index: the last step, or
        the first step whose loss was not finite).
        """
        trainer = self.trainer
        steps = self.steps_per_epoch
        callback_list = make_callback_list(trainer, callbacks, epochs, steps, verbose)
        trainer.stop_training = False
        callback_list.on_train_begin()
        logs: Dict[str, float] = {}
        for epoch in range(first_epoch, epochs):
            state = self.read_state()  # Callbacks may have changed variables.
            callback_list.on_epoch_begin(epoch)
            callback_list.on_train_batch_begin(0)
            state, step_logs = self.train_epoch(state, epoch)
            self.write_state(state)
            logs = last_logs(step_logs)
            bad_step = first_non_finite_step(step_logs)
            if bad_step is not None:  # Report that step's running loss (the NaN guard's cue).
                logs["loss"] = float(step_logs["loss"][bad_step])
            callback_list.on_train_batch_end(steps - 1 if bad_step is None else bad_step, logs)
            if trainer.stop_training:
                break
            if self.validation is not None:
                logs.update({f"val_{name}": value for name, value in self.evaluate().items()})
            callback_list.on_epoch_end(epoch, logs)
            if trainer.stop_training:
                break
        trainer.optimizer.finalize_variable_values(trainer.trainable_weights)  # As fit() does.
        callback_list.on_train_end(logs)
        return logs


def split_elements(split, logits):
    """The engine's arrays of a task's ArraySplit (None for no or empty validation data)."""
    if split is None or len(split.labels) == 0:
        return None
    return training_elements(split.inputs, split.labels, logits,
                             getattr(split, "sample_weight", None))


def fit_run(trainer: keras.Model, train, validation, teacher_logits: Dict, batch_size: int,
            seed: int, epochs: int, first_epoch: int, callbacks, verbose: int) -> None:
    """training/run.py's fused `_fit`: the run's splits (task ArraySplits) through `FusedFitter`.

    Args:
      trainer: the compiled model or Distiller.
      train, validation: the task's ArraySplits (inputs, labels, sample_weight).
      teacher_logits: {"train": cached logits or None, "validation": ...}.
      batch_size, seed, epochs: the run's TrainSettings.
      first_epoch: where training (re)starts.
      callbacks: the run's callbacks (history, checkpoints, backup).
      verbose: Keras verbosity of the per-epoch progress line.
    """
    fitter = FusedFitter(trainer, split_elements(train, teacher_logits["train"]), batch_size,
                         seed, validation=split_elements(validation, teacher_logits["validation"]))
    if first_epoch < epochs:
        fitter.fit(epochs, first_epoch, callbacks, verbose)
