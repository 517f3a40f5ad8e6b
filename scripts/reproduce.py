r"""Reproduces a paper table: teachers x students x seeds, then results.json/.md.

  python scripts/reproduce.py --gin_file=gin_configs/mnist_c/quick.gin \
      --workdir=runs/quick --data_dir=../shared/data

Rerunning the same command skips finished runs and resumes unfinished ones.
A finished run made with another config than the command now gives it (a
changed binding) stops the command with the runs named; --rerun_changed moves
such runs to W/stale_runs/ and trains them again. `tensorboard --logdir=W`
shows the runs' curves and an HParams table of their final metrics.
"""

import os
import time

from absl import app, flags

from tf_kdbias import cli, gin_utils
from tf_kdbias.errors import UserError
from tf_kdbias.reproduce import execute, plan, results, staleness
from tf_kdbias.training import hparams

cli.define_gin_flags()
cli.define_data_flag()
flags.DEFINE_string("workdir", None, "Experiment folder: runs/, results.json, results.md.")
flags.DEFINE_bool("list_commands", False,
                  "Print one command per run (e.g. for a cluster job array) and exit.")
cli.define_parallel_flag()
flags.DEFINE_float("gpu_memory_fraction", None,
                   "With --parallel_runs>1, the GPU memory share of each JAX process "
                   "(default 0.9 / parallel_runs); TensorFlow processes grow on demand.")
flags.DEFINE_bool("results_only", False,
                  "Run nothing: write results.json/results.md from the runs finished so far "
                  "(a partial table says how many).")
flags.DEFINE_bool("rerun_changed", False,
                  "Finished runs made with another config than this command gives them (e.g. "
                  "a binding changed since) are moved to <workdir>/stale_runs/ and trained "
                  "again. Without it, such runs stop the command with their names.")
flags.DEFINE_bool("seed_groups", False,
                  "Train the runs of each setup that differ only by seed together, as one "
                  "vmapped program in one process (scripts/train_seed_group.py). Needs "
                  "KERAS_BACKEND=jax and TrainSettings.engine = 'fused'; every run still "
                  "gets its own folder and metrics.json. For GPUs, where one small run "
                  "leaves the device idle.")
flags.mark_flag_as_required("workdir")
FLAGS = flags.FLAGS


def main(argv):
    del argv

    def reproduce():
        start = time.time()
        gin_utils.parse_gin(FLAGS.gin_file, FLAGS.gin_bindings)
        experiment = plan.Experiment()
        data_dir = os.path.abspath(FLAGS.data_dir) if FLAGS.data_dir else None
        runs = plan.plan_runs(experiment, os.path.abspath(FLAGS.workdir), data_dir,
                              extra_bindings=FLAGS.gin_bindings)
        if FLAGS.list_commands:
            print("\n".join(plan.command_line(r) for r in runs))
            return
        # Before anything runs or is tabulated: stale runs would enter the table.
        staleness.check_finished_runs(runs, os.path.abspath(FLAGS.workdir), FLAGS.rerun_changed)
        gin_utils.parse_gin(FLAGS.gin_file, FLAGS.gin_bindings)  # The check parsed the runs'.
        if not FLAGS.results_only:
            execute.execute_runs(runs, FLAGS.parallel_runs, FLAGS.gpu_memory_fraction,
                                 group_seeds=FLAGS.seed_groups)
        elif not any(run.finished for run in runs):
            raise UserError(f"No finished runs under {FLAGS.workdir}; nothing to tabulate.")
        results.write_results(FLAGS.workdir, experiment, runs,
                              None if FLAGS.results_only else time.time() - start)
        hparams.write_hparams_view(os.path.abspath(FLAGS.workdir), experiment, runs)
        print(open(os.path.join(FLAGS.workdir, "results.md")).read())

    cli.run_main(reproduce)


if __name__ == "__main__":
    app.run(main)
