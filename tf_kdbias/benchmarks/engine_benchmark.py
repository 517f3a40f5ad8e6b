"""Training speed of the standard and fused engines on the paper's MNIST setups (JAX).

`scripts/benchmark.py --engine=standard|fused|both` (docs/BENCHMARKS.md,
"Engines"). For each setup of the paper's table (CNN and MLP alone, and the
four teacher -> student pairs, the teacher run at every step in training
mode as in the authors' recipe) it trains fresh, untrained models (weights
do not change a step's cost) on MNIST with the authors' optimizers, and
times whole epochs, the first one (compilation) excluded. The rows of a
setup take their epochs in turn (standard, fused, group, standard, ...), so
that on a shared host they all see the same load:

  standard  Keras' fit fed by make_epoch_dataset, as run_lib's default engine
  fused     engine.FusedFitter: the split on the device, one call per epoch
  fused_xN  seeds.SeedGroupFitter: N seeds of the setup as one program

Per row: steps/s (seed-steps for a group), examples/s, the ratio to the
standard row of its setup, the analytic and XLA-counted FLOPs per example,
the achieved TFLOP/s and its fraction of the device's peak (GPUs in
flops.PEAK_TFLOPS), and the host time of one epoch backup (the per-epoch
save every run also pays). From the rows: the projected wall time of the
whole table (setups x seeds x epochs x steps per epoch / steps per second,
run one after another; compilation, evaluation and backups not included).

Needs only JAX (no TensorFlow).
"""

import dataclasses
import os
import platform
import statistics
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import keras
import numpy as np

from tf_kdbias import io_utils
from tf_kdbias.data import pipeline
from tf_kdbias.data.mnist import load_mnist
from tf_kdbias.distill.distiller import Distiller
from tf_kdbias.errors import UserError
from tf_kdbias.tasks.base import MnistTask
from tf_kdbias.models.cnn import build_cnn
from tf_kdbias.models.mlp import build_mlp
from tf_kdbias.optimizers.factory import make_optimizer

SETUPS = ("cnn", "mlp", "cnn_to_mlp", "mlp_to_mlp", "cnn_to_cnn", "mlp_to_cnn")
ENGINE_CHOICES = ("standard", "fused", "both")
BUILDERS = {"cnn": build_cnn, "mlp": build_mlp}


@dataclasses.dataclass
class EngineBenchmarkSettings:
    """What the engine benchmark runs.

    Args:
      engines: 'standard' and/or 'fused'.
      setups: names from SETUPS ('mlp', 'cnn_to_mlp', ...).
      group_seeds: also time this many seeds vmapped together (fused; 0: no).
      train_size: training examples per timed epoch (None: all 60k).
      epochs: epochs per row; the first compiles and is not timed.
      batch_size: examples per step (the paper's 128).
      mixed_precision: float16 compute (the authors' recipe: False).
      loop: the fused engine's loop, 'scan', 'steps' or 'auto' (scan except
        on a CPU; see fused/engine.py).
      table_seeds, table_epochs, table_examples: the table the projection is for.
      seed: seeds the models and batch order.
    """

    engines: Sequence[str] = ("standard", "fused")
    setups: Sequence[str] = SETUPS
    group_seeds: int = 4
    train_size: Optional[int] = None
    epochs: int = 3
    batch_size: int = 128
    mixed_precision: bool = False
    loop: str = "auto"
    table_seeds: int = 4
    table_epochs: int = 400
    table_examples: int = 60000
    seed: int = 0


def engines_for(choice: str) -> List[str]:
    """--engine's value as a list of engines."""
    if choice not in ENGINE_CHOICES:
        raise UserError(f"--engine={choice!r}: use one of {list(ENGINE_CHOICES)}.")
    return ["standard", "fused"] if choice == "both" else [choice]


def parse_setup(name: str):
    """'cnn_to_mlp' -> ('mlp', 'cnn'); 'mlp' -> ('mlp', None)."""
    if name not in SETUPS:
        raise UserError(f"Unknown setup {name!r}; use some of {list(SETUPS)}.")
    teacher, _, student = name.rpartition("_to_")
    return student, teacher or None


# ---------------------------------------------------------------- trainers


def build_trainer(setup: str, steps_per_epoch: int, seed: int) -> keras.Model:
    """A compiled trainer of `setup` with the authors' recipe (recipes/*.gin).

    Models alone: RAdam 1e-4, exponential decay. Students: Adam (eps 1e-8)
    with one cosine, soft-target CE / T^2 at T = 5, r = 1, the teacher in
    training mode at every step.
    """
    student_name, teacher_name = parse_setup(setup)
    keras.utils.set_random_seed(seed)
    student = BUILDERS[student_name](name=student_name)
    if teacher_name is None:
        optimizer = make_optimizer(steps_per_epoch, name="radam", learning_rate=1e-4,
                                   schedule="exponential", decay_steps=10000, decay_rate=0.96,
                                   epsilon=1e-8, rectify_threshold=5.0)
        task = MnistTask()
        student.compile(optimizer=optimizer, loss=task.training_loss(),
                        metrics=task.training_metrics(), jit_compile=True)
        return student
    teacher = BUILDERS[teacher_name](name=f"teacher_{teacher_name}")
    teacher.trainable = False
    optimizer = make_optimizer(steps_per_epoch, name="adam", learning_rate=1e-4, epsilon=1e-8,
                               schedule="cosine_restarts", first_decay_steps=200000,
                               t_mul=5.0, m_mul=0.2, alpha=0.001)
    trainer = Distiller(student=student, teacher=teacher, temperature=5.0, distill_rate=1.0,
                        kd_loss="soft_cross_entropy", teacher_training=True)
    trainer.compile(optimizer=optimizer, jit_compile=True)
    return trainer


def models_of(trainer: keras.Model):
    """(student, teacher run per step or None)."""
    return getattr(trainer, "student", trainer), getattr(trainer, "teacher", None)


# ---------------------------------------------------------------- timing


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
      standard: a trainer for Keras' fit on make_epoch_dataset (run_lib's
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


# ---------------------------------------------------------------- FLOPs


def step_flops(trainer: keras.Model, data, batch_size: int) -> Optional[float]:
    """XLA's FLOP count of one training step of `trainer`, per example."""
    import jax

    from tf_kdbias.training.fused import engine, flops
    indices = np.arange(batch_size, dtype=np.int32)[None]
    compiled = jax.jit(engine.train_block_fn(trainer)).lower(
        engine.read_state(trainer), data, indices).compile()
    total = flops.xla_flops(compiled)
    return None if total is None else total / batch_size


def device_info() -> Dict:
    import jax

    device = jax.devices()[0]
    return {"platform": device.platform, "device_kind": device.device_kind,
            "devices": len(jax.devices()), "jax": jax.__version__, "keras": keras.__version__,
            "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average_1m_at_start": round(os.getloadavg()[0], 2)}


def peak_for(info: Dict, mixed_precision: bool):
    """(precision name, peak TFLOP/s) of the device, or (name, None) off-GPU/unknown.

    float32 matmuls and convolutions run on tensor cores as TF32 under XLA's
    default precision on GPUs that have them, so that is their peak.
    """
    from tf_kdbias.training.fused import flops

    precision = "fp16" if mixed_precision else "tf32"
    peaks = flops.device_peak(info["device_kind"]) if info["platform"] == "gpu" else None
    return precision, (peaks or {}).get(precision)


# ---------------------------------------------------------------- rows


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


def run_setup(setup: str, settings: EngineBenchmarkSettings, images, labels, info: Dict,
              log=print) -> List[Dict]:
    """The rows of one setup: each engine and the vmapped group (if asked), interleaved."""
    from tf_kdbias.training.fused import engine, flops, seeds

    bs, seed = settings.batch_size, settings.seed
    steps = pipeline.steps_per_epoch(len(labels), bs)
    elements = engine.training_elements(images, labels)
    standard = (build_trainer(setup, steps, seed) if "standard" in settings.engines else None)
    fitters = {}
    if "fused" in settings.engines:
        fitters["fused"] = engine.FusedFitter(build_trainer(setup, steps, seed), elements, bs,
                                              seed, loop=settings.loop)
        if settings.group_seeds > 1:
            group_seeds = [seed + k for k in range(settings.group_seeds)]
            fitters[f"fused_x{len(group_seeds)}"] = seeds.SeedGroupFitter(
                [build_trainer(setup, steps, s) for s in group_seeds],
                [elements] * len(group_seeds), group_seeds, bs, loop=settings.loop)
    times = time_engines(standard, fitters, images, labels, bs, seed, settings.epochs)
    rows = [_row(setup, name, seconds, steps, bs,
                 seeds=len(getattr(fitters.get(name), "trainers", [None])))
            for name, seconds in times.items()]
    for row in rows:
        row["loop"] = getattr(fitters.get(row["engine"]), "loop", None)
    fitter = fitters.get("fused")
    probe = fitter.trainer if fitter is not None else build_trainer(setup, steps, seed)
    student, teacher = models_of(probe)
    analytic = flops.training_flops_per_example(student, teacher)
    counted = step_flops(probe, engine.to_device(elements), bs)
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
        log(f"  {setup}/{row['engine']}: {row['steps_per_s']:.1f} steps/s, "
            f"{row['examples_per_s']:.0f} examples/s"
            + (f", x{row['ratio_to_standard']:.2f} vs standard" if standard_row else ""))
    return rows


def project_table(rows: Sequence[Dict], settings: EngineBenchmarkSettings) -> Dict[str, Dict]:
    """Per engine: projected seconds for the whole table, run back to back."""
    steps = pipeline.steps_per_epoch(settings.table_examples, settings.batch_size)
    projection = {}
    for engine_name in dict.fromkeys(r["engine"] for r in rows):
        mine = [r for r in rows if r["engine"] == engine_name]
        work = settings.table_seeds * settings.table_epochs * steps
        projection[engine_name] = {
            "seconds": sum(work / r["steps_per_s"] for r in mine),
            "cpu_seconds": (sum(work / r["steps_per_cpu_s"] for r in mine)
                            if all(r.get("steps_per_cpu_s") for r in mine) else None),
            "setups": [r["setup"] for r in mine], "complete": len(mine) == len(SETUPS)}
    return projection


def table_flops(settings: EngineBenchmarkSettings) -> Dict:
    """Analytic FLOPs of the whole table: every setup, seed, epoch and example.

    Counted for all six setups (building the models is cheap), whichever
    rows were timed.
    """
    from tf_kdbias.training.fused import flops

    per_example = {}
    for setup in SETUPS:
        student_name, teacher_name = parse_setup(setup)
        student = BUILDERS[student_name]()
        teacher = BUILDERS[teacher_name]() if teacher_name else None
        per_example[setup] = flops.training_flops_per_example(student, teacher)
    examples = settings.table_seeds * settings.table_epochs * settings.table_examples
    return {"per_example": per_example, "total_flop": examples * sum(per_example.values())}


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


# ---------------------------------------------------------------- report


def _cell(value, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 3600 * 3 else f"{seconds / 3600:.1f} h"


def format_engine_report(report: Dict) -> str:
    """The rows as a Markdown table, then the projected table wall times."""
    lines = ["| setup | engine | steps/s | examples/s | × standard | epoch wall / CPU (s) | "
             "steps per CPU-s (× standard) | FLOPs/example (analytic / XLA) | achieved TFLOP/s "
             "| of peak | backup (s/epoch) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        peak = ("n/a" if r["fraction_of_peak"] is None
                else f"{100 * r['fraction_of_peak']:.2f}% of {r['peak_precision']} "
                     f"{r['peak_tflops']:.0f}")
        xla = r["flops_per_example_xla"]
        engine_name = r["engine"] + (f" ({r['loop']})" if r.get("loop") else "")
        lines.append(
            f"| {r['setup']} | {engine_name} | {r['steps_per_s']:.1f} | "
            f"{r['examples_per_s']:.0f} | {_cell(r['ratio_to_standard'], '.2f')} | "
            f"{r['median_epoch_s']:.2f} / {r['median_epoch_cpu_s']:.2f} | "
            f"{_cell(r['steps_per_cpu_s'], '.1f')} ({_cell(r['cpu_ratio_to_standard'], '.2f')}) | "
            f"{r['flops_per_example_analytic'] / 1e6:.1f} M / "
            f"{_cell(None if xla is None else xla / 1e6, '.1f')} M | "
            f"{r['achieved_tflops']:.3f} | {peak} | {r['backup_s']:.3f} |")
    s = report["settings"]
    lines += ["", f"Projected wall time of the table ({s['table_seeds']} seeds × "
                  f"{s['table_epochs']} epochs × {s['table_examples']} examples per setup, "
                  "runs back to back; compilation, evaluation and backups left out):"]
    for engine_name, p in report["projection"].items():
        scope = ("all 6 setups" if p["complete"]
                 else f"only {', '.join(p['setups'])} ({len(p['setups'])} of 6 setups)")
        cpu = "" if p.get("cpu_seconds") is None else (
            f"; at its CPU time per step, {_minutes(p['cpu_seconds'])}")
        lines.append(f"- {engine_name}: {_minutes(p['seconds'])}{cpu} ({scope})")
    t = report["table_flops"]
    at_peak = ("" if t["peak_tflops"] is None else
               f"; at the device's {t['peak_precision']} peak ({t['peak_tflops']:.0f} TFLOP/s) "
               f"no engine can take less than {t['total_flop'] / t['peak_tflops'] / 1e12:.0f} s")
    lines += ["", f"The table's arithmetic (analytic, all 6 setups): "
                  f"{t['total_flop'] / 1e15:.1f} PFLOP{at_peak}. Per example: "
                  + ", ".join(f"{k} {v / 1e6:.1f} M" for k, v in t["per_example"].items()) + "."]
    m = report["machine"]
    lines += ["", f"Device: {m['device_kind']} ({m['platform']}), {m['cores']} cores, JAX "
                  f"{m['jax']}, Keras {m['keras']}; load average (1 min) at start/end "
                  f"{m['load_average_1m_at_start']} / {m['load_average_1m_at_end']}; "
                  f"{report['train_examples']} examples per timed epoch."]
    return "\n".join(lines)
