"""Agreement, KL and transfer scores on constructed predictions, checked by hand."""

import json

import numpy as np
import pytest

from tf_kdbias.analysis import transfer
from tf_kdbias.analysis.workdir import list_runs

CLASSES = 4


def make_workdir(root, runs):
    """runs: {'setup/seed_k': metrics dict}; finished runs with a model name."""
    for name, metrics in runs.items():
        run_dir = root / "runs" / name
        run_dir.mkdir(parents=True)
        (run_dir / "model.keras").write_bytes(b"x")
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return list_runs(str(root))


def logits_predicting(classes):
    """Logits whose top class is `classes` (one-hot times 5)."""
    return 5.0 * np.eye(CLASSES)[np.asarray(classes)]


def correct_mask(n, hits, rng):
    """A [n] 0/1 vector with `hits` ones at random places."""
    mask = np.zeros(n, bool)
    mask[rng.choice(n, hits, replace=False)] = True
    return mask


def test_transfer_score_closed_form_and_undefined_case():
    assert transfer.transfer_score(0.7, 0.5, 0.9) == (pytest.approx(0.5), None)
    assert transfer.transfer_score(0.4, 0.5, 0.9) == (pytest.approx(-0.25), None)
    score, reason = transfer.transfer_score(0.7, 0.9, 0.9)
    assert score is None and "not more accurate than the control" in reason
    assert transfer.transfer_score(0.7, 0.95, 0.9)[0] is None


def test_resampled_accuracy_equals_explicit_repetition():
    rng = np.random.default_rng(0)
    correct = rng.random((3, 11)) < 0.6
    seed_counts = np.array([[0, 2, 1], [3, 0, 0]])
    example_counts = np.stack([np.bincount(rng.integers(0, 11, 11), minlength=11)
                               for _ in range(2)])
    got = transfer._resampled_accuracy(correct.astype(float), seed_counts.astype(float),
                                       example_counts.astype(float))
    for b in range(2):
        rows = np.repeat(np.arange(3), seed_counts[b])
        cols = np.repeat(np.arange(11), example_counts[b])
        assert got[b] == pytest.approx(correct[rows][:, cols].mean())


def brute_force_interval(groups, samples, level, rng):
    """Independent reference: resample examples (shared) and each group's runs."""
    n = groups[0].shape[1]
    ratios = []
    for _ in range(samples):
        examples = rng.integers(0, n, n)
        acc = [g[rng.integers(0, len(g), len(g))][:, examples].mean() for g in groups]
        if acc[2] > acc[1]:
            ratios.append((acc[0] - acc[1]) / (acc[2] - acc[1]))
    tail = (1 - level) / 2
    return np.quantile(ratios, [tail, 1 - tail])


def test_bootstrap_interval_matches_a_brute_force_bootstrap():
    rng = np.random.default_rng(1)
    n = 400
    # Teacher 360/400; control runs 200 each; students 280 and 280: score exactly 0.5.
    teacher = np.stack([correct_mask(n, 360, rng)])
    control = np.stack([correct_mask(n, 200, rng) for _ in range(3)])
    student = np.stack([correct_mask(n, 280, rng) for _ in range(2)])
    result = transfer.bootstrap_transfer(student, control, teacher, samples=2000, seed=3)
    assert result["score"] == pytest.approx((0.7 - 0.5) / (0.9 - 0.5))
    assert result["accuracy"] == pytest.approx({"student": 0.7, "control": 0.5, "teacher": 0.9})
    assert result["runs"] == {"student": 2, "control": 3, "teacher": 1}
    assert result["reason"] is None and result["undefined_fraction"] == 0.0
    low, high = brute_force_interval([student, control, teacher], 2000, 0.95,
                                     np.random.default_rng(9))
    assert result["low"] == pytest.approx(low, abs=0.03)
    assert result["high"] == pytest.approx(high, abs=0.03)
    assert result["low"] < 0.5 < result["high"]


def test_interval_is_undefined_when_the_teachers_advantage_is_not_significant():
    rng = np.random.default_rng(2)
    n = 300
    control = np.stack([correct_mask(n, 150, rng)])
    teacher = np.stack([correct_mask(n, 153, rng)])  # 1 point better: noise.
    student = np.stack([correct_mask(n, 152, rng)])
    result = transfer.bootstrap_transfer(student, control, teacher, samples=500)
    assert result["score"] == pytest.approx(2 / 3)
    assert result["low"] is None and result["high"] is None
    assert result["undefined_fraction"] > 0.025
    assert "not significant" in result["reason"]
    worse = transfer.bootstrap_transfer(student, teacher, control, samples=50)
    assert worse["score"] is None and "no gap to close" in worse["reason"]


@pytest.fixture
def constructed(tmp_path):
    """Runs of every role and predictions on 8 examples of 4 classes (labels 0..3, 0..3)."""
    runs = make_workdir(tmp_path, {
        "cnn/seed_0": {"model": "cnn"}, "cnn/seed_1": {"model": "cnn"},
        "mlp/seed_0": {"model": "mlp"}, "mlp/seed_1": {"model": "mlp"},
        "cnn_to_mlp/seed_0": {"model": "mlp", "teacher_dir": str(tmp_path / "runs/cnn/seed_1")},
        "cnn_to_mlp/seed_1": {"model": "mlp"},
        "mlp_to_mlp/seed_0": {"model": "mlp"},
        "mlp_mix/seed_0": {"model": "mlp", "function_matching": {"augmentations": ["mixup"]}},
        "cnn_to_mlp_mix/seed_0": {"model": "mlp"}, "mlp_to_mlp_mix/seed_0": {"model": "mlp"},
    })
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    predicted = {  # Each run's predicted classes; the teacher CNNs get 7 and 8 of 8 right.
        "cnn/seed_0": [0, 1, 2, 3, 0, 1, 2, 0], "cnn/seed_1": [0, 1, 2, 3, 0, 1, 2, 3],
        "mlp/seed_0": [0, 1, 0, 0, 0, 1, 0, 0], "mlp/seed_1": [0, 1, 2, 0, 0, 0, 0, 0],
        "cnn_to_mlp/seed_0": [0, 1, 2, 3, 0, 1, 0, 0],
        "cnn_to_mlp/seed_1": [0, 1, 2, 0, 0, 1, 2, 0],
        "mlp_to_mlp/seed_0": [0, 1, 2, 0, 0, 0, 0, 0], "mlp_mix/seed_0": [0, 1, 2, 3, 0, 0, 0, 0],
        "cnn_to_mlp_mix/seed_0": [0, 1, 2, 3, 0, 1, 2, 0],
        "mlp_to_mlp_mix/seed_0": [0, 1, 2, 3, 0, 0, 2, 0],
    }
    logits = [logits_predicting(predicted[r.name]) for r in runs]
    return runs, logits, labels, predicted


def test_roles_find_students_teachers_and_controls(constructed):
    runs, *_ = constructed
    roles = transfer.SetupRoles(runs)
    assert roles.cross_distilled() == ["cnn_to_mlp", "cnn_to_mlp_mix"]
    # Self-distilled controls are matched on how the student was trained.
    assert roles.controls("cnn_to_mlp") == [("mlp", "alone"), ("mlp_mix", "alone"),
                                            ("mlp_to_mlp", "self-distilled")]
    assert roles.controls("cnn_to_mlp_mix") == [("mlp", "alone"), ("mlp_mix", "alone"),
                                                ("mlp_to_mlp_mix", "self-distilled")]
    assert roles.references() == ["cnn", "mlp"]
    assert roles.architecture["mlp_mix"] == "mlp"


def test_transfer_scores_on_constructed_predictions(constructed):
    runs, logits, labels, predicted = constructed
    result = transfer.transfer_analysis(runs, {"mnist": logits}, {"mnist": labels}, samples=200)

    def acc(setup):
        return np.mean([np.mean(np.array(p) == labels) for name, p in predicted.items()
                        if name.split("/")[0] == setup])

    by_control = result["scores"]["mnist"]["cnn_to_mlp"]
    assert set(by_control) == {"mlp", "mlp_to_mlp", "mlp_mix"}
    for control, entry in by_control.items():
        expected = (acc("cnn_to_mlp") - acc(control)) / (acc("cnn") - acc(control))
        assert entry["score"] == pytest.approx(expected)
        assert entry["teacher"] == "cnn"
    # By hand: CNN 15/16, CNN→MLP (6 + 6)/16, MLP (4 + 4)/16 -> (12 - 8) / (15 - 8).
    assert by_control["mlp"]["score"] == pytest.approx(4 / 7)
    assert by_control["mlp_to_mlp"]["kind"] == "self-distilled"


def test_agreement_and_kl_pair_each_run_with_its_teacher_or_same_seed(constructed):
    runs, logits, labels, predicted = constructed
    result = transfer.transfer_analysis(runs, {"mnist": logits}, {"mnist": labels}, samples=10)
    to_cnn = result["agreement"]["cnn"]
    # seed_0's own teacher is cnn/seed_1 (its metrics.json); seed_1 falls back to cnn/seed_1.
    assert to_cnn["cnn_to_mlp"]["pairs"] == [["cnn_to_mlp/seed_0", "cnn/seed_1"],
                                             ["cnn_to_mlp/seed_1", "cnn/seed_1"]]
    assert to_cnn["mlp"]["pairs"] == [["mlp/seed_0", "cnn/seed_0"], ["mlp/seed_1", "cnn/seed_1"]]
    assert "cnn" not in to_cnn  # One CNN per seed index: nothing to pair with.
    agreement = to_cnn["mlp"]["eval_sets"]["mnist"]["agreement"]
    by_hand = [np.mean(np.array(predicted["mlp/seed_0"]) == predicted["cnn/seed_0"]),
               np.mean(np.array(predicted["mlp/seed_1"]) == predicted["cnn/seed_1"])]
    assert by_hand == [5 / 8, 4 / 8]
    assert agreement["values"] == pytest.approx(by_hand)
    assert agreement["mean"] == pytest.approx(0.5625)
    assert agreement["std"] == pytest.approx(np.std(by_hand, ddof=1))
    # KL(reference || run) of one-hot*5 logits: the reference puts p = e^5/(e^5+3) on its
    # class; where the run predicts another class the KL is p log(p/q) + ... by hand:
    p_top, p_other = np.exp(5) / (np.exp(5) + 3), 1 / (np.exp(5) + 3)
    kl_disagree = p_top * np.log(p_top / p_other) + p_other * np.log(p_other / p_top)
    kl = to_cnn["mlp"]["eval_sets"]["mnist"]["kl"]
    assert kl["values"] == pytest.approx([3 / 8 * kl_disagree, 4 / 8 * kl_disagree])
    assert result["agreement"]["mlp"]["mlp_to_mlp"]["pairs"] == [["mlp_to_mlp/seed_0",
                                                                  "mlp/seed_0"]]
