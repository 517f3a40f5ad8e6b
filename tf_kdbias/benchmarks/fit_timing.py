"""How the fit benchmark times a row, and the exit-stall probe.

A row's time is its median step time x steps per epoch over all epochs but
the first (which traces, and with XLA compiles, the step); the stall probe
times the destruction of a finished epoch's tf.data iterator, which fit()
does on return. docs/BENCHMARKS.md, "What is measured".
"""

import statistics
import time
from typing import Dict, List, Optional, Sequence

import keras

from tf_kdbias.benchmarks.fit_workloads import Workload
from tf_kdbias.benchmarks.legacy_pipeline import legacy_make_dataset
from tf_kdbias.data.pipeline import make_dataset
from tf_kdbias.errors import UserError


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
