"""The fit benchmark's ratios and targets (fit_report)."""

import pytest

from tf_kdbias.benchmarks import fit_report
from tf_kdbias.benchmarks.fit_workloads import PAPER_CNN_WORKLOAD


def row(name, median, accuracy=0.9, workload="mnist"):
    return {"workload": workload, "name": name, "median_epoch_s": median,
            "test_accuracy": accuracy}


def test_ratios_come_from_the_named_rows_of_one_workload():
    rows = [row("student_only", 2.0), row("ours_cached", 2.2), row("keras_distiller", 20.0),
            row("ours_per_step", 11.0), row("student_only_in_memory", 1.6),
            row("student_only_legacy_pipeline", 3.2), row("student_only_jit", 3.0),
            row("ours_cached", 99.0, workload="sva")]
    ratios = fit_report.compute_ratios(rows)
    assert ratios["cached_over_student_only"] == pytest.approx(1.1)
    assert ratios["ours_cached_over_keras_distiller"] == pytest.approx(0.11)
    assert ratios["per_step_over_cached"] == pytest.approx(5.0)
    assert ratios["pipeline_overhead"] == pytest.approx(0.25)
    assert ratios["pipeline_overhead_legacy"] == pytest.approx(1.0)
    assert ratios["student_only_jit_over_no_jit"] == pytest.approx(1.5)
    assert ratios["cached_jit_over_no_jit"] is None  # No ours_cached_jit row.


def test_targets_say_met_or_not_met():
    rows = [row("student_only", 2.0), row("ours_cached", 2.4, accuracy=0.950),
            row("keras_distiller", 20.0, accuracy=0.957)]
    ratios = fit_report.compute_ratios(rows)
    verdicts = {c["name"]: c["met"] for c in fit_report.evaluate_targets(ratios, rows)}
    assert verdicts == {"cached_over_student_only": False,  # 1.2 > 1.10
                        "ours_cached_over_keras_distiller": True,  # 0.12
                        "pipeline_overhead": None,  # No in-memory row.
                        "accuracy_gap_ours_cached_vs_keras_distiller": False}  # 0.007


def test_the_speed_target_is_judged_on_the_paper_cnn_when_it_was_timed():
    rows = [row("student_only", 2.0), row("ours_cached", 2.0, accuracy=0.95),
            row("keras_distiller", 5.0, accuracy=0.95),  # Small quick teacher: 0.4.
            row("keras_distiller", 40.0, workload=PAPER_CNN_WORKLOAD)]
    ratios = fit_report.compute_ratios(rows)
    assert ratios["ours_cached_over_keras_distiller"] == pytest.approx(0.4)
    assert ratios["ours_cached_over_keras_distiller_paper_cnn"] == pytest.approx(0.05)
    checks = {c["name"]: c for c in fit_report.evaluate_targets(ratios, rows)}
    assert checks["ours_cached_over_keras_distiller_paper_cnn"]["met"] is True
    assert "ours_cached_over_keras_distiller" not in checks
