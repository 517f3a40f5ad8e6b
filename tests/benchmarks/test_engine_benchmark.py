"""The engine benchmark (scripts/benchmark.py --engine) and its FLOP counts."""

import json
import os

import keras
import numpy as np
import pytest

from tests.distill.test_backends import jax_env
from tests.script_runner import run_script
from tf_kdbias.errors import UserError
from tf_kdbias.benchmarks import engine_benchmark
from tf_kdbias.training.fused import flops


def test_setups_and_engines_are_named():
    assert engine_benchmark.parse_setup("cnn_to_mlp") == ("mlp", "cnn")
    assert engine_benchmark.parse_setup("mlp") == ("mlp", None)
    with pytest.raises(UserError, match="Unknown setup 'lstm'"):
        engine_benchmark.parse_setup("lstm")
    assert engine_benchmark.engines_for("both") == ["standard", "fused"]
    with pytest.raises(UserError, match="--engine='fast'"):
        engine_benchmark.engines_for("fast")


def test_forward_flops_count_dense_and_convolution_multiply_adds():
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)      # 4x4x4 outputs, 3*3*2 taps each
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(7, name="dense")(x)         # 64 inputs
    model = keras.Model(inputs, outputs)
    conv = 2 * (4 * 4 * 4) * (3 * 3 * 2)
    dense = 2 * 64 * 7
    assert flops.forward_flops(model) == conv + dense
    teacher = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    assert flops.training_flops_per_example(model, teacher) == 3 * (conv + dense) + 2 * 5 * 3


def test_xla_counts_a_matmul_as_two_flops_per_multiply_add():
    import jax
    import jax.numpy as jnp

    compiled = jax.jit(lambda a, b: a @ b).lower(jnp.ones((8, 16)), jnp.ones((16, 4))).compile()
    assert flops.xla_flops(compiled) == 2 * 8 * 16 * 4


def test_device_peaks_are_looked_up_by_kind():
    assert flops.device_peak("NVIDIA H200")["tf32"] == flops.PEAK_TFLOPS["H200"]["tf32"]
    assert flops.device_peak("NVIDIA A100-SXM4-80GB") is flops.PEAK_TFLOPS["A100"]
    assert flops.device_peak("cpu") is None
    precision, peak = engine_benchmark.peak_for({"platform": "gpu", "device_kind": "NVIDIA H200"},
                                                mixed_precision=False)
    assert (precision, peak) == ("tf32", 494.7)


def test_projection_is_seeds_epochs_steps_over_rate():
    settings = engine_benchmark.EngineBenchmarkSettings(table_seeds=4, table_epochs=400,
                                                        table_examples=60000, batch_size=128)
    rows = [{"setup": "mlp", "engine": "fused", "steps_per_s": 100.0},
            {"setup": "cnn", "engine": "fused", "steps_per_s": 50.0},
            {"setup": "mlp", "engine": "standard", "steps_per_s": 40.0}]
    projection = engine_benchmark.project_table(rows, settings)
    steps = 469  # ceil(60000 / 128): the last batch is partial.
    assert projection["fused"]["seconds"] == pytest.approx(4 * 400 * steps * (1 / 100 + 1 / 50))
    assert projection["standard"]["seconds"] == pytest.approx(4 * 400 * steps / 40)
    assert not projection["fused"]["complete"] and projection["fused"]["setups"] == ["mlp", "cnn"]


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
    assert not os.path.exists(output + ".tmp")


def test_table_flops_add_a_teachers_forward_pass_to_its_students_training():
    settings = engine_benchmark.EngineBenchmarkSettings(table_seeds=4, table_epochs=400,
                                                        table_examples=60000)
    counts = engine_benchmark.table_flops(settings)
    per = counts["per_example"]
    assert set(per) == set(engine_benchmark.SETUPS)
    # Alone: 3 forwards (forward + backward); a per-step teacher adds one forward.
    assert per["cnn_to_mlp"] == per["mlp"] + per["cnn"] // 3
    assert per["mlp_to_cnn"] == per["cnn"] + per["mlp"] // 3
    assert per["cnn_to_cnn"] == per["cnn"] * 4 // 3
    assert counts["total_flop"] == 4 * 400 * 60000 * sum(per.values())
