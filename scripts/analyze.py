r"""Analyses the solutions of a reproduce workdir and writes W/analysis/.

  python scripts/analyze.py --workdir=runs/quick --data_dir=../shared/data

Per-sample behaviour, RSA and CKA of the penultimate layer, MDS of the runs
and of their training trajectories, reliability diagrams, interpolation
barriers, teacher-student agreement and transfer scores, and the robustness
profile over the 15 MNIST-C corruptions: analysis.json, PNGs and TensorBoard
images under W/analysis/.
"""

from absl import app, flags

from tf_kdbias import cli

cli.define_data_flag()
flags.DEFINE_string("workdir", None, "A workdir of scripts/reproduce.py (holds runs/).")
flags.DEFINE_string("eval_set", "mnist_c/translate",
                    "Eval set for behaviour, representations and held-out path losses.")
flags.DEFINE_integer("num_examples", 1000, "Size of the fixed, seeded representation subset.")
flags.DEFINE_integer("seed", 0, "Seeds the example subsets, MDS and BN re-estimation.")
flags.DEFINE_list("calibration_sets", ["mnist", "mnist_c/scale", "mnist_c/translate"],
                  "Eval sets with reliability diagrams.")
flags.DEFINE_list("trajectory_runs", None,
                  "Runs whose checkpoints to embed, e.g. cnn/seed_0,cnn_to_mlp/seed_0 "
                  "(default: the lowest seed of every setup).")
flags.DEFINE_enum("pairs", "same_architecture", ["same_architecture", "same_setup", "none"],
                  "Which run pairs get interpolation paths: any two runs with the same "
                  "student architecture, only runs of the same setup, or none.")
flags.DEFINE_integer("num_points", 11, "Points on each interpolation path, endpoints included.")
flags.DEFINE_integer("bn_examples", 2048,
                     "Training examples for BatchNorm re-estimation at each path point.")
flags.DEFINE_list("transfer_sets", ["mnist", "mnist_c/all"],
                  "Eval sets with teacher-student agreement, KL and transfer scores "
                  "(empty: none).")
flags.DEFINE_boolean("robustness", True,
                     "Accuracy profile over the 15 MNIST-C corruptions (robustness.png).")
flags.DEFINE_integer("bootstrap_samples", 1000,
                     "Bootstrap resamples (seeds and examples) of the transfer-score intervals.")
flags.DEFINE_float("confidence_level", 0.95, "Coverage of the transfer-score intervals.")
flags.mark_flag_as_required("workdir")
FLAGS = flags.FLAGS


def main(argv):
    del argv

    def analyze():
        from tf_kdbias.analysis import workdir

        # Without TensorFlow, so a wrong --workdir fails in a second.
        runs = workdir.list_runs(FLAGS.workdir)
        from tf_kdbias.analysis import report  # Imports TensorFlow.

        settings = report.AnalysisSettings(
            eval_set=FLAGS.eval_set, num_examples=FLAGS.num_examples, seed=FLAGS.seed,
            calibration_sets=FLAGS.calibration_sets, trajectory_runs=FLAGS.trajectory_runs,
            pair_mode=FLAGS.pairs, num_points=FLAGS.num_points, bn_examples=FLAGS.bn_examples,
            transfer_sets=FLAGS.transfer_sets, robustness=FLAGS.robustness,
            bootstrap_samples=FLAGS.bootstrap_samples,
            confidence_level=FLAGS.confidence_level)
        analysis = report.analyze_workdir(FLAGS.workdir, FLAGS.data_dir, settings, runs)
        print(report.format_summary(analysis))

    cli.run_main(analyze)


if __name__ == "__main__":
    app.run(main)
