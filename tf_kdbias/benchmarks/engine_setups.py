"""What the engine benchmark runs: the paper's setups, its settings, and their trainers.

A setup is a row of the paper's MNIST table: a model alone ('cnn', 'mlp') or
a teacher -> student pair ('cnn_to_mlp', ...). Its trainer follows the
authors' recipe (recipes/*.gin). Needs only JAX (no TensorFlow).
"""

import dataclasses
from typing import List, Optional, Sequence

import keras

from tf_kdbias.distill.distiller import Distiller
from tf_kdbias import rundir
from tf_kdbias.errors import UserError
from tf_kdbias.models.cnn import build_cnn
from tf_kdbias.models.mlp import build_mlp
from tf_kdbias.optimizers.factory import make_optimizer
from tf_kdbias.tasks.mnist import MnistTask

SETUPS = ("cnn", "mlp", "cnn_to_mlp", "mlp_to_mlp", "cnn_to_cnn", "mlp_to_cnn")
ENGINE_CHOICES = ("standard", "fused", "both")
BUILDERS = {"cnn": build_cnn, "mlp": build_mlp}


@dataclasses.dataclass
class EngineBenchmarkSettings:
    """What the engine benchmark runs.

    Args:
      engines: 'standard' and/or 'fused'.
      setups: names from SETUPS ('mlp', 'cnn_to_mlp', ...).
      group_seeds: also time this many seeds vmapped together (fused; 0: no).
      train_size: training examples per timed epoch (None: all 60k).
      epochs: epochs per row; the first compiles and is not timed.
      batch_size: examples per step (the paper's 128).
      mixed_precision: float16 compute (the authors' recipe: False).
      loop: the fused engine's loop, 'scan', 'steps' or 'auto' (scan, except
        for a model with convolutions on a CPU; see fused/engine.py).
      table_seeds, table_epochs, table_examples: the table the projection is for.
      seed: seeds the models and batch order.
    """

    engines: Sequence[str] = ("standard", "fused")
    setups: Sequence[str] = SETUPS
    group_seeds: int = 4
    train_size: Optional[int] = None
    epochs: int = 3
    batch_size: int = 128
    mixed_precision: bool = False
    loop: str = "auto"
    table_seeds: int = 4
    table_epochs: int = 400
    table_examples: int = 60000
    seed: int = 0


def engines_for(choice: str) -> List[str]:
    """--engine's value as a list of engines."""
    if choice not in ENGINE_CHOICES:
        raise UserError(f"--engine={choice!r}: use one of {list(ENGINE_CHOICES)}.")
    return ["standard", "fused"] if choice == "both" else [choice]


def parse_setup(name: str):
    """'cnn_to_mlp' -> ('mlp', 'cnn'); 'mlp' -> ('mlp', None)."""
    if name not in SETUPS:
        raise UserError(f"Unknown setup {name!r}; use some of {list(SETUPS)}.")
    return rundir.parse_setup(name)


def build_trainer(setup: str, steps_per_epoch: int, seed: int) -> keras.Model:
    """A compiled trainer of `setup` with the authors' recipe (recipes/*.gin).

    Models alone: RAdam 1e-4, exponential decay. Students: Adam (eps 1e-8)
    with one cosine, soft-target CE / T^2 at T = 5, r = 1, the teacher in
    training mode at every step.
    """
    student_name, teacher_name = parse_setup(setup)
    keras.utils.set_random_seed(seed)
    student = BUILDERS[student_name](name=student_name)
    if teacher_name is None:
        optimizer = make_optimizer(steps_per_epoch, name="radam", learning_rate=1e-4,
                                   schedule="exponential", decay_steps=10000, decay_rate=0.96,
                                   epsilon=1e-8, rectify_threshold=5.0)
        task = MnistTask()
        student.compile(optimizer=optimizer, loss=task.training_loss(),
                        metrics=task.training_metrics(), jit_compile=True)
        return student
    teacher = BUILDERS[teacher_name](name=f"teacher_{teacher_name}")
    teacher.trainable = False
    optimizer = make_optimizer(steps_per_epoch, name="adam", learning_rate=1e-4, epsilon=1e-8,
                               schedule="cosine_restarts", first_decay_steps=200000,
                               t_mul=5.0, m_mul=0.2, alpha=0.001)
    trainer = Distiller(student=student, teacher=teacher, temperature=5.0, distill_rate=1.0,
                        kd_loss="soft_cross_entropy", teacher_training=True)
    trainer.compile(optimizer=optimizer, jit_compile=True)
    return trainer


def models_of(trainer: keras.Model):
    """(student, teacher run per step or None)."""
    return getattr(trainer, "student", trainer), getattr(trainer, "teacher", None)
