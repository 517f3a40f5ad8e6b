"""The engine benchmark end to end (scripts/benchmark.py --engine), without TensorFlow."""

import json
import os

import numpy as np
import pytest

from tests.distill.test_backends import jax_env
from tests.script_runner import run_script


def test_engine_benchmark_script_without_tensorflow(tmp_path, data_dir):
    """Both engines and a 2-seed group on the MLP, in a process without TensorFlow."""
    output = str(tmp_path / "engines.json")
    done = run_script("benchmark.py", "--engine=both", "--engine_setups=mlp",
                      "--engine_train_size=512", "--engine_group_seeds=2", "--epochs=2",
                      f"--data_dir={data_dir}", f"--output={output}", env=jax_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.load(open(output))
    rows = {row["engine"]: row for row in report["rows"]}
    assert set(rows) == {"standard", "fused", "fused_x2"}
    for row in rows.values():
        assert row["steps_per_epoch"] == 4  # 512 / 128
        assert row["examples_per_s"] == pytest.approx(128 * row["steps_per_s"])
        # Epoch times are stored rounded to 0.1 ms; the first (compiling) one is not timed.
        assert row["median_epoch_s"] == pytest.approx(np.median(row["epoch_s"][1:]), abs=1e-4)
        assert row["steps_per_s"] == pytest.approx(row["seeds_together"] * 4
                                                   / row["median_epoch_s"])
        # The paper's MLP: 2 x (784*512 + 512*128 + 128*32 + 32*10) per forward, x3 trained.
        assert row["flops_per_example_analytic"] == 3 * 2 * (784 * 512 + 512 * 128
                                                             + 128 * 32 + 32 * 10)
        # XLA counts every op of the step; the matmuls dominate it.
        assert 0.5 < row["flops_per_example_xla"] / row["flops_per_example_analytic"] < 2.0
    assert rows["fused"]["ratio_to_standard"] == pytest.approx(
        rows["fused"]["steps_per_s"] / rows["standard"]["steps_per_s"])
    assert "Projected wall time" in done.stdout and "only mlp (1 of 6 setups)" in done.stdout
    assert "  mlp/fused: " in done.stdout and " vs standard" in done.stdout
    assert not os.path.exists(output + ".tmp")
