"""Training speed of the standard and fused engines on the paper's MNIST setups (JAX).

`scripts/benchmark.py --engine=standard|fused|both` (docs/BENCHMARKS.md,
"Engines"). For each setup of the paper's table (CNN and MLP alone, and the
four teacher -> student pairs, the teacher run at every step in training
mode as in the authors' recipe) it trains fresh, untrained models (weights
do not change a step's cost) on MNIST with the authors' optimizers, and
times whole epochs, the first one (compilation) excluded. The rows of a
setup take their epochs in turn (standard, fused, group, standard, ...), so
that on a shared host they all see the same load:

  standard  Keras' fit fed by make_epoch_dataset, training.run's default engine
  fused     engine.FusedFitter: the split on the device, one call per epoch
  fused_xN  seeds.SeedGroupFitter: N seeds of the setup as one program

Per row: steps/s (seed-steps for a group), examples/s, the ratio to the
standard row of its setup, the analytic and XLA-counted FLOPs per example,
the achieved TFLOP/s and its fraction of the device's peak (GPUs in
flops.PEAK_TFLOPS), and the host time of one epoch backup (the per-epoch
save every run also pays). From the rows: the projected wall time of the
whole table (engine_report).

The parts: engine_setups (setups, settings, trainers), engine_timing
(interleaved epoch clocks) and engine_report (device, projection, summary).
Needs only JAX (no TensorFlow).
"""

import dataclasses
import os
import time
from typing import Dict, List, Optional

import keras
import numpy as np

from tf_kdbias import io_utils
from tf_kdbias.benchmarks.engine_report import (device_info, peak_for, project_table,
                                                table_flops)
from tf_kdbias.benchmarks.engine_setups import (EngineBenchmarkSettings, build_trainer,
                                                models_of, parse_setup)
from tf_kdbias.benchmarks.engine_timing import backup_seconds, time_engines, timed_median
from tf_kdbias.data import pipeline
from tf_kdbias.data.mnist import load_mnist
from tf_kdbias.errors import UserError


def step_flops(trainer: keras.Model, data, batch_size: int) -> Optional[float]:
    """XLA's FLOP count of one training step of `trainer`, per example."""
    import jax

    from tf_kdbias.training.fused import engine, flops
    indices = np.arange(batch_size, dtype=np.int32)[None]
    compiled = jax.jit(engine.train_block_fn(trainer)).lower(
        engine.read_state(trainer), data, indices).compile()
    total = flops.xla_flops(compiled)
    return None if total is None else total / batch_size


def _row(setup, engine, seconds, steps, batch_size, seeds=1):
    """A row from (wall, CPU) epoch times; rates come from the median wall time."""
    walls, cpus = [w for w, _ in seconds], [c for _, c in seconds]
    epoch_s = timed_median(walls)
    steps_per_s = seeds * steps / epoch_s
    cpu_s = timed_median(cpus)
    return {"setup": setup, "engine": engine, "seeds_together": seeds,
            "median_epoch_s": epoch_s, "epoch_s": [round(s, 4) for s in walls],
            "median_epoch_cpu_s": cpu_s, "epoch_cpu_s": [round(s, 4) for s in cpus],
            "steps_per_epoch": steps, "steps_per_s": steps_per_s,
            "examples_per_s": steps_per_s * batch_size,
            # Work per step on a shared CPU host, where wall time measures the others' load.
            "steps_per_cpu_s": seeds * steps / cpu_s if cpu_s > 0 else None}


def _fused_fitters(setup: str, settings: EngineBenchmarkSettings, elements,
                   steps: int) -> Dict:
    """Row name -> fused fitter: the run alone and, if asked, the vmapped seed group."""
    from tf_kdbias.training.fused import engine, seeds

    bs, seed = settings.batch_size, settings.seed
    fitters = {}
    if "fused" in settings.engines:
        fitters["fused"] = engine.FusedFitter(build_trainer(setup, steps, seed), elements, bs,
                                              seed, loop=settings.loop)
        if settings.group_seeds > 1:
            group_seeds = [seed + k for k in range(settings.group_seeds)]
            fitters[f"fused_x{len(group_seeds)}"] = seeds.SeedGroupFitter(
                [build_trainer(setup, steps, s) for s in group_seeds],
                [elements] * len(group_seeds), group_seeds, bs, loop=settings.loop)
    return fitters


def _add_flops_and_ratios(rows: List[Dict], probe: keras.Model, elements,
                          settings: EngineBenchmarkSettings, info: Dict) -> None:
    """FLOPs, peak, backup time and ratios to the standard row, from one probe trainer."""
    from tf_kdbias.training.fused import engine, flops

    student, teacher = models_of(probe)
    analytic = flops.training_flops_per_example(student, teacher)
    counted = step_flops(probe, engine.to_device(elements), settings.batch_size)
    backup_s = backup_seconds(probe)
    precision, peak = peak_for(info, settings.mixed_precision)
    standard_row = next((r for r in rows if r["engine"] == "standard"), None)
    for row in rows:
        per_example = counted or analytic
        achieved = per_example * row["examples_per_s"] / 1e12
        row.update(flops_per_example_analytic=analytic, flops_per_example_xla=counted,
                   achieved_tflops=achieved, peak_precision=precision, peak_tflops=peak,
                   fraction_of_peak=None if peak is None else achieved / peak,
                   backup_s=backup_s,
                   ratio_to_standard=(row["steps_per_s"] / standard_row["steps_per_s"]
                                      if standard_row else None),
                   cpu_ratio_to_standard=(
                       row["steps_per_cpu_s"] / standard_row["steps_per_cpu_s"]
                       if standard_row and row["steps_per_cpu_s"]
                       and standard_row["steps_per_cpu_s"] else None))


def run_setup(setup: str, settings: EngineBenchmarkSettings, images, labels, info: Dict,
              log=print) -> List[Dict]:
    """The rows of one setup: each engine and the vmapped group (if asked), interleaved."""
    from tf_kdbias.training.fused import engine

    bs, seed = settings.batch_size, settings.seed
    steps = pipeline.steps_per_epoch(len(labels), bs)
    elements = engine.training_elements(images, labels)
    standard = (build_trainer(setup, steps, seed) if "standard" in settings.engines else None)
    fitters = _fused_fitters(setup, settings, elements, steps)
    times = time_engines(standard, fitters, images, labels, bs, seed, settings.epochs)
    rows = [_row(setup, name, seconds, steps, bs,
                 seeds=len(getattr(fitters.get(name), "trainers", [None])))
            for name, seconds in times.items()]
    for row in rows:
        row["loop"] = getattr(fitters.get(row["engine"]), "loop", None)
    fitter = fitters.get("fused")
    probe = fitter.trainer if fitter is not None else build_trainer(setup, steps, seed)
    _add_flops_and_ratios(rows, probe, elements, settings, info)
    has_standard = any(r["engine"] == "standard" for r in rows)
    for row in rows:
        log(f"  {setup}/{row['engine']}: {row['steps_per_s']:.1f} steps/s, "
            f"{row['examples_per_s']:.0f} examples/s"
            + (f", x{row['ratio_to_standard']:.2f} vs standard" if has_standard else ""))
    return rows


def run_engine_benchmark(settings: EngineBenchmarkSettings, data_dir: Optional[str] = None,
                         output_path: Optional[str] = None, log=print) -> Dict:
    """Runs every row, writes `output_path` (JSON, atomically) and returns the report."""
    if keras.config.backend() != "jax":
        raise UserError("The engine benchmark times Keras' JAX backend; run it with "
                        "KERAS_BACKEND=jax.")
    for name in settings.setups:
        parse_setup(name)
    start = time.perf_counter()
    if settings.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    info = device_info()
    splits = load_mnist(data_dir, validation_size=0, seed=settings.seed,
                        train_size=settings.train_size)
    images, labels = splits.train.images, splits.train.labels
    log(f"{info['device_kind']} ({info['platform']}): {len(labels)} training examples per "
        f"epoch, {settings.epochs} epochs per row (the first not timed)")
    rows = []
    for setup in settings.setups:
        rows += run_setup(setup, settings, images, labels, info, log)
    precision, peak = peak_for(info, settings.mixed_precision)
    report = {"machine": info, "settings": dataclasses.asdict(settings), "rows": rows,
              "projection": project_table(rows, settings),
              "table_flops": {**table_flops(settings), "peak_precision": precision,
                              "peak_tflops": peak},
              "train_examples": len(labels)}
    report["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    report["wall_time_s"] = time.perf_counter() - start
    if output_path:
        io_utils.write_json_atomic(output_path, report)
    return report
