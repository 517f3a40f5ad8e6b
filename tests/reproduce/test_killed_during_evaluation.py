"""A run killed during its evaluation is unfinished everywhere: reproduce reruns it,
analysis does not list it (`rundir.is_finished`: metrics.json, written last)."""

import os

import pytest

from tests.conftest import REPO_ROOT
from tests.script_runner import run_script_in_process
from tf_kdbias import rundir
from tf_kdbias.analysis import workdir as analysis_workdir
from tf_kdbias.errors import UserError

KILL_HOOK = os.path.join(REPO_ROOT, "tests", "kill_during_evaluation")
ONE_MLP = ("Experiment.setups = [('mlp', None)]", "Experiment.eval_sets = ['mnist']",
           "EPOCHS = 1", "MnistTask.train_size = 512")


def reproduce(workdir, data_dir, env=None):
    """scripts/reproduce.py's main() here; each run is a process of its own (with `env`)."""
    args = ["--gin_file=tests/tiny_experiment.gin", f"--workdir={workdir}",
            f"--data_dir={data_dir}"] + [f"--gin_bindings={b}" for b in ONE_MLP]
    return run_script_in_process("reproduce.py", *args, env=env)


def test_a_run_killed_during_evaluation_is_rerun_and_not_analysed(tmp_path, data_dir):
    workdir = str(tmp_path / "w")
    run_dir = rundir.run_dir_in(workdir, "mlp", 0)
    killed = reproduce(workdir, data_dir, env={"PYTHONPATH": os.pathsep.join(
        [KILL_HOOK, os.environ.get("PYTHONPATH", "")])})
    assert killed.returncode == 2, killed.stdout[-2000:] + killed.stderr[-2000:]
    assert "killed by SIGKILL" in killed.stdout + killed.stderr
    # The kill came after the model was saved and before metrics.json.
    assert os.path.exists(rundir.model_path(run_dir))
    assert not rundir.is_finished(run_dir)
    with pytest.raises(UserError, match="No finished runs"):
        analysis_workdir.list_runs(workdir)

    rerun = reproduce(workdir, data_dir)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert "mlp seed 0: resuming an interrupted run" in rerun.stdout
    assert rundir.is_finished(run_dir)
    assert [run.name for run in analysis_workdir.list_runs(workdir)] == ["mlp/seed_0"]
    # Rerun from its last epoch backup: the numbers of a run that was never killed.
    never_killed = str(tmp_path / "never_killed")
    assert reproduce(never_killed, data_dir).returncode == 0
    assert (rundir.comparable_metrics(rundir.read_metrics(run_dir))
            == rundir.comparable_metrics(rundir.read_metrics(
                rundir.run_dir_in(never_killed, "mlp", 0))))
