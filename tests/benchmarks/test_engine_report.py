"""The engine benchmark's FLOPs, peaks and projection (engine_report, fused/flops)."""

import keras
import pytest

from tf_kdbias.benchmarks import engine_report
from tf_kdbias.benchmarks.engine_setups import SETUPS, EngineBenchmarkSettings
from tf_kdbias.training.fused import flops


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
    precision, peak = engine_report.peak_for({"platform": "gpu", "device_kind": "NVIDIA H200"},
                                             mixed_precision=False)
    assert (precision, peak) == ("tf32", 494.7)


def test_projection_is_seeds_epochs_steps_over_rate():
    settings = EngineBenchmarkSettings(table_seeds=4, table_epochs=400,
                                       table_examples=60000, batch_size=128)
    rows = [{"setup": "mlp", "engine": "fused", "steps_per_s": 100.0},
            {"setup": "cnn", "engine": "fused", "steps_per_s": 50.0},
            {"setup": "mlp", "engine": "standard", "steps_per_s": 40.0}]
    projection = engine_report.project_table(rows, settings)
    steps = 469  # ceil(60000 / 128): the last batch is partial.
    assert projection["fused"]["seconds"] == pytest.approx(4 * 400 * steps * (1 / 100 + 1 / 50))
    assert projection["standard"]["seconds"] == pytest.approx(4 * 400 * steps / 40)
    assert not projection["fused"]["complete"] and projection["fused"]["setups"] == ["mlp", "cnn"]


def test_table_flops_add_a_teachers_forward_pass_to_its_students_training():
    settings = EngineBenchmarkSettings(table_seeds=4, table_epochs=400, table_examples=60000)
    counts = engine_report.table_flops(settings)
    per = counts["per_example"]
    assert set(per) == set(SETUPS)
    # Alone: 3 forwards (forward + backward); a per-step teacher adds one forward.
    assert per["cnn_to_mlp"] == per["mlp"] + per["cnn"] // 3
    assert per["mlp_to_cnn"] == per["cnn"] + per["mlp"] // 3
    assert per["cnn_to_cnn"] == per["cnn"] * 4 // 3
    assert counts["total_flop"] == 4 * 400 * 60000 * sum(per.values())
