r"""Times student-only training against three ways to distil (docs/BENCHMARKS.md).

  python scripts/benchmark.py --quick --data_dir=../shared/data --workdir=runs/benchmark
  python scripts/benchmark.py --data_dir=../shared/data --workdir=runs/benchmark_full \
      --teacher_dir=runs/benchmark_teacher

With --engine, times the standard and fused training engines instead, on the
paper's six MNIST setups (Keras' JAX backend; no TensorFlow needed):

  KERAS_BACKEND=jax python scripts/benchmark.py --engine=both \
      --engine_setups=mlp,mlp_to_mlp --data_dir=../shared/data --workdir=runs/engines
"""

import logging
import os

from absl import app, flags

from tf_kdbias import cli, tf_support

cli.define_data_flag()
flags.declare_key_flag("data_dir")  # Listed by --help, not only by --helpfull.
flags.DEFINE_bool("quick", False, "Quick mode, under 5 minutes on 2 idle cores: a small CNN "
                  "teacher trained 2 epochs, 3 epochs per row, Keras' Distiller with the "
                  "paper's CNN as teacher timed over 30 steps per epoch, no XLA or SVA rows. "
                  "Without it, full mode: the paper's CNN trained 3 epochs, 6 epochs per row, "
                  "XLA and SVA rows. Both train on all 55000 training examples. Not used with "
                  "--engine.")
flags.DEFINE_string("workdir", "runs/benchmark", "Folder for the report (benchmark.json, or "
                    "engines.json with --engine).")
flags.DEFINE_string("output", None, "The JSON report (default: <workdir>/benchmark.json, or "
                    "<workdir>/engines.json with --engine).")
flags.DEFINE_string("teacher_dir", None, "Loads the teacher's model.keras from here, or "
                    "trains it once and saves it here (with its cached logits). Not used with "
                    "--engine.")
flags.DEFINE_bool("jit", None, "Also time student-only and cached-logit distillation "
                  "with jit_compile=True (XLA): the student_only_jit and ours_cached_jit rows. "
                  "Default: on, off with --quick.")
flags.DEFINE_bool("sva", None, "Also time LSTM -> Transformer-seq distillation on the "
                  "synthetic SVA grammar (skipped with a note if SVA is not installed). "
                  "Default: on, off with --quick.")
flags.DEFINE_list("variants", None, "MNIST rows to run (default: all), e.g. "
                  "student_only,ours_cached,keras_distiller. The *_jit rows run only with "
                  "--jit on; the paper-CNN row of --quick, the stall probe and the SVA rows "
                  "run regardless.")
flags.DEFINE_integer("epochs", None, "Epochs per row, at least 2 (the first is not timed). "
                     "Default: 3 with --quick, 6 otherwise, and 3 with --engine; the SVA rows "
                     "keep their own (3, or 4 in full mode).")
flags.DEFINE_string("engine", None, "standard, fused or both: time the training engines "
                    "on the paper's MNIST setups instead of the rows above (Keras' JAX "
                    "backend: set KERAS_BACKEND=jax where TensorFlow is installed).")
flags.DEFINE_list("engine_setups", None, "With --engine: setups to time (default all six: "
                  "cnn, mlp, cnn_to_mlp, mlp_to_mlp, cnn_to_cnn, mlp_to_cnn).")
flags.DEFINE_integer("engine_train_size", None, "With --engine: training examples per timed "
                     "epoch (default: all 60000).")
flags.DEFINE_enum("engine_loop", "auto", ["auto", "scan", "steps"], "With --engine: the "
                  "fused engine's loop: scan (one call per epoch), steps (one call per step) "
                  "or auto (scan, except steps for a model with convolutions on a CPU).")
flags.DEFINE_integer("engine_group_seeds", 4, "With --engine=fused or both: also time this "
                     "many seeds trained together by the fused engine (0 or 1: no such rows).")
FLAGS = flags.FLAGS


def engine_benchmark():
    """--engine: the standard vs fused rows (tf_kdbias/benchmarks/engine_*.py)."""
    from tf_kdbias.benchmarks.engine_benchmark import run_engine_benchmark
    from tf_kdbias.benchmarks.engine_report import format_engine_report
    from tf_kdbias.benchmarks.engine_setups import EngineBenchmarkSettings, engines_for

    settings = EngineBenchmarkSettings(engines=engines_for(FLAGS.engine),
                                       group_seeds=FLAGS.engine_group_seeds,
                                       train_size=FLAGS.engine_train_size,
                                       loop=FLAGS.engine_loop)
    if FLAGS.engine_setups:
        settings.setups = list(FLAGS.engine_setups)
    if FLAGS.epochs is not None:
        settings.epochs = FLAGS.epochs
    output = FLAGS.output or os.path.join(FLAGS.workdir, "engines.json")
    report = run_engine_benchmark(settings, data_dir=FLAGS.data_dir, output_path=output)
    print(format_engine_report(report))
    print(f"\nWrote {output}")


def fit_benchmark():
    """The student-only vs distillation rows (tf_kdbias/benchmarks/fit_*.py)."""
    # Before the imports: with Keras' TensorFlow backend they fail without TensorFlow.
    tf_support.require_tensorflow("The fit benchmark (scripts/benchmark.py without --engine)")
    from tf_kdbias.benchmarks.fit_benchmark import run_benchmark
    from tf_kdbias.benchmarks.fit_report import format_report
    from tf_kdbias.benchmarks.fit_settings import full_settings, quick_settings, with_overrides

    # Every row's fresh model retraces predict(); TF warns about each one.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    settings = quick_settings() if FLAGS.quick else full_settings()
    settings = with_overrides(settings, jit=FLAGS.jit, sva=FLAGS.sva, variants=FLAGS.variants,
                              epochs=FLAGS.epochs)
    output = FLAGS.output or os.path.join(FLAGS.workdir, "benchmark.json")
    report = run_benchmark(settings, data_dir=FLAGS.data_dir, teacher_dir=FLAGS.teacher_dir,
                           output_path=output)
    print(format_report(report))
    print(f"\nWrote {output}")


def main(argv):
    del argv
    cli.run_main(engine_benchmark if FLAGS.engine is not None else fit_benchmark)


if __name__ == "__main__":
    app.run(main)
