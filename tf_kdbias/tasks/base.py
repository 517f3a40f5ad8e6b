"""Tasks: what a run trains on, how it is scored and how it is served.

`run_training` is task-agnostic; a gin-selected `Task` supplies in-memory
training splits, evaluation on named eval sets, run assets and the serving
signature for export. Each task registers under its `name`, which runs record
in metrics.json so later tools (evaluate, export, analysis) can rebuild it.
"""

import dataclasses
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import keras
import numpy as np

from tf_kdbias.errors import UserError

TASKS: Dict[str, type] = {}


def register_task(cls):
    """Class decorator: makes a task findable by its `name`."""
    TASKS[cls.name] = cls
    return cls


def task_by_name(name: str, run_dir: Optional[str] = None) -> "Task":
    """The task registered as `name`, restored from `run_dir`'s assets if given."""
    # Every task registers when its module is imported.
    from tf_kdbias.tasks import mnist, sva_classification, sva_language_model  # noqa: F401
    if name not in TASKS:
        raise UserError(f"Unknown task {name!r} recorded in the run; known tasks: "
                        f"{sorted(TASKS)}. Was the run made by a newer tf_kdbias?")
    return TASKS[name].from_run_dir(run_dir) if run_dir else TASKS[name]()


@dataclasses.dataclass
class ArraySplit:
    """An in-memory split.

    Args:
      inputs: model inputs, e.g. uint8 images [N, 28, 28, 1] or int token ids [N, L].
      labels: [N] class ids, or [N, L] next-token ids for language models.
      sample_weight: optional [N] or [N, L] weights; for sequences, the mask
        of real (non-padding) positions.
    """

    inputs: np.ndarray
    labels: np.ndarray
    sample_weight: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.labels)


class Task:
    """Base class of tasks; subclasses are `@gin.configurable` and registered."""

    name = "task"

    @classmethod
    def from_run_dir(cls, run_dir: str) -> "Task":
        """The task as a finished run used it (subclasses read their assets)."""
        del run_dir
        return cls()

    def expand_eval_sets(self, names: Sequence[str]) -> List[str]:
        """Validates eval-set names (UserError on unknown ones) and expands groups."""
        raise NotImplementedError

    def load_training_splits(self, data_dir: Optional[str], seed: int) -> Tuple[ArraySplit, ArraySplit]:
        """(train, validation); validation never comes from the test data."""
        raise NotImplementedError

    def evaluate(self, model: keras.Model, data_dir: Optional[str],
                 eval_sets: Sequence[str]) -> Dict[str, Dict[str, Optional[float]]]:
        """Metric values per eval set (None where a metric is not available)."""
        raise NotImplementedError

    def training_loss(self) -> keras.losses.Loss:
        """The loss of a model trained alone on gold labels."""
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def training_metrics(self) -> list:
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def model_kwargs(self) -> Dict:
        """Arguments the model builder needs from the data (e.g. the vocabulary
        size), known once `load_training_splits` has run; none by default."""
        return {}

    def save_assets(self, run_dir: str) -> None:
        """Writes what a run needs besides weights (e.g. a vocabulary)."""

    def serving_endpoint(self, model: keras.Model, run_dir: str) -> Tuple[Callable, list]:
        """(fn, input_signature) of the exported `serving_default`.

        Default: the model's own input (e.g. `image`: uint8 [None, 28, 28, 1],
        scaled inside the model) to `logits`.
        """
        import tensorflow as tf

        spec = tf.TensorSpec([None] + list(model.input.shape[1:]),
                             tf.as_dtype(model.input.dtype), name=model.input.name or "inputs")

        def serve(inputs):
            return {"logits": tf.cast(model(inputs, training=False), tf.float32)}

        return serve, [spec]
