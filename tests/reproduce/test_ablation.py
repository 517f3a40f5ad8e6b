"""The recipe ablation: its plan, the students' penalty and its tables."""

import json
import os

import gin
import numpy as np
import pytest

from tf_kdbias.analysis import ablation_report
from tf_kdbias.errors import UserError
from tf_kdbias.reproduce import ablation
from tf_kdbias import gin_utils


@pytest.fixture(autouse=True)
def clean_gin():
    yield
    gin.clear_config()


def settings(**overrides):
    values = dict(name="t", teacher_gin_files={"cnn": ["c.gin"], "mlp": ["m.gin"]},
                  student_gin_files=["m.gin"], student_bindings=["EPOCHS = 2"],
                  rows=[("today", [], []), ("soft", [], ["Distiller.kd_loss = 'x'"]),
                        ("all", ["r.gin"], ["A = 1"])], num_seeds=2)
    values.update(overrides)
    return ablation.Ablation(**values)


def _flag_values(command, flag):
    return [a.split("=", 1)[1] for a in command if a.startswith(f"--{flag}=")]


def test_plan_pairs_seeds_across_rows_and_adds_each_rows_knobs(tmp_path):
    runs = ablation.plan(settings(), str(tmp_path), None)
    assert [r.row for r in runs[:4]] == [None] * 4  # Teachers first: 2 kinds x 2 seeds.
    teacher_dirs = [r.run.run_dir for r in runs[:4]]
    assert len(set(teacher_dirs)) == 4
    students = runs[4:]
    assert len(students) == 3 * 2 * 2
    seed_of = lambda r: next(b for b in _flag_values(r.run.command, "gin_bindings")
                             if b.startswith("SEED"))
    for k in range(2):
        seeds = {seed_of(r) for r in students if r.run.seed_index == k}
        assert len(seeds) == 1  # Seed k is the same student seed in every row and teacher.
    assert seed_of(students[0]) != seed_of(students[1])
    soft = next(r for r in students if r.row == "soft")
    assert "Distiller.kd_loss = 'x'" in _flag_values(soft.run.command, "gin_bindings")
    everything = next(r for r in students if r.row == "all")
    assert _flag_values(everything.run.command, "gin_file") == ["m.gin", "r.gin"]
    # Student seed k learns from teacher seed k.
    for r in students:
        assert r.run.teacher_dir == os.path.join(str(tmp_path), "teachers", r.run.teacher,
                                                 f"seed_{r.run.seed_index}")
    teacher_seeds = {seed_of(r) for r in runs[:4]}
    assert len(teacher_seeds) == 4  # Each teacher run its own seed.


def test_a_row_limited_to_an_unknown_teacher_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="names teacher 'rnn'"):
        ablation.plan(settings(rows=[("a", [], []), ("b", [], [], ["rnn"])]), str(tmp_path), None)


def test_repeated_row_names_are_a_user_error(tmp_path):
    with pytest.raises(UserError, match="repeated row names"):
        ablation.plan(settings(rows=[("a", [], []), ("a", [], [])]), str(tmp_path), None)


def test_penalty_is_the_models_l1_plus_l2_computed_by_hand(tmp_path):
    from tf_kdbias.models.mlp import build_mlp

    model = build_mlp(hidden_units=(8, 4), l1=1e-3, l2=2e-3)
    model.save(str(tmp_path / "model.keras"))
    kernels = [w.numpy() for w in model.weights if w.path.endswith("kernel")]
    expected = sum(1e-3 * np.abs(k).sum() + 2e-3 * np.square(k).sum() for k in kernels)
    assert len(kernels) == 3
    assert ablation.regularization_penalty(str(tmp_path)) == pytest.approx(expected, rel=1e-5)


def test_the_shipped_ablation_config_parses_into_six_rows(tmp_path):
    gin_utils.parse_gin(["gin_configs/mnist_c/ablation.gin"], [])
    runs = ablation.plan(ablation.Ablation(), str(tmp_path), None)
    rows = list(dict.fromkeys(r.row for r in runs if r.row))
    assert rows == ["today", "soft_ce", "teacher_training", "schedule_eps", "all_60k",
                    "faithful", "faithful_bn_batch"]
    # The batch-statistics row has CNN teachers only (the MLP has no BatchNorm).
    assert {r.run.teacher for r in runs if r.row == "faithful_bn_batch"} == {"cnn"}
    assert sum(r.row is None for r in runs) == 2 * 3 and len(runs) == 2 * 3 + 6 * 2 * 3 + 3


def test_tables_and_figure_from_results(tmp_path):
    def row(name, teacher, eval_set, metric, values):
        return {"row": name, "teacher": teacher, "eval_set": eval_set, "metric": metric,
                "mean": float(np.mean(values)), "n": len(values), "values": values,
                "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}

    rows = [row("teacher", "cnn", "mnist_c/scale", "accuracy", [0.9]),
            row("today", "cnn", "mnist_c/scale", "accuracy", [0.70, 0.74]),
            row("today", "cnn", "mnist", "l1_l2_penalty", [0.12, 0.14]),
            row("constant_guess", None, "mnist_c/scale", "accuracy", [0.1135])]
    results = {"experiment": "t", "rows": rows,
               "row_bindings": {"today": {"gin_files": [], "bindings": []}}}
    markdown = ablation_report.format_markdown(results)
    assert "| today | — | 0.720 ± 0.028 |" in markdown  # No mnist accuracy given.
    assert "0.1300 ± 0.0141" in markdown and "| cnn teacher | — | 0.900 |" in markdown
    assert "| constant guess (training majority class) | — | 0.114 |" in markdown
    path = ablation_report.plot(results, str(tmp_path / "a.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_ablation_effects_pair_students_by_seed_by_hand():
    """Rows today/soft/all, teachers cnn and mlp, 3 seeds, one eval set."""
    def row(name, teacher, values, seeds=(0, 1, 2)):
        return {"row": name, "teacher": teacher, "eval_set": "mnist_c/scale",
                "metric": "accuracy", "values": list(values), "seeds": list(seeds)}

    rows = [row("teacher", "cnn", [0.90, 0.91, 0.92]), row("teacher", "mlp", [0.60, 0.62, 0.61]),
            row("today", "cnn", [0.70, 0.72, 0.71]), row("today", "mlp", [0.65, 0.66, 0.64]),
            row("soft", "cnn", [0.80, 0.79, 0.83]), row("soft", "mlp", [0.66, 0.65, 0.64]),
            # Listed in seed order 2, 0, 1: pairing is by seed, not by position.
            row("all", "cnn", [0.84, 0.80, 0.81], seeds=(2, 0, 1)),
            row("all", "mlp", [0.70, 0.69, 0.71])]
    found = {(e["kind"], e["a"], e["b"]): e
             for e in ablation.ablation_effects(rows, ["today", "soft", "all"])}
    knob = found[("knob", "soft (cnn→student)", "today (cnn→student)")]
    assert knob["differences"] == pytest.approx([0.10, 0.07, 0.12])
    d = np.array([0.10, 0.07, 0.12])
    half = 4.302653 * d.std(ddof=1) / np.sqrt(3)
    assert (knob["low"], knob["high"]) == pytest.approx((d.mean() - half, d.mean() + half),
                                                        abs=1e-5)
    assert knob["verdict"] == "A > B"
    all_vs_soft = found[("all knobs vs one", "all (cnn→student)", "soft (cnn→student)")]
    assert all_vs_soft["differences"] == pytest.approx([0.00, 0.02, 0.01])
    # soft's cnn students vs its mlp students, and vs the MLP trained alone (the mlp teachers).
    assert found[("teacher vs teacher", "soft (cnn→student)", "soft (mlp→student)")][
        "differences"] == pytest.approx([0.14, 0.14, 0.19])
    alone = found[("vs alone", "today (mlp→student)", "mlp alone")]
    assert alone["differences"] == pytest.approx([0.05, 0.04, 0.03])
    assert ("knob", "all (cnn→student)", "today (cnn→student)") in found
    # The all-knobs row may be named, and further pairs added.
    named = {(e["kind"], e["a"], e["b"]) for e in ablation.ablation_effects(
        rows, ["today", "soft", "all"], all_knobs_row="soft", extra_pairs=[("all", "soft")])}
    assert ("all knobs vs one", "soft (cnn→student)", "all (cnn→student)") not in named
    assert ("row vs row", "all (mlp→student)", "soft (mlp→student)") in named
    assert not any(e["a"].startswith("today") and e["kind"] == "knob" for e in found.values())
