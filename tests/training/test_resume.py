"""A run killed at any moment continues from its last epoch backup to the
numbers of an uninterrupted run; finished runs are never redone."""

import json
import os
import sys

import pytest

from tests.tiny_runs import (TINY_RUN_BINDINGS, kill_after_first_backup,
                                         run_in_process, start_train_script)
from tf_kdbias import rundir
from tf_kdbias.errors import UserError
from tf_kdbias.reproduce import execute, plan
from tf_kdbias.training import resume
from tf_kdbias.rundir import NON_REPRODUCIBLE_FIELDS, comparable_metrics


def trajectory_files(run_dir):
    folder = os.path.join(run_dir, "trajectory")
    return {name: os.stat(os.path.join(folder, name)).st_mtime_ns
            for name in sorted(os.listdir(folder)) if not name.startswith(".")}


def test_sigkilled_train_script_resumes_to_the_uninterrupted_metrics(
        tiny_run, tmp_path, data_dir, capsys):
    _, uninterrupted = tiny_run
    run_dir = str(tmp_path / "killed")
    epochs_done = kill_after_first_backup(start_train_script(run_dir, data_dir), run_dir)
    assert not os.path.exists(os.path.join(run_dir, "metrics.json"))
    written_before = trajectory_files(run_dir)

    resumed = run_in_process(run_dir, data_dir)  # The same command, rerun.

    assert f"Resuming from epoch {epochs_done} of 3" in capsys.readouterr().out
    assert comparable_metrics(resumed) == comparable_metrics(uninterrupted)
    assert resumed["resumed_from_epochs"] == [epochs_done]
    assert len(resumed["history"]["loss"]) == 3  # Epochs before the kill included.
    # Checkpoints written before the kill are kept, not rewritten; the rest follow.
    after = trajectory_files(run_dir)
    assert {k: after[k] for k in written_before} == written_before
    assert sorted(after) == [f"epoch_000{e}.weights.h5" for e in range(4)]
    assert not os.path.exists(os.path.join(run_dir, rundir.BACKUP_FOLDER))


def test_equal_means_equal_except_timing_and_provenance(tiny_run):
    _, metrics = tiny_run
    assert set(NON_REPRODUCIBLE_FIELDS) <= set(metrics)
    assert set(comparable_metrics(metrics)) == set(metrics) - set(NON_REPRODUCIBLE_FIELDS)
    assert {"eval", "history", "seed", "epochs"} <= set(comparable_metrics(metrics))


def test_a_finished_run_is_not_trained_again(tiny_run, data_dir, capsys):
    run_dir, metrics = tiny_run
    before = os.stat(os.path.join(run_dir, "metrics.json")).st_mtime_ns
    assert run_in_process(run_dir, data_dir) == metrics
    assert "nothing to do" in capsys.readouterr().out
    assert os.stat(os.path.join(run_dir, "metrics.json")).st_mtime_ns == before
    with pytest.raises(UserError, match="different gin config"):
        run_in_process(run_dir, data_dir, bindings=TINY_RUN_BINDINGS + ("SEED = 5",))


def write_backup(backup_dir, epoch, key="k", complete=True):
    folder = os.path.join(backup_dir, f"epoch_{epoch:04d}")
    os.makedirs(folder)
    open(os.path.join(folder, resume.WEIGHTS_FILE), "w").close()
    if complete:
        with open(os.path.join(folder, resume.STATE_FILE), "w") as f:
            json.dump({"epoch": epoch, "key": key, "history": [{}] * epoch,
                       "seed_states": []}, f)


def test_a_backup_cut_short_by_a_kill_falls_back_to_the_previous_one(tmp_path):
    backup_dir = str(tmp_path / "backup")
    write_backup(backup_dir, 2)
    write_backup(backup_dir, 3, complete=False)  # Killed while writing epoch 3's.
    assert resume.latest_backup(backup_dir, "k").epoch == 2


def test_a_backup_of_another_config_is_discarded(tmp_path, capsys):
    backup_dir = str(tmp_path / "backup")
    write_backup(backup_dir, 2, key="other")
    assert resume.latest_backup(backup_dir, "k") is None
    assert "not resuming" in capsys.readouterr().out
    assert not os.path.exists(backup_dir)


def test_reproduce_skips_finished_runs_and_resumes_interrupted_ones(tmp_path, capsys):
    def run(name):
        return plan.Run("mlp", None, 0, str(tmp_path / name), None,
                                 (sys.executable, "-c", f"print('ran {name}')"))

    finished, interrupted, fresh = run("finished"), run("interrupted"), run("fresh")
    os.makedirs(finished.run_dir)
    open(os.path.join(finished.run_dir, "metrics.json"), "w").close()
    write_backup(os.path.join(interrupted.run_dir, rundir.BACKUP_FOLDER), 1)
    execute.execute_runs([finished, interrupted, fresh])
    out = capsys.readouterr().out
    assert "[1/3] mlp seed 0: finished already, skipped" in out
    assert "[2/3] mlp seed 0: resuming an interrupted run" in out
    assert "[3/3] mlp seed 0: starting" in out
