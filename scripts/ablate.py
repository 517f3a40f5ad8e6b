r"""A recipe ablation: teachers once, students under each row of recipes, then tables.

  python scripts/ablate.py --gin_file=gin_configs/mnist_c/ablation.gin \
      --workdir=runs/ablation --data_dir=../shared/data

Writes results.json, results.md and ablation.png into --workdir. Rerunning
the same command skips finished runs and resumes unfinished ones.
"""

import os
import time

from absl import app, flags

from tf_kdbias import io_utils
from tf_kdbias.analysis import ablation_report
from tf_kdbias.reproduce import ablation
from tf_kdbias import cli
from tf_kdbias import gin_utils
from tf_kdbias.reproduce import execute

cli.define_gin_flags()
cli.define_data_flag()
flags.DEFINE_string("workdir", None, "Ablation folder: teachers/, students/, results.*")
cli.define_parallel_flag()
flags.DEFINE_bool("results_only", False, "Run nothing; tabulate the runs finished so far.")
flags.mark_flag_as_required("workdir")
FLAGS = flags.FLAGS


def main(argv):
    del argv

    def ablate():
        start = time.time()
        gin_utils.parse_gin(FLAGS.gin_file, FLAGS.gin_bindings)
        settings = ablation.Ablation()
        workdir = os.path.abspath(FLAGS.workdir)
        data_dir = os.path.abspath(FLAGS.data_dir) if FLAGS.data_dir else None
        runs = ablation.plan(settings, workdir, data_dir)
        if not FLAGS.results_only:
            execute.execute_runs([r.run for r in runs], FLAGS.parallel_runs)
        results = ablation.aggregate(settings, runs, workdir, data_dir)
        results["wall_time_s"] = None if FLAGS.results_only else round(time.time() - start, 1)
        io_utils.write_json_atomic(os.path.join(workdir, "results.json"), results)
        partial = ("" if results["runs_finished"] == results["runs_planned"] else
                   f" PARTIAL: {results['runs_finished']} of {results['runs_planned']} runs.")
        header = f"Made by `scripts/ablate.py` ({results['runs_planned']} runs).{partial}"
        markdown = ablation_report.format_markdown(results, header)
        io_utils.write_text_atomic(os.path.join(workdir, "results.md"), markdown)
        ablation_report.plot(results, os.path.join(workdir, "ablation.png"))
        print(markdown)

    cli.run_main(ablate)


if __name__ == "__main__":
    app.run(main)
