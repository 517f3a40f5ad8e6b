"""The effects table: pairing by seed, the t interval, verdicts, and results.md leading with it."""

import json
import math
import os

import numpy as np
import pytest

from tf_kdbias.reproduce import effects, plan, results
from tf_kdbias.reproduce.plan import Experiment

# t quantile with 2 degrees of freedom, closed form: q = (2p − 1) / sqrt(2 p (1 − p)).
T_975_DF2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)


def test_paired_effect_by_hand():
    a, b = [0.80, 0.70, 0.90], [0.60, 0.60, 0.70]
    d = [0.20, 0.10, 0.20]
    mean = sum(d) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 2)
    effect = effects.paired_effect(a, b)
    assert effect["n"] == 3 and effect["mean"] == pytest.approx(mean)
    assert effect["low"] == pytest.approx(mean - T_975_DF2 * sd / math.sqrt(3))
    assert effect["high"] == pytest.approx(mean + T_975_DF2 * sd / math.sqrt(3))
    assert T_975_DF2 == pytest.approx(4.302653, abs=1e-6)


def test_one_pair_has_no_interval_and_is_not_resolved():
    effect = effects.paired_effect([0.9], [0.1])
    assert effect["low"] is None and effect["high"] is None
    assert effects.verdict(effect, paper_difference=0.5) == effects.NOT_RESOLVED


def test_paired_effect_refuses_unpaired_lists():
    with pytest.raises(ValueError, match="pair by seed index"):
        effects.paired_effect([0.1, 0.2], [0.1])


@pytest.mark.parametrize("low, high, paper, expected", [
    (0.01, 0.05, 0.10, effects.PAPER_SIGN),
    (0.01, 0.05, -0.10, effects.OPPOSITE_SIGN),
    (-0.05, -0.01, -0.10, effects.PAPER_SIGN),
    (-0.01, 0.05, 0.10, effects.NOT_RESOLVED),
    (0.0, 0.05, 0.10, effects.NOT_RESOLVED),
    (0.01, 0.05, None, "A > B"),
    (-0.05, -0.01, None, "A < B"),
])
def test_verdicts(low, high, paper, expected):
    effect = {"low": low, "high": high, "mean": (low + high) / 2, "n": 3}
    assert effects.verdict(effect, paper) == expected


def test_comparisons_of_the_paper_table():
    setups = [("cnn", None), ("mlp", None), ("mlp", "cnn"), ("mlp", "mlp"), ("cnn", "cnn"),
              ("cnn", "mlp")]
    found = [(kind, effects.setup_label(a), effects.setup_label(b))
             for kind, a, b in effects.comparisons(setups)]
    assert found == [
        ("vs alone", "cnn→mlp", "mlp"), ("vs self-distilled", "cnn→mlp", "mlp→mlp"),
        ("vs alone", "mlp→mlp", "mlp"), ("vs alone", "cnn→cnn", "cnn"),
        ("vs alone", "mlp→cnn", "cnn"), ("vs self-distilled", "mlp→cnn", "cnn→cnn"),
        ("alone vs alone", "cnn", "mlp"),
    ]


def row(student, teacher, values, seeds, eval_set="mnist", metric="accuracy"):
    return {"student": student, "teacher": teacher, "eval_set": eval_set, "metric": metric,
            "values": values, "seeds": seeds}


def test_effects_pair_by_seed_index_not_by_position():
    """B's values are listed in seed order 2, 0, 1: pairing by position would
    give differences 0.1 − 0.3 etc.; by seed they are all +0.1."""
    rows = [row("mlp", "cnn", [0.5, 0.6, 0.7], [0, 1, 2]),
            row("mlp", None, [0.6, 0.4, 0.5], [2, 0, 1])]
    (entry,) = effects.effects(rows)
    assert entry["a"] == "cnn→mlp" and entry["b"] == "mlp" and entry["kind"] == "vs alone"
    assert entry["differences"] == pytest.approx([0.1, 0.1, 0.1])
    assert entry["seeds"] == [0, 1, 2]
    assert entry["verdict"] == "A > B"  # Zero spread: an interval of width 0 above 0.


def test_effects_use_only_shared_seeds_and_the_papers_difference():
    rows = [row("mlp", "cnn", [0.50, 0.60, 0.55, 0.9], [0, 1, 2, 3]),
            row("mlp", None, [0.40, 0.45, 0.47], [0, 1, 2])]
    paper = [{"student": "mlp", "teacher": "cnn", "eval_set": "mnist", "metric": "accuracy",
              "mean": 0.90}, {"student": "mlp", "teacher": None, "eval_set": "mnist",
                              "metric": "accuracy", "mean": 0.80}]
    (entry,) = effects.effects(rows, paper)
    d = np.array([0.10, 0.15, 0.08])
    half = T_975_DF2 * d.std(ddof=1) / math.sqrt(3)
    assert entry["n"] == 3 and entry["mean"] == pytest.approx(d.mean())
    assert (entry["low"], entry["high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert entry["paper_difference"] == pytest.approx(0.10)
    assert entry["verdict"] == effects.PAPER_SIGN


def test_baseline_rows_and_missing_values_stay_out():
    rows = [row("mlp", "cnn", [0.5, None], [0, 1]), row("mlp", None, [0.4, 0.3], [0, 1]),
            {**row("always_plural", None, [0.5], []), "baseline": True}]
    (entry,) = effects.effects(rows)
    assert entry["n"] == 1 and entry["verdict"] == effects.NOT_RESOLVED


def fake_table(tmp_path, accuracy_by_setup):
    exp = Experiment(name="t", model_gin_files={"cnn": ["c.gin"], "mlp": ["m.gin"]},
                     setups=list(accuracy_by_setup), num_seeds=3, paper_section="mnist")
    runs = plan.plan_runs(exp, str(tmp_path), None)
    for run in runs:
        os.makedirs(run.run_dir)
        accuracy = accuracy_by_setup[(run.student, run.teacher)][run.seed_index]
        with open(os.path.join(run.run_dir, "metrics.json"), "w") as f:
            json.dump({"eval": {"mnist_c/scale": {"accuracy": accuracy, "ece_paper": 0.1}}}, f)
    return exp, runs


def test_results_lead_with_the_effects_table(tmp_path):
    exp, runs = fake_table(tmp_path, {("mlp", None): [0.70, 0.72, 0.68],
                                      ("mlp", "cnn"): [0.80, 0.81, 0.80],
                                      ("cnn", None): [0.60, 0.95, 0.70]})
    written = results.write_results(str(tmp_path), exp, runs, None)
    by_pair = {(e["a"], e["b"], e["metric"]): e for e in written["effects"]}
    distilled = by_pair[("cnn→mlp", "mlp", "accuracy")]
    assert distilled["differences"] == pytest.approx([0.10, 0.09, 0.12])
    # Paper, scale: CNN→MLP 0.904, MLP 0.794 -> +0.110; ours resolved, same sign.
    assert distilled["paper_difference"] == pytest.approx(0.904 - 0.794)
    assert distilled["verdict"] == effects.PAPER_SIGN
    assert by_pair[("mlp", "cnn", "accuracy")]["verdict"] == effects.NOT_RESOLVED
    saved = json.load(open(tmp_path / "results.json"))
    assert saved["effects"] == written["effects"] and "seed index" in saved["effects_pairing"]
    markdown = open(tmp_path / "results.md").read()
    first_table = next(line for line in markdown.splitlines() if line.startswith("|"))
    assert first_table.startswith("| A | B | eval set | A − B | 95% CI | n | paper A − B |")
    lo, hi = distilled["low"], distilled["high"]
    assert (f"| cnn→mlp | mlp | mnist_c/scale | +0.103 | [{lo:+.3f}, {hi:+.3f}] | 3 | +0.110 "
            "| paper's sign |") in markdown
    assert markdown.index("Effects on accuracy") < markdown.index("Effects on ece_paper")
