"""Seed groups: the runs of a setup trained as one vmapped program give each run
what it gets trained alone (`reproduce.py --seed_groups`, JAX backend, CPU)."""

import os

import numpy as np
import pytest

from tests.distill.test_backends import jax_env
from tests.script_runner import run_script, run_script_in_process
from tf_kdbias import rundir
from tf_kdbias.training.seed_group import GroupMember

# Two seeds of an MLP and of an MLP distilled from the MLP of its seed index, on
# the fused engine scanning whole epochs (as on a GPU).
BINDINGS = ("Experiment.setups = [('mlp', None), ('mlp', 'mlp')]", "Experiment.num_seeds = 2",
            "Experiment.eval_sets = ['mnist']", "EPOCHS = 2", "MnistTask.train_size = 512",
            "TrainSettings.engine = 'fused'", "fused_loop.loop = 'scan'",
            "Distiller.teacher_training = True")
RUNS = [("mlp", 0), ("mlp", 1), ("mlp_to_mlp", 0), ("mlp_to_mlp", 1)]


def reproduce(workdir, data_dir, *extra):
    done = run_script("reproduce.py", "--gin_file=tests/tiny_experiment.gin",
                      f"--workdir={workdir}", f"--data_dir={data_dir}",
                      *[f"--gin_bindings={b}" for b in BINDINGS], *extra, env=jax_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("seed_groups")
    alone, grouped = str(root / "alone"), str(root / "grouped")
    reproduce(alone, data_dir)
    return alone, grouped, reproduce(grouped, data_dir, "--seed_groups")


def test_one_process_per_setup_and_a_folder_per_run(workdirs):
    _, grouped, out = workdirs
    assert "[1/2] mlp seeds 0, 1 (one seed group): starting" in out
    assert "[2/2] mlp_to_mlp seeds 0, 1 (one seed group): starting" in out
    for setup, seed in RUNS:
        run_dir = rundir.run_dir_in(grouped, setup, seed)
        assert rundir.is_finished(run_dir)
        for name in (rundir.MODEL_FILE, rundir.CONFIG_FILE, rundir.OPERATIVE_CONFIG_FILE):
            assert os.path.exists(os.path.join(run_dir, name)), name
        assert not os.path.exists(os.path.join(run_dir, rundir.BACKUP_FOLDER))
        assert rundir.read_metrics(run_dir)["seed_group"]["size"] == 2
    assert os.path.exists(os.path.join(grouped, "runs", "mlp", "seed_group_log.txt"))


@pytest.mark.parametrize("setup,seed", RUNS)
def test_a_grouped_run_computes_what_it_computes_alone(workdirs, setup, seed):
    """Same config file, seed, history and final metrics; the group changes only
    the floating-point order of XLA's batched kernels (hence the tolerance)."""
    alone, grouped, _ = workdirs
    mine = rundir.read_metrics(rundir.run_dir_in(grouped, setup, seed))
    reference = rundir.read_metrics(rundir.run_dir_in(alone, setup, seed))
    config = lambda w: open(os.path.join(rundir.run_dir_in(w, setup, seed),
                                         rundir.CONFIG_FILE)).read()
    assert config(grouped) == config(alone)  # So staleness checks treat them alike.
    assert mine["seed"] == reference["seed"]
    if mine["teacher_dir"] is not None:  # Its teacher: the same seed index, in its own workdir.
        assert mine["teacher_dir"] == rundir.run_dir_in(grouped, "mlp", seed)
    assert set(mine["history"]) == set(reference["history"])
    for name, values in reference["history"].items():
        np.testing.assert_allclose(mine["history"][name], values, rtol=1e-4, atol=1e-5,
                                   err_msg=name)
    for metric, value in reference["eval"]["mnist"].items():
        # The 1e6-bin ECE moves an example to another bin on a last-digit change
        # of its confidence: a looser bound (the 15-bin `ece` keeps the tight one).
        atol = 1e-3 if metric == "ece_paper" else 1e-4
        np.testing.assert_allclose(mine["eval"]["mnist"][metric], value, rtol=1e-4, atol=atol,
                                   err_msg=metric)


def test_seeds_of_a_group_differ(workdirs):
    """Each seed keeps its own initial weights, dropout and batch order."""
    _, grouped, _ = workdirs
    first, second = (rundir.read_metrics(rundir.run_dir_in(grouped, "mlp", k)) for k in (0, 1))
    assert first["history"]["loss"] != second["history"]["loss"]


def test_a_member_is_its_own_command_as_json():
    member = GroupMember(("gin_configs/mnist_c/mlp.gin",), ("SEED = 3",), "runs/mlp/seed_0")
    assert GroupMember.from_json(member.to_json()) == member


@pytest.mark.parametrize("member,env,fragment", [
    ("{bad", None, "is not a run of a seed group"),
    ('{"gin_files": ["gin_configs/mnist_c/mlp.gin"], "gin_bindings": ["EPOCHS = 1"], '
     '"workdir": "WORKDIR"}', {"KERAS_BACKEND": "tensorflow"}, "KERAS_BACKEND=jax"),
])
def test_bad_groups_name_the_problem_and_the_fix(tmp_path, data_dir, member, env, fragment):
    # The script's main() in this (TensorFlow) process; reproduce.py starts it as a command.
    done = run_script_in_process("train_seed_group.py",
                                 f"--member={member.replace('WORKDIR', str(tmp_path / 'run'))}",
                                 f"--data_dir={data_dir}", env=env)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert fragment in done.stderr and "Traceback" not in done.stderr
    assert not os.path.exists(tmp_path / "run" / rundir.METRICS_FILE)
