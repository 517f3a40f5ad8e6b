"""How the engine benchmark times epochs: interleaved, as (wall, CPU) seconds.

The rows of a setup take their epochs in turn (standard, fused, group,
standard, ...), so that on a shared host they all see the same load; each
epoch waits for the device before its clock stops. Needs only JAX.
"""

import os
import statistics
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import keras

from tf_kdbias.data import pipeline
from tf_kdbias.errors import UserError


def _block(trainer: keras.Model) -> None:
    import jax
    jax.block_until_ready([v.value for v in trainer.trainable_variables])


def _now():
    """(wall, process CPU) seconds: CPU time shows how contended a shared host was."""
    return time.perf_counter(), time.process_time()


def _since(start):
    wall, cpu = _now()
    return wall - start[0], cpu - start[1]


class _EpochClock(keras.callbacks.Callback):
    """(wall, CPU) time of each epoch of fit(), waiting for the device at its end."""

    def __init__(self):
        super().__init__()
        self.seconds: List = []
        self._start = (0.0, 0.0)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = _now()

    def on_epoch_end(self, epoch, logs=None):
        _block(self.model)
        self.seconds.append(_since(self._start))


def _fused_epoch(fitter, state, epoch: int):
    """One timed epoch of a fused fitter (one run or a group), written back as runs do."""
    import jax

    start = _now()
    state, _ = fitter.train_epoch(state, epoch)
    fitter.write_state(state)
    jax.block_until_ready(state)
    return state, _since(start)


class _Interleaved(keras.callbacks.Callback):
    """Runs one epoch of each fused fitter after each standard epoch.

    Interleaving puts every row of a setup under the same load: on a shared
    host, rows timed one after another see different neighbours.
    """

    def __init__(self, fitters: Dict):
        super().__init__()
        self.fitters = fitters
        self.states = {name: fitter.read_state() for name, fitter in fitters.items()}
        self.seconds: Dict[str, List] = {name: [] for name in fitters}

    def run_epoch(self, epoch: int) -> None:
        for name, fitter in self.fitters.items():
            self.states[name], took = _fused_epoch(fitter, self.states[name], epoch)
            self.seconds[name].append(took)

    def on_epoch_end(self, epoch, logs=None):
        self.run_epoch(epoch)


def time_engines(standard: Optional[keras.Model], fitters: Dict, images, labels,
                 batch_size: int, seed: int, epochs: int) -> Dict[str, List]:
    """(wall, CPU) epoch times per row, the rows' epochs interleaved.

    Args:
      standard: a trainer for Keras' fit on make_epoch_dataset (training.run's
        standard engine), or None.
      fitters: row name -> fused fitter (engine.FusedFitter, seeds.SeedGroupFitter).
    """
    interleaved = _Interleaved(fitters)
    if standard is None:
        for epoch in range(epochs):
            interleaved.run_epoch(epoch)
        return dict(interleaved.seconds)
    clock = _EpochClock()
    dataset = pipeline.make_epoch_dataset(images, labels, batch_size=batch_size, seed=seed,
                                          epochs=epochs)
    standard.fit(dataset, epochs=epochs, steps_per_epoch=pipeline.steps_per_epoch(
        len(labels), batch_size), callbacks=[clock, interleaved], verbose=0, shuffle=False)
    return {"standard": clock.seconds, **interleaved.seconds}


def timed_median(seconds: Sequence[float]) -> float:
    """Median of the epoch times after the first (which compiles)."""
    if len(seconds) < 2:
        raise UserError("The engine benchmark needs at least 2 epochs per row (the first "
                        "compiles and is not timed); raise --epochs.")
    return float(statistics.median(seconds[1:]))


def backup_seconds(trainer: keras.Model, trials: int = 3) -> float:
    """Median host time of saving the trainer's weights, as each epoch's backup does."""
    times = []
    with tempfile.TemporaryDirectory() as folder:
        for i in range(trials):
            start = time.perf_counter()
            trainer.save_weights(os.path.join(folder, f"t{i}.weights.h5"))
            times.append(time.perf_counter() - start)
    return float(statistics.median(times))
