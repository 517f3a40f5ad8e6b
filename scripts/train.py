r"""Trains one model on gold labels.

  python scripts/train.py --gin_file=gin_configs/mnist_c/mlp.gin \
      --gin_bindings='EPOCHS=3' --workdir=runs/mlp --data_dir=../shared/data
"""

from absl import app, flags

from tf_kdbias import cli
from tf_kdbias import gin_utils
from tf_kdbias.training import run as run_lib

cli.define_gin_flags()
cli.define_data_flag()
flags.DEFINE_string("workdir", None, "Run directory (created; resumed if interrupted).")
flags.mark_flag_as_required("workdir")
FLAGS = flags.FLAGS


def main(argv):
    del argv

    def train():
        gin_utils.parse_gin(FLAGS.gin_file, FLAGS.gin_bindings)
        metrics = run_lib.run_training(FLAGS.workdir, data_dir=FLAGS.data_dir)
        print(cli.format_eval_table(metrics["eval"]))

    cli.run_main(train)


if __name__ == "__main__":
    app.run(main)
