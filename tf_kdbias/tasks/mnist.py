"""MNIST training; evaluation on MNIST and MNIST-C."""

from typing import Optional

import gin
import numpy as np

from tf_kdbias.tasks.base import ArraySplit, Task, register_task


@register_task
@gin.configurable
class MnistTask(Task):
    """MNIST training; evaluation on MNIST and MNIST-C.

    Args:
      validation_size: training examples held out (seeded) for validation; 0
        trains on all of them with no validation split (the paper's runs).
      train_size: keep only this many training examples (None: all).
      num_ece_bins: equal-width bins of the ECE.
    """

    name = "mnist"

    def __init__(self, validation_size: int = 5000, train_size: Optional[int] = None,
                 num_ece_bins: int = 15):
        self.validation_size = validation_size
        self.train_size = train_size
        self.num_ece_bins = num_ece_bins

    def expand_eval_sets(self, names):
        from tf_kdbias.data.eval_sets import expand_eval_sets
        return expand_eval_sets(names)

    def load_training_splits(self, data_dir, seed):
        from tf_kdbias.data.mnist import load_mnist
        splits = load_mnist(data_dir, validation_size=self.validation_size, seed=seed,
                            train_size=self.train_size)
        return (ArraySplit(splits.train.images, splits.train.labels),
                ArraySplit(splits.validation.images, splits.validation.labels))

    def baseline_metrics(self, data_dir, eval_sets):
        """{'train_majority': {eval set: {'accuracy': a}}}: always answering the
        training set's most frequent class (a constant guess has no ECE)."""
        from tf_kdbias.data.eval_sets import load_eval_set
        from tf_kdbias.data.mnist import load_mnist
        train_labels = load_mnist(data_dir, validation_size=0).train.labels
        majority = int(np.bincount(train_labels).argmax())
        return {"train_majority": {
            name: {"accuracy": float(np.mean(load_eval_set(name, data_dir).labels == majority))}
            for name in self.expand_eval_sets(eval_sets)}}

    def evaluate(self, model, data_dir, eval_sets):
        from tf_kdbias.data.eval_sets import load_eval_set
        from tf_kdbias.metrics.evaluation import evaluate_logits
        results = {}
        for name in self.expand_eval_sets(eval_sets):
            split = load_eval_set(name, data_dir)
            logits = model.predict(split.images, batch_size=1000, verbose=0)
            results[name] = evaluate_logits(logits, split.labels, num_bins=self.num_ece_bins)
        return results
