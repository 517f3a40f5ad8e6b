r"""Evaluates a finished run on named eval sets and writes evaluation.json.

  python scripts/evaluate.py --run_dir=runs/mlp --eval_sets=mnist,mnist_c/all \
      --data_dir=../shared/data
"""

import os

from absl import app, flags

from tf_kdbias import io_utils
from tf_kdbias import cli
from tf_kdbias.training import export as export_lib

cli.define_data_flag()
flags.DEFINE_string("run_dir", None, "A finished run directory (holds model.keras).")
flags.DEFINE_list("eval_sets", ["mnist", "mnist_c/scale", "mnist_c/translate"],
                  "Eval sets of the run's task, e.g. mnist, mnist_c/<corruption>, mnist_c/all, sva/test.")
flags.mark_flag_as_required("run_dir")
FLAGS = flags.FLAGS


def main(argv):
    del argv

    def evaluate():
        task = export_lib.run_task(FLAGS.run_dir)
        eval_sets = task.expand_eval_sets(FLAGS.eval_sets)  # Fail early on bad names.
        model = export_lib.load_run_model(FLAGS.run_dir)
        results = task.evaluate(model, FLAGS.data_dir, eval_sets)
        io_utils.write_json_atomic(os.path.join(FLAGS.run_dir, "evaluation.json"), results)
        print(cli.format_eval_table(results))

    cli.run_main(evaluate)


if __name__ == "__main__":
    app.run(main)
