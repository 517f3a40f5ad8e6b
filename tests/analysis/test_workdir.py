"""Listing the runs of a workdir from its folder layout."""

import json

import pytest

from tf_kdbias.analysis import workdir as W
from tf_kdbias.errors import UserError


def make_run(root, setup, seed, finished=True, teacher_dir=None, epochs=()):
    run_dir = root / "runs" / setup / f"seed_{seed}"
    (run_dir / "trajectory").mkdir(parents=True)
    if finished:
        (run_dir / "model.keras").write_bytes(b"x")
        (run_dir / "metrics.json").write_text(json.dumps({"teacher_dir": teacher_dir}))
    for epoch in epochs:
        (run_dir / "trajectory" / f"epoch_{epoch:04d}.weights.h5").write_bytes(b"x")
    return run_dir


def test_setup_labels():
    assert W.setup_label("cnn_to_mlp") == "CNN→MLP"
    assert W.setup_label("mlp_to_mlp") == "MLP→MLP"
    assert W.setup_label("cnn") == "CNN"


def test_list_runs_orders_runs_and_skips_unfinished(tmp_path, capsys):
    make_run(tmp_path, "cnn_to_mlp", 1)
    make_run(tmp_path, "cnn_to_mlp", 0)
    make_run(tmp_path, "mlp", 0)
    make_run(tmp_path, "cnn", 0)
    make_run(tmp_path, "mlp_to_mlp", 0, finished=False)
    # Killed during its evaluation: model.keras written, metrics.json not.
    (make_run(tmp_path, "mlp_to_mlp", 1, finished=False) / "model.keras").write_bytes(b"x")
    runs = W.list_runs(str(tmp_path))
    assert [r.name for r in runs] == ["cnn/seed_0", "mlp/seed_0", "cnn_to_mlp/seed_0",
                                      "cnn_to_mlp/seed_1"]
    assert (runs[2].student, runs[2].teacher, runs[3].seed_index) == ("mlp", "cnn", 1)
    out = capsys.readouterr().out
    assert "skipping run mlp_to_mlp/seed_0" in out and "skipping run mlp_to_mlp/seed_1" in out


def test_a_workdir_without_runs_is_a_user_error(tmp_path):
    make_run(tmp_path, "mlp", 0, finished=False)
    with pytest.raises(UserError, match="No finished runs"):
        W.list_runs(str(tmp_path))


def test_teacher_run_prefers_metrics_then_the_seed_convention(tmp_path):
    teacher_1 = make_run(tmp_path, "cnn", 1)
    make_run(tmp_path, "cnn", 0)
    make_run(tmp_path, "cnn_to_mlp", 0, teacher_dir=str(teacher_1))
    make_run(tmp_path, "cnn_to_mlp", 1)
    runs = W.list_runs(str(tmp_path))
    by_name = {r.name: r for r in runs}
    assert W.teacher_run(by_name["cnn_to_mlp/seed_0"], runs).name == "cnn/seed_1"
    # metrics.json has teacher_dir None here: the same seed index is taken.
    assert W.teacher_run(by_name["cnn_to_mlp/seed_1"], runs).name == "cnn/seed_1"
    assert W.teacher_run(by_name["cnn/seed_0"], runs) is None


def test_trajectory_checkpoints_are_sorted_by_epoch(tmp_path):
    make_run(tmp_path, "mlp", 0, epochs=(16, 0, 2, 1, 4, 8, 10))
    (run,) = W.list_runs(str(tmp_path))
    assert [e for e, _ in W.trajectory_checkpoints(run)] == [0, 1, 2, 4, 8, 10, 16]


def test_run_task_defaults_to_mnist(tmp_path):
    run_dir = make_run(tmp_path, "lstm", 0)
    (run,) = W.list_runs(str(tmp_path))
    assert W.run_task(run) == "mnist"  # metrics.json without a task entry.
    (run_dir / "metrics.json").write_text(json.dumps({"task": "sva"}))
    assert W.run_task(run) == "sva"
