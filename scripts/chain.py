r"""Trains a paper table as a chain of short slots (e.g. 600 s GPU commands on bare machines).

Each slot restores the state the last one packed, trains the next stages
(1: the runs trained alone, the teachers; then the students by teacher kind)
until its budget, and packs the state again (tf_kdbias/reproduce/chain*.py):

  python scripts/chain.py --action=plan  --gin_file=gin_configs/mnist_c/paper.gin --workdir=W
  python scripts/chain.py --action=speed ... --workdir=W          # first slot: <= 60 s check
  python scripts/chain.py --action=run   ... --workdir=W --out=$OUT --budget_s=540
  python scripts/chain.py --action=restore --state=$OUT/state.tgz --workdir=W2   # next slot
  python scripts/chain.py --action=pack  ... --workdir=W --out=$OUT  # results + state only

--action=plan prints the stage plan and the size of the state the chain
would carry for these models (weights counted from the models).
docs/results/mnist_paper_faithful_gpu/run_on_device.sh runs one slot;
CHAIN.md beside it says how to carry the state into the next.
"""

import os
import time

from absl import app, flags

from tf_kdbias import cli
from tf_kdbias.errors import UserError

ACTIONS = ("plan", "speed", "run", "pack", "restore", "stage", "compact")
cli.define_gin_flags()
cli.define_data_flag()
flags.DEFINE_enum("action", None, ACTIONS, "What to do (see the module docstring); 'stage' "
                  "and 'compact' are the steps `run` starts in child processes.")
flags.DEFINE_string("workdir", None, "The chain's workdir (runs/, chain/, results.*).")
flags.DEFINE_string("out", None, "Where state.tgz, results.md/json and chain.json go "
                    "(default: $OUT, else <workdir>/out).")
flags.DEFINE_string("state", None, "--action=restore: the state.tgz (or the path its "
                    ".000, .001 parts extend).")
flags.DEFINE_float("budget_s", 540.0, "The slot's seconds, packing included (keep it under "
                   "the machine's command limit).")
flags.DEFINE_float("reserve_s", 30.0, "Seconds of the budget kept for results and packing.")
flags.DEFINE_integer("epoch_budget", 0, "Also stop once this many epochs were trained in this "
                     "slot, all runs together (0: no such limit).")
flags.DEFINE_float("speed_s", 60.0, "--action=speed: the check's seconds.")
flags.DEFINE_list("speed_setups", [], "--action=speed: setups to time (default: the cheapest "
                  "and the dearest by FLOPs per example).")
flags.DEFINE_integer("speed_train_size", 12800, "--action=speed: examples per timed epoch.")
flags.DEFINE_integer("parallel_runs", 1, "Runs (or seed groups) trained at once.")
flags.DEFINE_bool("seed_groups", False, "Train each setup's seeds as one vmapped program "
                  "(KERAS_BACKEND=jax, TrainSettings.engine = 'fused').")
flags.DEFINE_integer("until_stage", 0, "--action=run: train no stage after this one (0: "
                     "as many as the budget allows).")
flags.DEFINE_integer("stage", None, "--action=stage: the stage to train.")
FLAGS = flags.FLAGS


def _settings():
    from tf_kdbias.reproduce.chain_run import ChainSettings
    out = FLAGS.out or os.environ.get("OUT") or os.path.join(FLAGS.workdir, "out")
    data_dir = os.path.abspath(FLAGS.data_dir) if FLAGS.data_dir else None
    return ChainSettings(FLAGS.gin_file, FLAGS.gin_bindings, os.path.abspath(FLAGS.workdir),
                         data_dir, os.path.abspath(out), FLAGS.budget_s, FLAGS.reserve_s,
                         FLAGS.epoch_budget, FLAGS.parallel_runs, FLAGS.seed_groups,
                         until_stage=FLAGS.until_stage)


def _plan(settings):
    from tf_kdbias.reproduce import chain, chain_run, chain_speed
    _, runs = chain_run.load_plan(settings.gin_files, settings.gin_bindings, settings.workdir,
                                  settings.data_dir)
    works = {run.run_dir: chain.run_work(run) for run in runs}
    speed = chain_run.read_chain_json(settings.workdir, chain_run.SPEED_FILE)
    print(chain_run.describe_plan(runs, works, speed, settings.budget_s, settings.reserve_s,
                                  0.0 if speed else FLAGS.speed_s)["text"])
    sizes = chain_speed.state_size_estimate(runs, chain.make_stages(runs))
    print("State the chain would carry (float32 weights counted from the models; params "
          + ", ".join(f"{m} {n:,}" for m, n in sizes.pop("params").items()) + "):")
    for stage, size in sizes.items():
        when = "at the end" if stage == "end" else f"during stage {stage}, at most"
        print(f"  {when}: {size['worst_bytes'] / 2 ** 20:.1f} MiB")


def _speed(settings):
    from tf_kdbias import io_utils
    from tf_kdbias.reproduce import chain_run, chain_speed
    _, runs = chain_run.load_plan(settings.gin_files, settings.gin_bindings, settings.workdir,
                                  settings.data_dir)
    path = chain_run.chain_path(settings.workdir, chain_run.SPEED_FILE)
    save = lambda record: io_utils.write_json_atomic(path, record)
    record = chain_speed.measure_speed(runs, FLAGS.speed_setups or None, settings.data_dir,
                                       settings.seed_groups, FLAGS.speed_s,
                                       FLAGS.speed_train_size, save=save)
    save(record)
    for setup, row in record["measured"].items():
        print(f"speed check: {setup} {row['steps_per_s']:.1f} run-steps/s "
              f"({row['seeds_together']} seeds together, compile {row['compile_s']:.1f} s)")
    print(f"speed check: {record['device_kind']}, {record['precision']}, "
          f"{record.get('wall_s', 0)} s -> {path}")


def _stage(settings):
    from tf_kdbias.reproduce import chain, chain_run, execute
    _, runs = chain_run.load_plan(settings.gin_files, settings.gin_bindings, settings.workdir,
                                  settings.data_dir)
    stages = {s.number: s for s in chain.make_stages(runs)}
    if FLAGS.stage not in stages:
        raise UserError(f"--stage={FLAGS.stage}: this table has stages {sorted(stages)}.")
    todo = [run for run in stages[FLAGS.stage].runs(runs) if not run.finished]
    execute.execute_runs(todo, settings.parallel_runs, group_seeds=settings.seed_groups)


def _table_action(action: str, settings) -> None:
    from tf_kdbias.reproduce import chain_run, chain_state
    if action == "run":
        chain_run.run_slot(settings, start=_START)
        return
    experiment, runs = chain_run.load_plan(settings.gin_files, settings.gin_bindings,
                                           settings.workdir, settings.data_dir)
    if action == "pack":
        chain_run.finish_slot(settings, experiment, runs, None)
    elif action == "compact":
        for run_dir in chain_state.compact_teachers(settings.workdir, runs):
            print(f"teacher {run_dir}: model.keras now holds float32 weights only")


def main(argv):
    del argv

    def chain_main():
        if FLAGS.action is None or FLAGS.workdir is None:
            raise UserError("Give --action (one of " + ", ".join(ACTIONS) + ") and --workdir.")
        if FLAGS.action == "restore":
            from tf_kdbias.reproduce import chain_state
            if not FLAGS.state:
                raise UserError("--action=restore needs --state=<the last slot's state.tgz>.")
            manifest = chain_state.restore_state(FLAGS.state, FLAGS.workdir)
            print(f"restored {len(manifest['files'])} files (sha256 checked) into "
                  f"{FLAGS.workdir}: {manifest.get('runs_finished')} of "
                  f"{manifest.get('runs_planned')} runs done, next stage "
                  f"{manifest.get('next_stage')}")
            return
        if not FLAGS.gin_file:
            raise UserError("Give the table's --gin_file (e.g. gin_configs/mnist_c/paper.gin).")
        settings = _settings()
        {"plan": _plan, "speed": _speed, "stage": _stage}.get(
            FLAGS.action, lambda s: _table_action(FLAGS.action, s))(settings)

    cli.run_main(chain_main)


_START = time.time()

if __name__ == "__main__":
    app.run(main)
