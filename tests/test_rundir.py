"""The run-folder contract: names, setups, and when a run is finished."""

import json

from tf_kdbias import rundir


def test_setup_names_round_trip():
    for student, teacher, name in [("mlp", "cnn", "cnn_to_mlp"), ("mlp", None, "mlp"),
                                   ("lstm", "transformer_seq", "transformer_seq_to_lstm")]:
        assert rundir.setup_name(student, teacher) == name
        assert rundir.parse_setup(name) == (student, teacher)


def test_a_run_is_finished_only_once_metrics_json_exists(tmp_path):
    run_dir = str(tmp_path)
    assert not rundir.is_finished(run_dir) and not rundir.is_interrupted(run_dir)
    (tmp_path / rundir.BACKUP_FOLDER).mkdir()
    assert rundir.is_interrupted(run_dir)
    (tmp_path / rundir.MODEL_FILE).write_bytes(b"x")  # Saved, then killed during evaluation.
    assert not rundir.is_finished(run_dir) and rundir.read_metrics(run_dir) == {}
    (tmp_path / rundir.METRICS_FILE).write_text(json.dumps({"task": "sva_lm"}))
    assert rundir.is_finished(run_dir) and not rundir.is_interrupted(run_dir)
    assert rundir.task_name(run_dir) == "sva_lm"


def test_runs_without_a_task_name_were_mnist_runs(tmp_path):
    (tmp_path / rundir.METRICS_FILE).write_text(json.dumps({"eval": {}}))
    assert rundir.task_name(str(tmp_path)) == "mnist"


def test_seed_dirs_lists_every_run_folder_of_a_workdir(tmp_path):
    for setup, seed in [("mlp", 1), ("mlp", 0), ("cnn_to_mlp", 0)]:
        (tmp_path / rundir.RUNS_FOLDER / setup / f"seed_{seed}").mkdir(parents=True)
    (tmp_path / rundir.RUNS_FOLDER / "mlp" / "notes").mkdir()  # Not a run folder.
    found = [(setup, k) for setup, k, _ in rundir.seed_dirs(str(tmp_path))]
    assert found == [("cnn_to_mlp", 0), ("mlp", 0), ("mlp", 1)]
    assert rundir.seed_dirs(str(tmp_path / "nothing_here")) == []
    assert rundir.run_dir_in("W", "mlp", 2).endswith("W/runs/mlp/seed_2")


def test_comparable_metrics_drop_only_what_differs_between_equal_commands():
    metrics = {"eval": {"mnist": {"accuracy": 0.9}}, "seed": 3, "wall_time_s": 12.0,
               "git_commit": "abc", "backend": "jax"}
    assert rundir.comparable_metrics(metrics) == {"eval": {"mnist": {"accuracy": 0.9}},
                                                  "seed": 3}
