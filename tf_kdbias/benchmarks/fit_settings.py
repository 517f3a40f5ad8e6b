"""What the fit benchmark runs: its settings and the quick and full presets.

Plain dataclasses (no backend imported), used by `fit_benchmark.run_benchmark`
and by scripts/benchmark.py's flags.
"""

import dataclasses
from typing import Dict, Optional, Sequence

SMALL_CNN_TEACHER = {"filters": (32, 32, 32), "maxout_units": (16, 16, 16), "pool_sizes": (2, 2, 1)}
QUICK_SVA_TEACHER = {"embedding_dim": 64, "hidden_dim": 64, "hidden_dropout": 0.2}
QUICK_SVA_STUDENT = {"hidden_dim": 64, "num_layers": 2, "num_heads": 4,
                     "residual_dropout": 0.1, "attention_dropout": 0.1}


@dataclasses.dataclass
class SvaSettings:
    """The optional SVA workload: LSTM teacher -> Transformer-seq student."""

    num_train: int = 2000
    num_test: int = 1000
    epochs: int = 3
    batch_size: int = 64
    # docs/PAPER_SETUP.md, "Scenario 1": the paper's SVA distillation used T=1.
    temperature: float = 1.0
    learning_rate: float = 1e-3
    teacher_epochs: int = 3
    teacher_kwargs: Dict = dataclasses.field(default_factory=lambda: dict(QUICK_SVA_TEACHER))
    student_kwargs: Dict = dataclasses.field(default_factory=lambda: dict(QUICK_SVA_STUDENT))


@dataclasses.dataclass
class BenchmarkSettings:
    """What the benchmark runs; `quick_settings` and `full_settings` are presets.

    Args:
      mode: 'quick', 'full' or 'custom' (recorded only).
      epochs: epochs per variant; the first is traced and not timed.
      batch_size, learning_rate, seed, temperature: shared by every variant.
      train_size: MNIST training examples (None: the full 55k split).
      test_size: MNIST test examples for the accuracies (None: all 10k).
      teacher_kwargs: `build_cnn` arguments of the teacher ({}: the paper's CNN).
      teacher_epochs: epochs the teacher trains when it is not loaded.
      paper_teacher_steps: also time Keras' Distiller with the paper's CNN as
        teacher over this many steps per epoch (quick mode, whose own teacher
        is small); None: no such row.
      student_kwargs: `build_mlp` arguments ({}: the paper's MLP).
      jit: add the jit_compile=True rows.
      variants: names of the MNIST rows to run (None: all of
        `fit_variants.MNIST_VARIANTS`).
      stall_trials: finished iterators destroyed per pipeline in the stall probe.
      sva: the SVA workload's settings, or None to skip it.
    """

    mode: str = "custom"
    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    temperature: float = 5.0
    train_size: Optional[int] = None
    test_size: Optional[int] = None
    teacher_kwargs: Dict = dataclasses.field(default_factory=lambda: dict(SMALL_CNN_TEACHER))
    # One epoch is not enough: the CNN's BatchNorm statistics still lag its
    # weights and its test accuracy is near chance.
    teacher_epochs: int = 2
    paper_teacher_steps: Optional[int] = None
    student_kwargs: Dict = dataclasses.field(default_factory=dict)
    jit: bool = True
    variants: Optional[Sequence[str]] = None
    stall_trials: int = 5
    sva: Optional[SvaSettings] = None


def quick_settings() -> BenchmarkSettings:
    """Under 5 minutes on 2 idle cores: a small CNN teacher, 3 epochs per row,
    Keras' Distiller with the paper's CNN timed over 30 steps per epoch, no
    XLA rows (slow on CPU, see docs) and no SVA rows."""
    return BenchmarkSettings(mode="quick", paper_teacher_steps=30, jit=False, sva=None)


def full_settings() -> BenchmarkSettings:
    """The paper's CNN teacher (slow on CPU: train it once with --teacher_dir)."""
    return BenchmarkSettings(mode="full", epochs=6, teacher_kwargs={}, teacher_epochs=3,
                             stall_trials=10,
                             sva=SvaSettings(num_train=10000, num_test=5000, epochs=4))


def with_overrides(settings: BenchmarkSettings, jit: Optional[bool] = None,
                   sva: Optional[bool] = None, variants: Optional[Sequence[str]] = None,
                   epochs: Optional[int] = None) -> BenchmarkSettings:
    """`settings` with the command line's choices; None keeps the preset's."""
    changes = {"variants": variants, "epochs": epochs, "jit": jit}
    changes = {name: value for name, value in changes.items() if value is not None}
    if sva is not None:
        changes["sva"] = (settings.sva or SvaSettings()) if sva else None
    return dataclasses.replace(settings, **changes)
