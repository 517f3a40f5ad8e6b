import json
import os
import sys

import pytest

from tf_kdbias.errors import UserError
from tf_kdbias.reproduce import execute, plan, results
from tf_kdbias.reproduce.plan import Experiment


def experiment(**overrides):
    settings = dict(name="t", model_gin_files={"cnn": ["c.gin"], "mlp": ["m.gin"]},
                    setups=[("mlp", "cnn"), ("cnn", None), ("mlp", None)], num_seeds=2,
                    model_bindings={"mlp": ["EPOCHS = 3"]})
    settings.update(overrides)
    return Experiment(**settings)


def test_plan_puts_teachers_first_and_pairs_seeds(tmp_path):
    runs = plan.plan_runs(experiment(), str(tmp_path), "/data", extra_bindings=["X = 1"])
    assert [(r.student, r.teacher, r.seed_index) for r in runs] == [
        ("cnn", None, 0), ("cnn", None, 1), ("mlp", None, 0), ("mlp", None, 1),
        ("mlp", "cnn", 0), ("mlp", "cnn", 1)]
    student = runs[-1]
    assert student.run_dir == os.path.join(tmp_path, "runs", "cnn_to_mlp", "seed_1")
    assert student.teacher_dir == os.path.join(tmp_path, "runs", "cnn", "seed_1")
    command = " ".join(student.command)
    assert "distill.py" in command and "--gin_file=m.gin" in command
    # Model bindings, then the user's, then the derived seed (which wins).
    assert command.index("EPOCHS = 3") < command.index("X = 1") < command.index("SEED =")


def test_plan_bindings_do_not_reach_the_runs(tmp_path):
    """Experiment.* bindings change the table, not a run: a run planned with
    num_seeds=3 has the command of the same run planned with one seed."""
    one = plan.plan_runs(experiment(num_seeds=1), str(tmp_path), None, ["EPOCHS = 2"])
    three = plan.plan_runs(experiment(num_seeds=3), str(tmp_path), None,
                           ["EPOCHS = 2", "Experiment.num_seeds = 3"])
    assert one[0].command == three[0].command
    assert "--gin_bindings=EPOCHS = 2" in one[0].command


def test_seeds_derive_from_experiment_seed_and_run_name(tmp_path):
    seeds = lambda exp: [next(a for a in r.command if "SEED =" in a)
                         for r in plan.plan_runs(exp, str(tmp_path), None)]
    first, again, other = seeds(experiment()), seeds(experiment()), seeds(experiment(seed=1))
    assert first == again and len(set(first)) == len(first)
    assert all(a != b for a, b in zip(first, other))


def test_a_teacher_must_be_trained_alone(tmp_path):
    with pytest.raises(UserError, match="add \\('cnn', None\\)"):
        plan.plan_runs(experiment(setups=[("mlp", "cnn")]), str(tmp_path), None)
    with pytest.raises(UserError, match="'rnn'"):
        plan.plan_runs(experiment(setups=[("rnn", None)]), str(tmp_path), None)


def fake_finished_runs(tmp_path, exp, accuracies):
    runs = plan.plan_runs(exp, str(tmp_path), None)
    for run, accuracy in zip(runs, accuracies):
        os.makedirs(run.run_dir)
        with open(os.path.join(run.run_dir, "metrics.json"), "w") as f:
            json.dump({"eval": {"mnist": {"accuracy": accuracy, "ece": 0.1, "d": None}}}, f)
    return runs


def test_aggregate_means_stds_and_unavailable_metrics(tmp_path):
    exp = experiment(setups=[("cnn", None)], num_seeds=3)
    runs = fake_finished_runs(tmp_path, exp, [0.9, 0.8, 1.0])
    assert all(r.finished for r in runs)
    rows = {row["metric"]: row for row in results.aggregate(exp, runs, str(tmp_path))["rows"]}
    assert rows["accuracy"]["mean"] == pytest.approx(0.9)
    assert rows["accuracy"]["std"] == pytest.approx(0.1)  # Sample std (ddof=1) of .9 .8 1.
    assert rows["accuracy"]["n"] == 3 and rows["accuracy"]["runs"][0] == "runs/cnn/seed_0"
    assert rows["d"]["mean"] is None  # Not available stays None, never 0.


def test_results_files_compare_with_the_paper(tmp_path):
    exp = experiment(setups=[("cnn", None)], num_seeds=1, paper_section="mnist")
    runs = fake_finished_runs(tmp_path, exp, [0.95])
    results.write_results(str(tmp_path), exp, runs, wall_time_s=12.0)
    written = json.load(open(tmp_path / "results.json"))
    assert written["experiment"] == "t" and written["wall_time_s"] == 12.0
    table = open(tmp_path / "results.md").read()
    # Paper: CNN alone on MNIST 0.992; ours 0.95 -> difference -0.042.
    assert "| cnn | — | mnist | accuracy | 0.9500 ± 0.0000 (1) | 0.992 ± 0.0009 | -0.0420 |" in table
    assert "| cnn | — | mnist | d | n/a |" in table


def test_summary_table_has_one_line_per_setup(tmp_path):
    exp = experiment(num_seeds=1, paper_section="mnist")
    runs = fake_finished_runs(tmp_path, exp, [0.99, 0.98, 0.97])
    aggregated = results.aggregate(exp, runs, str(tmp_path))
    table = results.format_summary_table(aggregated, results.paper_rows("mnist"), "accuracy")
    assert table.splitlines()[2:] == ["| cnn | 0.990 (0.992) |", "| mlp | 0.980 (0.985) |",
                                      "| cnn→mlp | 0.970 (0.988) |"]


def fake_run(tmp_path, name, teacher=None, exit_code=0, sleep_s=0.0):
    """A Run whose command checks its teacher finished, then writes metrics.json."""
    run_dir = str(tmp_path / name)
    teacher_dir = str(tmp_path / teacher) if teacher else None
    code = (f"import os, sys, time; time.sleep({sleep_s}); "
            f"sys.exit(9) if {teacher_dir!r} and not os.path.exists(os.path.join({teacher_dir!r}, "
            f"'metrics.json')) else None; "
            f"print('hello from {name}'); "
            f"open(os.path.join({run_dir!r}, 'metrics.json'), 'w').write('{{}}') "
            f"if {exit_code} == 0 else sys.exit({exit_code})")
    return plan.Run("mlp" if teacher else name, teacher, 0, run_dir, teacher_dir,
                             (sys.executable, "-c", code))


def test_parallel_runs_start_students_after_their_teachers(tmp_path, capsys):
    runs = [fake_run(tmp_path, "cnn", sleep_s=0.5), fake_run(tmp_path, "mlp"),
            fake_run(tmp_path, "cnn_to_mlp", teacher="cnn"),
            fake_run(tmp_path, "mlp_to_mlp", teacher="mlp")]
    execute.execute_runs(runs, parallel_runs=3)
    assert all(run.finished for run in runs)  # Exit code 9 would mean a teacher-less start.
    assert "hello from cnn_to_mlp" in open(tmp_path / "cnn_to_mlp" / "log.txt").read()
    out = capsys.readouterr().out
    assert out.index("cnn seed 0: done") < out.index("cnn_to_mlp seed 0: starting")


def test_a_failed_parallel_run_stops_its_students_and_is_named(tmp_path):
    runs = [fake_run(tmp_path, "cnn", exit_code=3), fake_run(tmp_path, "mlp"),
            fake_run(tmp_path, "cnn_to_mlp", teacher="cnn")]
    with pytest.raises(UserError, match=r"\[1/3\] cnn seed 0.*failed"):
        execute.execute_runs(runs, parallel_runs=2)
    assert runs[1].finished and not runs[2].finished
    assert not os.path.exists(tmp_path / "cnn_to_mlp")  # Never started.


def killed_run(tmp_path, name):
    """A Run whose process is stopped by a signal, as by another process's pkill."""
    os.makedirs(tmp_path / name, exist_ok=True)
    code = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    return plan.Run(name, None, 0, str(tmp_path / name), None,
                             (sys.executable, "-c", code))


@pytest.mark.parametrize("parallel_runs", [1, 2])
def test_a_run_killed_from_outside_says_so(tmp_path, capsys, parallel_runs):
    with pytest.raises(UserError, match=r"cnn seed 0 failed") as error:
        execute.execute_runs([killed_run(tmp_path, "cnn")], parallel_runs=parallel_runs)
    said = str(error.value) + capsys.readouterr().out
    assert "killed by SIGTERM from outside the run" in said


def test_parallel_runs_share_the_gpu_memory():
    env = execute.run_environment(4, None)
    assert float(env["XLA_PYTHON_CLIENT_MEM_FRACTION"]) == pytest.approx(0.9 / 4, abs=1e-3)
    # One run at a time: the caller's environment, untouched.
    assert (execute.run_environment(1, None).get("XLA_PYTHON_CLIENT_MEM_FRACTION")
            == os.environ.get("XLA_PYTHON_CLIENT_MEM_FRACTION"))


@pytest.mark.parametrize("parallel,fraction,flag", [(-1, None, "parallel_runs"),
                                                     (2, 1.5, "gpu_memory_fraction"),
                                                     (2, 0.0, "gpu_memory_fraction")])
def test_bad_parallel_settings_are_user_errors(tmp_path, parallel, fraction, flag):
    run = fake_run(tmp_path, "mlp")
    with pytest.raises(UserError, match=flag):
        execute.execute_runs([run], parallel_runs=parallel, gpu_memory_fraction=fraction)
    assert not os.path.exists(run.run_dir)  # Nothing started.


def test_zero_parallel_runs_means_one_per_core(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert execute.resolve_parallel_runs(0) == 3
    assert execute.resolve_parallel_runs(2) == 2


def test_a_partial_table_covers_finished_runs_and_says_so(tmp_path):
    exp = experiment(num_seeds=2)
    runs = fake_finished_runs(tmp_path, exp, [0.5, 0.6, 0.5])  # cnn seeds 0-1, mlp seed 0.
    written = results.write_results(str(tmp_path), exp, runs, None)
    assert (written["runs_finished"], written["runs_planned"]) == (3, len(runs))
    by_setup = {(r["student"], r["teacher"]): r for r in written["rows"] if r["metric"] == "accuracy"}
    assert by_setup[("cnn", None)]["n"] == 2 and by_setup[("cnn", None)]["mean"] == pytest.approx(0.55)
    assert by_setup[("mlp", None)]["n"] == 1
    assert all(teacher is None for _, teacher in by_setup)  # No student finished.
    text = open(tmp_path / "results.md").read()
    assert f"PARTIAL: 3 of {len(runs)} runs finished" in text and "--results_only" in text



def test_paper_ece_sits_only_beside_our_paper_estimator():
    """The paper's ECE is the 1e6-bin one: `ece_paper` gets its column, the 15-bin
    `ece` none, and results.md says which estimator each is."""
    row = lambda metric, mean: {"student": "mlp", "teacher": None, "eval_set": "mnist_c/scale",
                                "metric": metric, "mean": mean, "std": 0.0, "n": 1}
    table = {"experiment": "t", "rows": [row("ece", 0.05), row("ece_paper", 0.2)]}
    paper = results.paper_rows("mnist")
    paper_ece = next(r["mean"] for r in paper if (r["student"], r["teacher"], r["eval_set"],
                                                   r["metric"]) == ("mlp", None, "mnist_c/scale",
                                                                    "ece"))
    markdown = results.format_results_markdown(table, paper)
    assert f"| mlp | — | mnist_c/scale | ece_paper | 0.2000 ± 0.0000 (1) | {paper_ece:.3f}" in markdown
    assert "| mlp | — | mnist_c/scale | ece | 0.0500 ± 0.0000 (1) | — | — |" in markdown
    assert "| ece_paper: ours (paper) |" in markdown and "| ece: ours (paper) |" not in markdown
    assert "15 for MNIST" in markdown and "1,000,000 equal-width bins" in markdown


def test_transfer_scores_by_hand(tmp_path):
    """CNN 0.9, MLP alone 0.5, MLP→MLP 0.6, CNN→MLP 0.8 (one seed each) on 'mnist':
    (0.8 − 0.5) / (0.9 − 0.5) = 0.75 against the MLP alone, (0.8 − 0.6) / (0.9 − 0.6)
    = 2/3 against the self-distilled MLP; MLP→MLP and the CNN get no score."""
    exp = experiment(setups=[("cnn", None), ("mlp", None), ("mlp", "mlp"), ("mlp", "cnn")],
                     num_seeds=1, paper_section=None)
    runs = fake_finished_runs(tmp_path, exp, [0.9, 0.5, 0.6, 0.8])
    written = results.write_results(str(tmp_path), exp, runs, None)
    scores = {(s["student"], s["teacher"], s["control"]): s for s in written["transfer_scores"]}
    assert set(scores) == {("mlp", "cnn", "alone"), ("mlp", "cnn", "self-distilled")}
    assert scores[("mlp", "cnn", "alone")]["score"] == pytest.approx(0.75)
    assert scores[("mlp", "cnn", "self-distilled")]["score"] == pytest.approx(2 / 3)
    table = open(tmp_path / "results.md").read()
    assert "| cnn→mlp | alone | 0.750 |" in table and "| cnn→mlp | self-distilled | 0.667 |" in table


def test_no_transfer_score_where_the_teacher_is_not_better(tmp_path):
    exp = experiment(setups=[("cnn", None), ("mlp", None), ("mlp", "cnn")], num_seeds=1,
                     paper_section=None)
    runs = fake_finished_runs(tmp_path, exp, [0.5, 0.7, 0.6])
    (score,) = results.write_results(str(tmp_path), exp, runs, None)["transfer_scores"]
    assert score["score"] is None and "not better than the control" in score["reason"]
    assert "| cnn→mlp | alone | undefined |" in open(tmp_path / "results.md").read()


def test_results_md_states_the_times_results_json_holds(tmp_path):
    """15.46 s is 15.5 in results.json, so results.md says 16 s (not 15)."""
    exp = experiment(setups=[("cnn", None)], num_seeds=1, paper_section=None)
    runs = fake_finished_runs(tmp_path, exp, [0.9])
    written = results.write_results(str(tmp_path), exp, runs, wall_time_s=15.46)
    assert written["wall_time_s"] == 15.5
    assert "this invocation took 16 s of wall time" in open(tmp_path / "results.md").read()
