r"""Reproduces a paper table: teachers x students x seeds, then results.json/.md.

  python scripts/reproduce.py --gin_file=gin_configs/mnist_c/quick.gin \
      --workdir=runs/quick --data_dir=../shared/data

Rerunning the same command skips finished runs and resumes unfinished ones.
"""

import os
import time

from absl import app, flags

from tf_kdbias.experiments import cli, gin_utils, reproduce_lib

cli.define_gin_flags()
cli.define_data_flag()
flags.DEFINE_string("workdir", None, "Experiment folder: runs/, results.json, results.md.")
flags.DEFINE_bool("list_commands", False,
                  "Print one command per run (e.g. for a cluster job array) and exit.")
flags.mark_flag_as_required("workdir")
FLAGS = flags.FLAGS


def main(argv):
    del argv

    def reproduce():
        start = time.time()
        gin_utils.parse_gin(FLAGS.gin_file, FLAGS.gin_bindings)
        experiment = reproduce_lib.Experiment()
        data_dir = os.path.abspath(FLAGS.data_dir) if FLAGS.data_dir else None
        runs = reproduce_lib.plan_runs(experiment, os.path.abspath(FLAGS.workdir), data_dir,
                                       extra_bindings=FLAGS.gin_bindings)
        if FLAGS.list_commands:
            print("\n".join(reproduce_lib.command_line(r) for r in runs))
            return
        reproduce_lib.execute_runs(runs)
        reproduce_lib.write_results(FLAGS.workdir, experiment, runs, time.time() - start)
        print(open(os.path.join(FLAGS.workdir, "results.md")).read())

    cli.run_main(reproduce)


if __name__ == "__main__":
    app.run(main)
