r"""Evaluates a finished run on named eval sets and writes evaluation.json.

  python scripts/evaluate.py --run_dir=runs/mlp --eval_sets=mnist,mnist_c/all \
      --data_dir=../shared/data
"""

import os

from absl import app, flags

from tf_kdbias import io_utils
from tf_kdbias.data.eval_sets import load_eval_sets
from tf_kdbias.experiments import cli, export_lib, run_lib
from tf_kdbias.metrics.evaluation import evaluate_logits

cli.define_data_flag()
flags.DEFINE_string("run_dir", None, "A finished run directory (holds model.keras).")
flags.DEFINE_list("eval_sets", ["mnist", "mnist_c/scale", "mnist_c/translate"],
                  "Eval sets: mnist, mnist_c/<corruption>, mnist_c/all.")
flags.mark_flag_as_required("run_dir")
FLAGS = flags.FLAGS


def main(argv):
    del argv

    def evaluate():
        eval_data = load_eval_sets(FLAGS.eval_sets, FLAGS.data_dir)
        model = export_lib.load_run_model(FLAGS.run_dir)
        results = {name: evaluate_logits(model.predict(split.images, batch_size=1000, verbose=0),
                                         split.labels) for name, split in eval_data.items()}
        io_utils.write_json_atomic(os.path.join(FLAGS.run_dir, "evaluation.json"), results)
        print(run_lib.format_eval_table(results))

    cli.run_main(evaluate)


if __name__ == "__main__":
    app.run(main)
