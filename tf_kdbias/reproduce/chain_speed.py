"""The chain's measurements: a short speed check, FLOPs per setup, the state's size.

`measure_speed` (first slot only, JAX, fused engine) times a few epochs of
some setups of the plan exactly as the table trains them (their gin config;
the seeds of a setup vmapped as one program when seed groups are on) and
records run-steps per second; `setup_flops` counts every setup's analytic
FLOPs per example (`training/fused/flops.py`); both go into the chain's
`speed.json`. `state_size_estimate` says how large the packed state gets
for a plan, from the models' weight counts. Imports Keras.
"""

import os
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import keras

from tf_kdbias import gin_utils
from tf_kdbias.reproduce.plan import Run
from tf_kdbias.training import provenance

# Bytes a packed run carries besides weights (metrics.json with 400 epochs of
# history, configs, logs; measured ~60-150 KiB), and a .keras file's own overhead.
RUN_FILES_BYTES = 256 * 1024
MODEL_FILE_OVERHEAD = 64 * 1024


def _model_of(run: Run) -> keras.Model:
    """The (untrained) model `run` trains, built under its gin config."""
    from tf_kdbias.training.run import describe_run  # pylint: disable=import-outside-toplevel

    gin_utils.parse_gin(run.gin_files, run.bindings)
    with tempfile.TemporaryDirectory() as probe:
        spec = describe_run(probe)
    return spec.model_fn(**spec.task.model_kwargs())


def _first_runs(runs: Sequence[Run]) -> Dict[str, Run]:
    """The first run of each setup, and by model name the first run training it alone."""
    by_setup: Dict[str, Run] = {}
    for run in runs:
        by_setup.setdefault(run.setup, run)
    return by_setup


def model_census(runs: Sequence[Run]) -> Dict[str, Dict]:
    """{model name: {params, forward_flops}} of the plan's models (built untrained)."""
    from tf_kdbias.training.fused import flops  # pylint: disable=import-outside-toplevel

    census = {}
    for setup, run in _first_runs(runs).items():
        if run.student in census:
            continue
        model = _model_of(run)
        census[run.student] = {"params": int(model.count_params()),
                               "forward_flops": int(flops.forward_flops(model))}
    return census


def setup_flops(runs: Sequence[Run], census: Optional[Dict] = None) -> Dict[str, int]:
    """Analytic training FLOPs per example of each setup (3 student + 1 teacher forward)."""
    census = census or model_census(runs)
    result = {}
    for setup, run in _first_runs(runs).items():
        teacher = census[run.teacher]["forward_flops"] if run.teacher else 0
        result[setup] = 3 * census[run.student]["forward_flops"] + teacher
    return result


def state_size_estimate(runs: Sequence[Run], stages, census: Optional[Dict] = None,
                        optimizer_slots: int = 2) -> Dict:
    """Bytes of the packed state at each stage's worst point, from the weight counts.

    Finished runs carry their files; finished teachers their float32 weights;
    a run in flight its backup: student weights and `optimizer_slots` moments
    (Adam, RAdam: 2) and the teacher's weights (all float32). The worst point
    of a stage: every run of it in flight, every earlier run finished.
    Compression is not counted (float weights barely compress).
    """
    census = census or model_census(runs)
    teachers = {run.teacher_dir for run in runs if run.teacher_dir}
    by_dir = {run.run_dir: run for run in runs}
    teacher_bytes = sum(4 * census[by_dir[d].student]["params"] + MODEL_FILE_OVERHEAD
                        for d in teachers if d in by_dir)
    result, finished = {}, 0
    for stage in stages:
        members = stage.runs(runs)
        in_flight = sum(4 * (1 + optimizer_slots) * census[r.student]["params"]
                        + (4 * census[r.teacher]["params"] if r.teacher else 0)
                        + RUN_FILES_BYTES for r in members)
        done_teachers = teacher_bytes if stage.number > 1 else 0
        result[stage.number] = {"worst_bytes": done_teachers + finished * RUN_FILES_BYTES
                                + in_flight}
        finished += len(members)
    result["end"] = {"worst_bytes": teacher_bytes + finished * RUN_FILES_BYTES}
    result["params"] = {name: entry["params"] for name, entry in census.items()}
    return result


def _trainer(run: Run, teacher: Optional[keras.Model], steps_per_epoch: int) -> keras.Model:
    """`run`'s compiled trainer as training/run.py builds it (teacher: untrained, frozen)."""
    from tf_kdbias.distill.distiller import Distiller  # pylint: disable=import-outside-toplevel
    from tf_kdbias.optimizers.factory import make_optimizer  # pylint: disable=import-outside-toplevel

    model = _model_of(run)  # Parses the run's gin config: its recipe binds what follows.
    from tf_kdbias.tasks.mnist import MnistTask  # pylint: disable=import-outside-toplevel
    optimizer = make_optimizer(steps_per_epoch)
    if teacher is None:
        task = MnistTask()
        model.compile(optimizer=optimizer, loss=task.training_loss(),
                      metrics=task.training_metrics(), jit_compile=True)
        return model
    teacher.trainable = False
    trainer = Distiller(student=model, teacher=teacher)
    trainer.compile(optimizer=optimizer, jit_compile=True)
    return trainer


def _fitter(runs: Sequence[Run], teacher_run: Optional[Run], images, labels, batch_size: int,
            group: bool):
    """A fused fitter of a setup's runs: the seeds vmapped (group) or its first run."""
    from tf_kdbias.training.fused import engine, seeds  # pylint: disable=import-outside-toplevel

    steps = -(-len(labels) // batch_size)
    elements = engine.training_elements(images, labels)
    members = list(runs) if group else list(runs[:1])
    trainers = [_trainer(run, None if teacher_run is None else _model_of(teacher_run), steps)
                for run in members]
    if group and len(members) > 1:
        return seeds.SeedGroupFitter(trainers, [elements] * len(members),
                                     list(range(len(members))), batch_size), len(members)
    return engine.FusedFitter(trainers[0], elements, batch_size, seed=0), 1


def _time_setup(fitter, limit_s: float) -> Dict:
    """Steps/s of `fitter`: one epoch compiles, then epochs are timed until `limit_s`."""
    import jax  # pylint: disable=import-outside-toplevel

    start = time.perf_counter()
    state = fitter.read_state()
    state, _ = fitter.train_epoch(state, 0)
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - start
    timed, epochs = 0.0, 0
    while epochs < 1 or (timed < limit_s / 2 and time.perf_counter() - start < limit_s):
        tick = time.perf_counter()
        state, _ = fitter.train_epoch(state, epochs + 1)
        jax.block_until_ready(state)
        timed += time.perf_counter() - tick
        epochs += 1
    return {"epochs_timed": epochs, "seconds": timed, "compile_s": compile_s,
            "steps": epochs * fitter.steps_per_epoch}


def default_setups(flops_per_setup: Dict[str, int]) -> List[str]:
    """The cheapest and the dearest setup by FLOPs per example: the line's two ends."""
    ordered = sorted(flops_per_setup, key=flops_per_setup.get)
    return list(dict.fromkeys([ordered[-1], ordered[0]])) if ordered else []


def measure_speed(runs: Sequence[Run], setups: Optional[Sequence[str]], data_dir: Optional[str],
                  group: bool, limit_s: float, train_size: int = 12800,
                  save=None) -> Dict:
    """Run-steps/s of `setups` as the table trains them, within about `limit_s` seconds.

    Args:
      runs: the plan's runs.
      setups: which setups to time (others are estimated from FLOPs); None:
        the dearest and the cheapest (`default_setups`).
      data_dir: MNIST.
      group: time the setup's seeds vmapped together (seed groups).
      limit_s: the whole check's time; a setup left without time is skipped.
      train_size: examples per timed epoch.
      save: called with the record after each setup (so a kill keeps it).
    """
    from tf_kdbias.benchmarks.engine_report import device_info  # pylint: disable=import-outside-toplevel
    from tf_kdbias.data.mnist import load_mnist  # pylint: disable=import-outside-toplevel

    start = time.perf_counter()
    info = device_info()
    census = model_census(runs)
    record = _speed_header(info, group, census, setup_flops(runs, census))
    setups = default_setups(record["flops_per_example"]) if setups is None else setups
    if save is not None:
        save(record)  # A check killed before any timing still counts as this slot's.
    splits = load_mnist(data_dir, validation_size=0, train_size=train_size)
    by_setup = {}
    for run in runs:
        by_setup.setdefault(run.setup, []).append(run)
    teachers = {run.run_dir: run for run in runs}
    for setup in setups:
        left = limit_s - (time.perf_counter() - start)
        if left < 5 or setup not in by_setup:
            continue
        members = by_setup[setup]
        batch_size = _batch_size(members[0])
        fitter, seeds_together = _fitter(members, teachers.get(members[0].teacher_dir),
                                         splits.train.images, splits.train.labels,
                                         batch_size, group)
        timing = _time_setup(fitter, left / 2)
        record["measured"][setup] = {**timing, "seeds_together": seeds_together,
                                     "batch_size": batch_size,
                                     "steps_per_s": seeds_together * timing["steps"]
                                     / timing["seconds"]}
        record["wall_s"] = round(time.perf_counter() - start, 1)
        if save is not None:
            save(record)
    return record


def _batch_size(run: Run) -> int:
    from tf_kdbias.training.settings import TrainSettings  # pylint: disable=import-outside-toplevel

    gin_utils.parse_gin(run.gin_files, run.bindings)
    return TrainSettings().batch_size


def _speed_header(info: Dict, group: bool, census: Dict, flops_per_setup: Dict) -> Dict:
    """The speed record before any timing: device, peak, precision, FLOPs."""
    from tf_kdbias.benchmarks.engine_report import peak_for  # pylint: disable=import-outside-toplevel

    precision, peak = peak_for(info, mixed_precision=False)
    return {"device_kind": info["device_kind"], "platform": info["platform"],
            "precision": provenance.precision()["matmul"], "peak_precision": precision,
            "peak_tflops": peak, "seed_groups": group, "census": census,
            "flops_per_example": flops_per_setup, "measured": {},
            "host": os.uname().nodename}
