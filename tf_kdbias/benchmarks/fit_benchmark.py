"""Side-by-side timings of student-only training and three ways to distil.

Everything runs in one process on the same data, with the same seed (so the
same initial student weights and batch order), optimizer, batch size and
number of steps for every variant. Per variant we time each epoch with
`time.perf_counter` and report the median epoch *excluding the first*, which
traces (and, with jit_compile, compiles) the training step.

MNIST rows (CNN teacher -> the paper's MLP), see `fit_variants.MNIST_VARIANTS`:
  student_only                  plain compile(loss=SparseCE(from_logits)) + fit
  student_only_jit              the same with jit_compile=True (XLA)
  student_only_in_memory        the same fed pre-materialised batches
  student_only_legacy_pipeline  the same fed the pre-fix `make_dataset`
  ours_cached                   our Distiller, teacher logits cached in the batches
  ours_cached_jit               the same with jit_compile=True
  ours_per_step                 our Distiller running the teacher every step
  keras_distiller               keras.distillation.Distiller, same T and loss

Optional SVA rows (LSTM teacher -> causal Transformer-seq student) repeat
the four main variants on the synthetic agreement grammar.

The parts: fit_settings (what runs), fit_workloads (data and teachers),
fit_variants (the rows' trainers and pipelines), fit_timing (timing and the
stall probe), legacy_pipeline (the pre-fix pipeline, the baseline) and
fit_report (ratios, targets, the printed summary). Needs TensorFlow (tf.data
pipelines). docs/BENCHMARKS.md explains the rows, ratios and targets.
"""

import dataclasses
import os
import time
from typing import Dict, List, Optional, Sequence

from tf_kdbias import io_utils
from tf_kdbias.benchmarks.fit_report import (NOTES, compute_ratios, evaluate_targets,
                                             format_cell, machine_info)
from tf_kdbias.benchmarks.fit_settings import BenchmarkSettings
from tf_kdbias.benchmarks.fit_timing import stall_probe
from tf_kdbias.benchmarks.fit_variants import (SVA_VARIANTS, Variant, mnist_variants,
                                               run_variant, variant_named)
from tf_kdbias.benchmarks.fit_workloads import (Workload, mnist_workload, paper_cnn_workload,
                                                sva_workload)
from tf_kdbias.tf_support import require_tensorflow

FEATURE = "The fit benchmark (scripts/benchmark.py without --engine)"


def _run_rows(workload: Workload, variants: Sequence[Variant], seed: int, log) -> List[Dict]:
    rows = []
    for variant in variants:
        row = run_variant(workload, variant, seed)
        log(f"  {workload.name}/{row['name']}: median epoch {row['median_epoch_s']:.3f} s, "
            f"test accuracy {format_cell(row['test_accuracy'], 4)}, "
            f"fit exit {row['fit_exit_s']:.3f} s ({row['row_wall_s']:.0f} s in all)")
        rows.append(row)
    return rows


def run_benchmark(settings: BenchmarkSettings, data_dir: Optional[str] = None,
                  teacher_dir: Optional[str] = None, output_path: Optional[str] = None,
                  log=print) -> Dict:
    """Runs every row, writes `output_path` (JSON, atomically) and returns the report."""
    require_tensorflow(FEATURE)
    start = time.perf_counter()
    report = {"machine": machine_info(), "settings": dataclasses.asdict(settings)}
    mnist = mnist_workload(settings, data_dir, teacher_dir, log)
    report["settings"]["mnist"] = mnist.info
    rows = _run_rows(mnist, mnist_variants(settings.jit, settings.variants), settings.seed, log)
    if settings.paper_teacher_steps:
        rows += _run_rows(paper_cnn_workload(mnist, settings.seed),
                          [dataclasses.replace(variant_named("keras_distiller"),
                                               timed_steps=settings.paper_teacher_steps)],
                          settings.seed, log)
    log("stall probe: destroying finished epoch iterators")
    report["stall"] = stall_probe(mnist, settings.stall_trials, settings.seed)
    sva = sva_workload(settings.sva, settings.seed, log) if settings.sva else None
    if sva is not None:
        report["settings"]["sva_workload"] = sva.info
        rows += _run_rows(sva, SVA_VARIANTS, settings.seed, log)
    report["rows"] = rows
    report["ratios"] = compute_ratios(rows, "mnist")
    report["targets"] = evaluate_targets(report["ratios"], rows, "mnist")
    if sva is not None:
        report["sva_ratios"] = compute_ratios(rows, "sva")
    report["notes"] = list(NOTES)
    report["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    report["wall_time_s"] = time.perf_counter() - start
    if output_path:
        io_utils.write_json_atomic(output_path, report)
    return report
