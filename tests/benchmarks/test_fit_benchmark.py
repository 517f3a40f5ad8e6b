"""The fit benchmark end to end (fit_benchmark.run_benchmark, scripts/benchmark.py)."""

import json
import os

import pytest

from tests.distill.test_backends import jax_env
from tests.script_runner import run_script
from tf_kdbias.benchmarks import fit_benchmark, fit_report
from tf_kdbias.benchmarks.fit_settings import BenchmarkSettings

TINY_CNN = {"filters": (4, 4, 4), "maxout_units": (4, 4, 2), "pool_sizes": (2, 2, 1)}


def test_run_benchmark_writes_the_promised_report_atomically(data_dir, tmp_path):
    output = tmp_path / "benchmark.json"
    output.write_text('{"stale": true}')
    settings = BenchmarkSettings(
        epochs=2, train_size=512, test_size=500, teacher_kwargs=TINY_CNN, teacher_epochs=1,
        student_kwargs={"hidden_units": (16,)}, jit=False, stall_trials=1, sva=None,
        variants=["student_only", "ours_cached", "keras_distiller"])
    messages = []
    report = fit_benchmark.run_benchmark(settings, data_dir=data_dir, output_path=str(output),
                                         log=messages.append)

    assert os.listdir(tmp_path) == ["benchmark.json"]  # No temp file left behind.
    written = json.loads(output.read_text())
    assert written == json.loads(json.dumps(report))
    assert {"machine", "settings", "rows", "ratios"} <= set(written)
    assert {"cpu_model", "cores", "tensorflow", "keras", "backend", "gpu"} <= set(
        written["machine"])
    assert [r["name"] for r in written["rows"]] == settings.variants
    for r in written["rows"]:
        assert {"name", "median_epoch_s", "epochs_timed", "test_accuracy", "jit_compile",
                "fit_exit_s"} <= set(r)
        assert r["epochs_timed"] == 1 and len(r["epoch_s"]) == 2
        assert r["median_wall_epoch_s"] == r["epoch_s"][1]
        assert r["median_epoch_s"] == pytest.approx(r["median_step_s"] * r["steps_per_epoch"])
        assert r["test_accuracy"] * 500 == pytest.approx(round(r["test_accuracy"] * 500))
    accuracy = {r["name"]: r["test_accuracy"] for r in written["rows"]}
    # Eight Adam steps on real MNIST lift the student above chance (0.1)...
    assert accuracy["student_only"] > 0.15, accuracy
    # ...and the two distillers, one objective on the same data and steps, agree.
    assert accuracy["ours_cached"] == pytest.approx(accuracy["keras_distiller"], abs=0.05)
    assert set(fit_report.TARGETS) <= set(written["ratios"])
    assert written["ratios"]["ours_cached_over_keras_distiller"] == pytest.approx(
        written["rows"][1]["median_epoch_s"] / written["rows"][2]["median_epoch_s"])
    assert written["ratios"]["pipeline_overhead"] is None  # No in-memory row ran.
    assert set(written["stall"]) == {"legacy_pipeline", "make_dataset"}
    assert written["settings"]["mnist"]["train_examples"] == 512
    text = fit_report.format_report(report)
    assert "| mnist | ours_cached |" in text and "pipeline_overhead" in text


def test_the_fit_benchmark_without_tensorflow_says_so(tmp_path, data_dir):
    output = str(tmp_path / "benchmark.json")
    done = run_script("benchmark.py", "--quick", f"--data_dir={data_dir}",
                      f"--output={output}", env=jax_env())
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    assert "needs TensorFlow" in done.stderr and "Traceback" not in done.stderr
    assert not os.path.exists(output)
