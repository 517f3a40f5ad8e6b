"""Runs that differ only by seed, trained together in one program (`jax.vmap`).

A paper table repeats each setup over seeds: same model, same shapes, only
the initial weights, dropout RNG, batch order (and, for a student, the
teacher of the same seed index and its cached logits) differ. On a GPU one
such run leaves the device mostly idle, so `SeedGroupFitter` stacks the
runs' states - (trainable, non-trainable, optimizer, metrics) values, one
leading axis entry per seed - and runs one epoch of all of them as one
compiled call: `jax.vmap` of the fused engine's scanned `train_step`.
Everything per seed stays per seed: its own weights, optimizer moments,
dropout `SeedGenerator` states (in the non-trainable values), batch order
(`engine.epoch_batches(n, seed, epoch)`), teacher and logits. After each
epoch every seed's values go back into its own Keras trainer and its own
callbacks run, so each run still writes its own history, checkpoints and
backups into its own run directory.

A seed of a group computes what the same seed computes alone, up to
floating-point reassociation in XLA's batched kernels (tested).

What is not here: training/run.py still starts one run per process; a group runner
(one process per setup) would build each seed's trainer and callbacks with
training/run.py's helpers and hand them to `SeedGroupFitter.fit`.
"""

from typing import Dict, List, Optional, Sequence

import jax
import jax.numpy as jnp
import keras
import numpy as np

from tf_kdbias.data import pipeline
from tf_kdbias.errors import UserError
from tf_kdbias.training.fused import engine


def stack(trees: Sequence):
    """One tree whose leaves are the trees' leaves stacked on a new axis 0."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def take(tree, index: int):
    """Entry `index` of every leaf of a stacked tree."""
    return jax.tree.map(lambda leaf: leaf[index], tree)


def stack_data(per_seed: Sequence):
    """(data, in_axes): leaves equal in every seed are kept once (axis None).

    The training images of a table are usually the same for every seed
    (e.g. MNIST without a seeded validation carve-out), while cached teacher
    logits are not; sharing the equal ones keeps one copy on the device.
    """
    structure = jax.tree.structure(per_seed[0])
    columns = list(zip(*(jax.tree.leaves(tree) for tree in per_seed)))
    leaves, axes = [], []
    for column in columns:
        if any(np.shape(c) != np.shape(column[0]) for c in column):
            raise UserError("Runs trained together must have training arrays of one shape; "
                            "these seeds' splits differ in size. Train them one by one "
                            "(TrainSettings.engine='fused' per run).")
        if all(np.array_equal(column[0], c) for c in column[1:]):
            leaves.append(jnp.asarray(column[0]))
            axes.append(None)
        else:
            leaves.append(jnp.stack([jnp.asarray(c) for c in column]))
            axes.append(0)
    return structure.unflatten(leaves), structure.unflatten(axes)


class SeedGroupFitter:
    """Trains several runs of one setup, differing only by seed, as one program.

    Args:
      trainers: compiled trainers (models or Distillers) built the same way,
        one per seed, each with its own initial weights and RNG states (e.g.
        built after `keras.utils.set_random_seed(seed)`).
      trains: per seed, the training batch structure of whole arrays
        (`engine.training_elements(...)`); all of one shape.
      seeds: per seed, the seed of its batch order.
      batch_size: examples per step.
      validations: per seed, validation arrays (same structure), or None.
      loop: 'scan', 'steps', 'auto' or None (gin), as in `engine.FusedFitter`.

    Example:

    >>> group = SeedGroupFitter([t0, t1], [train0, train1], [0, 1], 128)
    >>> group.fit(epochs=400, callbacks=[callbacks_0, callbacks_1])
    """

    def __init__(self, trainers: Sequence[keras.Model], trains: Sequence, seeds: Sequence[int],
                 batch_size: int, validations: Optional[Sequence] = None,
                 loop: Optional[str] = None):
        if not len(trainers) == len(trains) == len(seeds):
            raise ValueError(f"{len(trainers)} trainers, {len(trains)} training sets and "
                             f"{len(seeds)} seeds: give one of each per run.")
        self.trainers = list(trainers)
        self.loop = engine.resolve_loop(engine.fused_loop() if loop is None else loop,
                                        self.trainers[0])
        self.seeds = [int(s) for s in seeds]
        self.batch_size = batch_size
        self.count = engine.num_examples(trains[0])
        for trainer, train in zip(self.trainers, trains):
            engine.build_trainer(trainer, train)
        self.data, data_axes = stack_data(trains)
        self.shared_leaves = [axis is None for axis in jax.tree.leaves(
            data_axes, is_leaf=lambda x: x is None)]
        self.validation = None
        # Counted before stacking: a stacked leaf's first axis is the seeds.
        self.validation_count = 0 if validations is None else engine.num_examples(validations[0])
        if self.validation_count:
            self.validation, validation_axes = stack_data(validations)
            self.eval_block = jax.jit(jax.vmap(engine.eval_block_fn(self.trainers[0]),
                                               in_axes=(0, validation_axes, None)))
        # Traced once with the first trainer: the others share its structure,
        # and their values come in through the stacked state.
        self.train_block = jax.jit(jax.vmap(engine.train_block_fn(self.trainers[0]),
                                            in_axes=(0, data_axes, 0)))
        self.train_step = jax.jit(jax.vmap(engine.train_step_fn(self.trainers[0]),
                                           in_axes=(0, data_axes, 0)))

    @property
    def steps_per_epoch(self) -> int:
        return pipeline.steps_per_epoch(self.count, self.batch_size)

    def read_state(self):
        """The stacked state of every trainer's variables (fresh metrics)."""
        for trainer in self.trainers:
            trainer.reset_metrics()
        return stack([engine.read_state(t) for t in self.trainers])

    def write_state(self, state) -> None:
        """Writes each seed's entry of a stacked state into its own trainer."""
        for i, trainer in enumerate(self.trainers):
            engine.write_state(trainer, take(state, i))

    def train_epoch(self, state, epoch: int):
        """One epoch of every seed: (stacked state, per-step logs [seeds, steps])."""
        per_seed = [engine.epoch_batches(self.count, self.batch_size, seed, epoch)
                    for seed in self.seeds]
        blocks = []
        for part in range(2):  # Full batches, then the partial last one (if any).
            if per_seed[0][part] is None or not len(per_seed[0][part]):
                continue
            indices = np.stack([batches[part] for batches in per_seed])
            if self.loop == "scan":
                state, logs = self.train_block(state, self.data, indices)
            else:
                state, logs = engine.run_steps(self.train_step, state, self.data, indices)
            blocks.append(logs)
        return state, engine.concatenate_logs(blocks)

    def evaluate(self) -> List[Dict[str, float]]:
        """Each seed's validation logs of its current weights."""
        for trainer in self.trainers:
            trainer.reset_metrics()
        states = [engine.read_state(t) for t in self.trainers]
        state = stack([(s[0], s[1], s[3]) for s in states])
        for indices in engine.evaluation_batches(self.validation_count,
                                                 engine.VALIDATION_BATCH_SIZE):
            state, logs = self.eval_block(state, self.validation, indices)
        return [{name: float(values[i]) for name, values in logs.items()}
                for i in range(len(self.trainers))]

    def fit(self, epochs: int, first_epoch: int = 0,
            callbacks: Optional[Sequence[Sequence]] = None, verbose: int = 0) -> None:
        """Trains every seed for epochs `first_epoch` .. `epochs - 1`.

        Args:
          epochs: the runs' total epochs.
          first_epoch: where all of them (re)start; runs resumed from
            backups of different epochs cannot share a group.
          callbacks: per seed, that run's callbacks (called with its own
            trainer and logs, as in `FusedFitter.fit`).
          verbose: Keras verbosity of each run's per-epoch progress line.
        """
        steps = self.steps_per_epoch
        lists = [engine.make_callback_list(trainer, cbs, epochs, steps, verbose)
                 for trainer, cbs in zip(self.trainers, callbacks or [()] * len(self.trainers))]
        for trainer, callback_list in zip(self.trainers, lists):
            trainer.stop_training = False
            callback_list.on_train_begin()
        logs = [{} for _ in self.trainers]
        state = self.read_state()
        for epoch in range(first_epoch, epochs):
            for callback_list in lists:
                callback_list.on_epoch_begin(epoch)
                callback_list.on_train_batch_begin(0)
            state, step_logs = self.train_epoch(state, epoch)
            logs = self._end_epoch(epoch, state, step_logs, lists)
            if any(trainer.stop_training for trainer in self.trainers):
                break
            state = self.read_state()  # Fresh metrics for the next epoch.
        for trainer, callback_list, last in zip(self.trainers, lists, logs):
            trainer.optimizer.finalize_variable_values(trainer.trainable_weights)
            callback_list.on_train_end(last)

    def _end_epoch(self, epoch, state, step_logs, lists) -> List[Dict[str, float]]:
        """Writes each seed's state into its trainer and runs its callbacks."""
        self.write_state(state)
        all_logs = []
        for i, callback_list in enumerate(lists):
            mine = {name: values[i] for name, values in step_logs.items()}
            logs = engine.last_logs(mine)
            bad_step = engine.first_non_finite_step(mine)
            if bad_step is not None:
                logs["loss"] = float(mine["loss"][bad_step])
            callback_list.on_train_batch_end(steps_or(bad_step, self.steps_per_epoch), logs)
            all_logs.append(logs)
        if self.validation is not None:
            for logs, validation_logs in zip(all_logs, self.evaluate()):
                logs.update({f"val_{name}": value for name, value in validation_logs.items()})
        for epoch_logs, callback_list in zip(all_logs, lists):
            callback_list.on_epoch_end(epoch, epoch_logs)
        return all_logs


def steps_or(bad_step: Optional[int], steps: int) -> int:
    """The batch index reported to callbacks: the bad step, else the last one."""
    return steps - 1 if bad_step is None else bad_step
