"""The 15-corruption robustness profile on constructed predictions."""

import numpy as np
import pytest

from tf_kdbias.analysis import robustness
from tests.analysis.test_transfer import logits_predicting, make_workdir

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_profile_covers_the_15_corruptions_without_identity():
    assert len(robustness.CORRUPTIONS) == 15
    assert "identity" not in robustness.CORRUPTIONS
    assert {"translate", "scale", "shot_noise", "canny_edges"} <= set(robustness.CORRUPTIONS)


def test_profile_accuracies_means_and_marks(tmp_path):
    runs = make_workdir(tmp_path, {
        "cnn/seed_0": {"model": "cnn"},
        "mlp_noise/seed_0": {"model": "mlp", "function_matching": {
            "augmentations": ["mixup", "pixel_noise"], "mixup_alpha": 1.0, "noise_std": 16.0,
            "cache_views": None, "overlapping_corruptions": ["shot_noise", "impulse_noise"]}},
        "mlp_noise/seed_1": {"model": "mlp", "function_matching": {
            "augmentations": ["mixup", "pixel_noise"], "mixup_alpha": 1.0, "noise_std": 16.0,
            "cache_views": None, "overlapping_corruptions": ["shot_noise", "impulse_noise"]}},
    })
    labels = np.arange(20) % 4
    logits, label_sets, expected = {}, {}, {}
    # Run r gets the first k(c, r) examples of corruption c right, the rest wrong.
    for c, name in enumerate(robustness.EVAL_SETS):
        rows = []
        for r in range(3):
            k = (3 * c + 5 * r) % 21
            predicted = np.where(np.arange(20) < k, labels, (labels + 1) % 4)
            rows.append(logits_predicting(predicted))
            expected[(name, r)] = k / 20
        logits[name], label_sets[name] = rows, labels
    logits["mnist"], label_sets["mnist"] = [logits_predicting(labels)] * 3, labels
    profile = robustness.robustness_profile(runs, logits, label_sets)

    assert profile["setups"] == ["cnn", "mlp_noise"]
    for name, corruption in zip(robustness.EVAL_SETS, robustness.CORRUPTIONS):
        cell = profile["accuracy"]["mlp_noise"][corruption]
        assert cell["values"] == pytest.approx([expected[(name, 1)], expected[(name, 2)]])
        assert cell["mean"] == pytest.approx((expected[(name, 1)] + expected[(name, 2)]) / 2)
        assert profile["accuracy"]["cnn"][corruption]["mean"] == pytest.approx(expected[(name, 0)])
    per_run = [np.mean([expected[(n, r)] for n in robustness.EVAL_SETS]) for r in (1, 2)]
    mean = profile["accuracy"]["mlp_noise"]["mean"]
    assert mean["values"] == pytest.approx(per_run)
    assert mean["std"] == pytest.approx(np.std(per_run, ddof=1))
    assert profile["clean"]["cnn"]["mean"] == 1.0
    assert profile["marked"] == {"cnn": [], "mlp_noise": ["shot_noise", "impulse_noise"]}
    assert profile["augmentation"] == {"cnn": "", "mlp_noise": "mixup α=1, noise σ=16"}

    path = robustness.plot_profile(profile, str(tmp_path / "analysis" / "robustness.png"))
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    summary = robustness.format_summary(profile)
    assert "| CNN | none | 1.000 ± 0.000 |" in summary
    assert "shot_noise, impulse_noise" in summary
