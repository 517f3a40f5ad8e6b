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

from tf_kdbias import cli

cli.define_data_flag()
flags.DEFINE_bool("quick", False, "Under 5 minutes on 2 idle cores: the paper's CNN teacher "
                  "trained briefly on 8000 examples, 2 epochs per row, no XLA or SVA rows. "
                  "Otherwise the paper's CNN trained 3 epochs on all data, 6 epochs per row.")
flags.DEFINE_string("workdir", "runs/benchmark", "Folder for the report.")
flags.DEFINE_string("output", None, "The JSON report (default: <workdir>/benchmark.json).")
flags.DEFINE_string("teacher_dir", None, "Loads the teacher's model.keras from here, or "
                    "trains it once and saves it here (with its cached logits).")
flags.DEFINE_bool("jit", None, "Also time student-only and cached-logit distillation "
                  "with jit_compile=True (XLA). Default: on, off with --quick.")
flags.DEFINE_bool("sva", None, "Also time LSTM -> Transformer-seq distillation on the "
                  "synthetic SVA grammar (skipped with a note if SVA is not installed). "
                  "Default: on, off with --quick.")
flags.DEFINE_list("variants", None, "MNIST rows to run (default: all), e.g. "
                  "student_only,ours_cached,keras_distiller.")
flags.DEFINE_integer("epochs", None, "Epochs per row (default: the mode's); the first "
                     "is not timed.")
flags.DEFINE_string("engine", None, "standard, fused or both: time the training engines "
                    "(JAX backend) on the paper's MNIST setups instead of the rows above.")
flags.DEFINE_list("engine_setups", None, "With --engine: setups to time (default all six: "
                  "cnn, mlp, cnn_to_mlp, mlp_to_mlp, cnn_to_cnn, mlp_to_cnn).")
flags.DEFINE_integer("engine_train_size", None, "With --engine: training examples per timed "
                     "epoch (default: all 60000).")
flags.DEFINE_enum("engine_loop", "auto", ["auto", "scan", "steps"], "With --engine: the "
                  "fused engine's loop (auto: a scan per epoch, one call per step on a CPU).")
flags.DEFINE_integer("engine_group_seeds", 4, "With --engine: also time this many seeds "
                     "trained together by the fused engine (0 or 1: no such rows).")
FLAGS = flags.FLAGS


def engine_benchmark():
    """--engine: the standard vs fused rows (engine_benchmark.py)."""
    from tf_kdbias.benchmarks import engine_benchmark as lib

    settings = lib.EngineBenchmarkSettings(engines=lib.engines_for(FLAGS.engine),
                                           group_seeds=FLAGS.engine_group_seeds,
                                           train_size=FLAGS.engine_train_size,
                                           loop=FLAGS.engine_loop)
    if FLAGS.engine_setups:
        settings.setups = list(FLAGS.engine_setups)
    if FLAGS.epochs is not None:
        settings.epochs = FLAGS.epochs
    output = FLAGS.output or os.path.join(FLAGS.workdir, "engines.json")
    report = lib.run_engine_benchmark(settings, data_dir=FLAGS.data_dir, output_path=output)
    print(lib.format_engine_report(report))
    print(f"\nWrote {output}")


def main(argv):
    del argv

    if FLAGS.engine is not None:
        cli.run_main(engine_benchmark)
        return

    def benchmark():
        from tf_kdbias.benchmarks import fit_benchmark as benchmark_lib  # Needs TensorFlow.

        # Every row's fresh model retraces predict(); TF warns about each one.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        settings = (benchmark_lib.quick_settings() if FLAGS.quick
                    else benchmark_lib.full_settings())
        settings = benchmark_lib.with_overrides(settings, jit=FLAGS.jit, sva=FLAGS.sva,
                                                variants=FLAGS.variants, epochs=FLAGS.epochs)
        output = FLAGS.output or os.path.join(FLAGS.workdir, "benchmark.json")
        report = benchmark_lib.run_benchmark(settings, data_dir=FLAGS.data_dir,
                                             teacher_dir=FLAGS.teacher_dir,
                                             output_path=output)
        print(benchmark_lib.format_report(report))
        print(f"\nWrote {output}")

    cli.run_main(benchmark)


if __name__ == "__main__":
    app.run(main)
