"""tf_kdbias: knowledge distillation as a way to transfer inductive biases."""

__version__ = "0.1.0"
