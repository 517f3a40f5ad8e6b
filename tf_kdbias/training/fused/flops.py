"""FLOPs of a training step and the device's peak: how far from the limit a run is.

Two counts of the floating-point operations per training example:

- analytic: 2 x multiply-adds of every Dense and convolution layer's forward
  pass (elementwise ops, pooling, normalisation and the loss are left out:
  they are a few percent here), times 3 for a trained model (forward, and a
  backward pass of about twice the forward's cost), plus one forward pass of
  a teacher run at every step;
- XLA: the compiled training step's own count (`cost_analysis()['flops']`),
  which includes everything XLA emits, divided by the batch size.

`PEAK_TFLOPS` holds NVIDIA's datasheet peaks (SXM parts, dense, i.e.
without the 2:4 sparsity doubling) by device kind and precision.
"""

from typing import Dict, Optional

import keras
import numpy as np

# Dense tensor-core peaks (TFLOP/s) for fp16/bf16/tf32; fp32 is the CUDA-core
# (non-tensor) rate. H100 and H200 share the same GH100 compute.
PEAK_TFLOPS: Dict[str, Dict[str, float]] = {
    "H200": {"fp16": 989.4, "bf16": 989.4, "tf32": 494.7, "fp32": 66.9},
    "H100": {"fp16": 989.4, "bf16": 989.4, "tf32": 494.7, "fp32": 66.9},
    "A100": {"fp16": 312.0, "bf16": 312.0, "tf32": 156.0, "fp32": 19.5},
}


def device_peak(device_kind: str) -> Optional[Dict[str, float]]:
    """The peak table of a JAX `device_kind` (e.g. 'NVIDIA H200'); None if unknown."""
    for name, peaks in PEAK_TFLOPS.items():
        if name.lower() in device_kind.lower():
            return peaks
    return None


def _layer_flops(layer) -> int:
    """Forward FLOPs per example of one Dense or convolution layer (0 otherwise)."""
    if isinstance(layer, keras.layers.Dense):
        output = layer.output.shape  # [batch, ..., units]
        positions = int(np.prod(output[1:-1])) if len(output) > 2 else 1
        return 2 * int(layer.kernel.shape[0]) * int(layer.units) * positions
    if isinstance(layer, keras.layers.Conv2D):
        kernel = layer.kernel.shape  # [kh, kw, in / groups, out]
        output = layer.output.shape  # [batch, h, w, out]
        return 2 * int(np.prod(kernel)) * int(output[1]) * int(output[2])
    return 0


def forward_flops(model: keras.Model) -> int:
    """Analytic forward FLOPs per example of a built functional model."""
    return sum(_layer_flops(layer) for layer in model._flatten_layers(include_self=False)
               if not isinstance(layer, keras.Model))


def training_flops_per_example(student: keras.Model,
                               teacher: Optional[keras.Model] = None) -> int:
    """Analytic FLOPs per example of one training step.

    Args:
      student: the trained model (forward + backward = 3 forwards).
      teacher: a teacher run at every step (one forward), or None.
    """
    return 3 * forward_flops(student) + (forward_flops(teacher) if teacher is not None else 0)


def xla_flops(compiled) -> Optional[float]:
    """The FLOPs XLA counts in a compiled function (None if it does not say)."""
    try:
        analysis = compiled.cost_analysis()
    except Exception:  # Not every backend/version implements it.
        return None
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0] if analysis else None
    if not analysis or "flops" not in analysis:
        return None
    return float(analysis["flops"])
