r"""Trains the runs of one setup that differ only by seed as one program (JAX, fused engine).

  KERAS_BACKEND=jax python scripts/train_seed_group.py --data_dir=../shared/data \
      --member='{"gin_files": ["gin_configs/mnist_c/mlp.gin"], "gin_bindings":
                 ["EPOCHS = 3", "TrainSettings.engine = '\''fused'\''", "SEED = 1"],
                 "workdir": "runs/mlp/seed_0", "teacher_dir": null}' \
      --member='{... "SEED = 2" ..., "workdir": "runs/mlp/seed_1", ...}'

Each member is what its own scripts/train.py (or distill.py, with a
teacher_dir) command would be; each gets its own run folder with the files
that command writes. `scripts/reproduce.py --seed_groups` writes these
commands for every setup of a table.
"""

from absl import app, flags

from tf_kdbias import cli
from tf_kdbias.training import seed_group

cli.define_data_flag()
flags.DEFINE_multi_string("member", None, "One run of the group, as JSON: {\"gin_files\": [...], "
                          "\"gin_bindings\": [...], \"workdir\": ..., \"teacher_dir\": ... or "
                          "null}. Repeat once per seed.")
flags.mark_flag_as_required("member")
FLAGS = flags.FLAGS


def main(argv):
    del argv

    def train_group():
        members = [seed_group.GroupMember.from_json(text) for text in FLAGS.member]
        for member, metrics in zip(members, seed_group.run_seed_group(members, FLAGS.data_dir)):
            print(f"{member.workdir}:\n{cli.format_eval_table(metrics['eval'])}")

    cli.run_main(train_group)


if __name__ == "__main__":
    app.run(main)
