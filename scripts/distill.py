r"""Distils a student from a finished teacher run.

  python scripts/distill.py --gin_file=gin_configs/mnist_c/mlp.gin \
      --teacher_dir=runs/cnn --workdir=runs/cnn_to_mlp --data_dir=../shared/data
"""

from absl import app, flags

from tf_kdbias import cli
from tf_kdbias import gin_utils
from tf_kdbias.training import run as run_lib

cli.define_gin_flags()
cli.define_data_flag()
flags.DEFINE_string("workdir", None, "Run directory of the student.")
flags.DEFINE_string("teacher_dir", None, "A finished run directory holding model.keras.")
flags.mark_flags_as_required(["workdir", "teacher_dir"])
FLAGS = flags.FLAGS


def main(argv):
    del argv

    def distill():
        gin_utils.parse_gin(FLAGS.gin_file, FLAGS.gin_bindings)
        metrics = run_lib.run_training(FLAGS.workdir, data_dir=FLAGS.data_dir,
                                       teacher_dir=FLAGS.teacher_dir)
        print(cli.format_eval_table(metrics["eval"]))

    cli.run_main(distill)


if __name__ == "__main__":
    app.run(main)
