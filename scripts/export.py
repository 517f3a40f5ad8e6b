r"""Exports a finished run as a TF SavedModel (`serving_default`: image -> logits).

  python scripts/export.py --run_dir=runs/quick/runs/mlp/seed_0 --export_dir=/tmp/mlp
"""

from absl import app, flags

from tf_kdbias import cli
from tf_kdbias.training import export as export_lib

flags.DEFINE_string("run_dir", None, "A finished run directory (holds model.keras).")
flags.DEFINE_string("export_dir", None, "Where to write the SavedModel (must not exist).")
flags.mark_flags_as_required(["run_dir", "export_dir"])
FLAGS = flags.FLAGS


def main(argv):
    del argv

    def export():
        print("SavedModel written to", export_lib.export_saved_model(FLAGS.run_dir,
                                                                     FLAGS.export_dir))

    cli.run_main(export)


if __name__ == "__main__":
    app.run(main)
