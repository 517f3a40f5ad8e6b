"""The fit benchmark's workloads: data, a teacher and a student builder each.

  mnist            CNN teacher (trained, or loaded from --teacher_dir) -> the paper's MLP
  mnist_paper_cnn  the same data with the paper's CNN, untrained, as per-step teacher
  sva              LSTM teacher -> causal Transformer-seq student on the SVA grammar
"""

import dataclasses
import os
import time
from typing import Callable, Dict, Optional

import keras
import numpy as np

from tf_kdbias import rundir
from tf_kdbias.benchmarks.fit_settings import BenchmarkSettings, SvaSettings
from tf_kdbias.data.mnist import load_mnist
from tf_kdbias.data.pipeline import make_dataset
from tf_kdbias.distill import teacher_cache
from tf_kdbias.distill.teacher_run import TeacherRun
from tf_kdbias.models import load_model, save_model_atomic
from tf_kdbias.models.cnn import build_cnn
from tf_kdbias.models.mlp import build_mlp

PAPER_CNN_WORKLOAD = "mnist_paper_cnn"


@dataclasses.dataclass
class Workload:
    """A teacher, a student builder and the data every variant trains on."""

    name: str
    inputs: np.ndarray
    labels: np.ndarray
    teacher: keras.Model
    teacher_logits: np.ndarray
    build_student: Callable[[], keras.Model]
    test_accuracy: Callable[[keras.Model], float]
    epochs: int
    batch_size: int
    learning_rate: float
    temperature: float
    info: Dict


def sparse_cross_entropy() -> keras.losses.Loss:
    """The loss on gold labels of every student-only row and teacher."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def classification_accuracy(model: keras.Model, inputs: np.ndarray, labels: np.ndarray,
                            batch_size: int = 1000) -> float:
    """Top-1 accuracy. Eager calls: predict() would trace every fresh model."""
    correct = 0
    for start in range(0, len(labels), batch_size):
        logits = model(inputs[start:start + batch_size], training=False)
        correct += int(np.sum(np.argmax(logits, axis=-1) == labels[start:start + batch_size]))
    return correct / len(labels)


def _fit_teacher(teacher: keras.Model, inputs, labels, epochs: int, batch_size: int,
                 seed: int) -> None:
    teacher.compile(optimizer=keras.optimizers.Adam(1e-3), loss=sparse_cross_entropy(),
                    jit_compile=False)
    teacher.fit(make_dataset(inputs, labels, batch_size=batch_size, shuffle=True, seed=seed),
                epochs=epochs, verbose=0, shuffle=False)  # The dataset shuffles itself.


def _load_frozen(model_path: str) -> keras.Model:
    teacher = load_model(model_path)
    teacher.trainable = False
    return teacher


def mnist_teacher(settings: BenchmarkSettings, images, labels,
                  teacher_dir: Optional[str]):
    """(teacher, info): loaded from `teacher_dir`, else trained (and saved there)."""
    model_path = os.path.join(teacher_dir, rundir.MODEL_FILE) if teacher_dir else None
    if model_path and os.path.exists(model_path):
        return _load_frozen(model_path), {"source": f"loaded from {model_path}"}
    keras.utils.set_random_seed(settings.seed)
    teacher = build_cnn(**settings.teacher_kwargs)
    start = time.perf_counter()
    _fit_teacher(teacher, images, labels, settings.teacher_epochs, settings.batch_size,
                 settings.seed)
    info = {"source": f"trained {settings.teacher_epochs} epoch(s)",
            "train_s": time.perf_counter() - start}
    if model_path:
        save_model_atomic(teacher, model_path)
        info["source"] += f", saved to {model_path}"
    teacher.trainable = False
    return teacher, info


def _mnist_teacher_logits(teacher, images, teacher_dir: Optional[str]) -> np.ndarray:
    if teacher_dir is None:
        return teacher.predict(images, batch_size=1000, verbose=0).astype("float32")
    # The benchmark's teacher folder holds model.keras but is not a finished
    # run (no metrics.json), so it is described here rather than loaded.
    run = TeacherRun.of_checkpoint(teacher_dir, teacher)
    return teacher_cache.teacher_logits(run, "benchmark_train", images)


def mnist_workload(settings: BenchmarkSettings, data_dir: Optional[str],
                   teacher_dir: Optional[str], log=print) -> Workload:
    splits = load_mnist(data_dir, seed=settings.seed, train_size=settings.train_size)
    train, test = splits.train, splits.test
    if settings.test_size is not None:
        test = test.take(np.arange(settings.test_size))
    log(f"MNIST: {len(train)} training, {len(test)} test examples; preparing the teacher")
    teacher, info = mnist_teacher(settings, train.images, train.labels, teacher_dir)
    start = time.perf_counter()
    logits = _mnist_teacher_logits(teacher, train.images, teacher_dir)
    info.update(name=teacher.name, params=teacher.count_params(),
                logits_s=time.perf_counter() - start,
                test_accuracy=classification_accuracy(teacher, test.images, test.labels))
    log(f"teacher {teacher.name}: {info['source']}, test accuracy "
        f"{info['test_accuracy']:.4f}")
    return Workload(
        name="mnist", inputs=train.images, labels=train.labels, teacher=teacher,
        teacher_logits=logits, build_student=lambda: build_mlp(**settings.student_kwargs),
        test_accuracy=lambda model: classification_accuracy(model, test.images, test.labels),
        epochs=settings.epochs, batch_size=settings.batch_size,
        learning_rate=settings.learning_rate, temperature=settings.temperature,
        info={"teacher": info, "train_examples": len(train), "test_examples": len(test)})


def paper_cnn_workload(mnist: Workload, seed: int) -> Workload:
    """The MNIST workload with the paper's CNN as the (per-step) teacher.

    Untrained: its weights do not change what a forward pass costs, and rows
    on this workload only time steps.
    """
    keras.utils.set_random_seed(seed)
    teacher = build_cnn()
    teacher.trainable = False
    return dataclasses.replace(mnist, name=PAPER_CNN_WORKLOAD, teacher=teacher,
                               teacher_logits=None,
                               info={"teacher": "build_cnn() (the paper's), untrained",
                                     "params": teacher.count_params()})


def sva_workload(sva: SvaSettings, seed: int, log=print) -> Optional[Workload]:
    """The synthetic-SVA workload, or None (with a note) if SVA is not installed."""
    try:
        from tf_kdbias.data.sva.sources import GrammarSource
        from tf_kdbias.tasks.sva_classification import SvaClassificationTask
        from tf_kdbias.models import sva as sva_models
    except ImportError as e:
        log(f"note: SVA rows skipped: tf_kdbias.models.sva is not importable ({e}).")
        return None
    task = SvaClassificationTask(GrammarSource(num_train=sva.num_train, num_validation=10,
                                               num_test=sva.num_test))
    train, _ = task.load_training_splits(None, seed)
    vocabulary_size = len(task.vocabulary)
    keras.utils.set_random_seed(seed)
    teacher = sva_models.build_lstm_classifier(vocabulary_size, **sva.teacher_kwargs)
    _fit_teacher(teacher, train.inputs, train.labels, sva.teacher_epochs, sva.batch_size, seed)
    teacher.trainable = False
    logits = teacher.predict(train.inputs, batch_size=1000, verbose=0).astype("float32")

    # Padding is masked, so one padded predict() gives the task's accuracy
    # without its per-length batches (one trace each).
    test = task.encode_split(task.eval_examples("sva/test", None))

    def test_accuracy(model):
        return classification_accuracy(model, test.inputs, test.labels)

    info = {"teacher": {"name": teacher.name, "params": teacher.count_params(),
                        "source": f"trained {sva.teacher_epochs} epoch(s)",
                        "test_accuracy": test_accuracy(teacher)},
            "train_examples": len(train), "test_examples": sva.num_test}
    log(f"SVA: {len(train)} sentences; LSTM teacher test accuracy "
        f"{info['teacher']['test_accuracy']:.4f}")
    return Workload(
        name="sva", inputs=train.inputs, labels=train.labels, teacher=teacher,
        teacher_logits=logits,
        build_student=lambda: sva_models.build_transformer_seq_classifier(
            vocabulary_size, **sva.student_kwargs),
        test_accuracy=test_accuracy, epochs=sva.epochs, batch_size=sva.batch_size,
        learning_rate=sva.learning_rate, temperature=sva.temperature, info=info)
