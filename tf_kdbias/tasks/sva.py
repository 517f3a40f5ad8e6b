"""Subject-verb agreement tasks: verb-number classification and language modelling.

Both read a gin-selected `AgreementSource` (gin_configs/sva/source_*.gin),
build the vocabulary from its train split, hand its size to the model
builder (`model_kwargs`), and evaluate on named sets:

- `sva/test`: the source's own test split;
- `sva/linzen_testset`: the 7489 real sentences of <data_dir>/sva/linzen_testset
  (no distances: D-accuracy is not available there);
- `sva/gulordava2018`: the 410 sentences of <data_dir>/sva/gulordava2018_en;
- `linzen_simple/test_<k>` (k = 1..5) and `linzen_simple/test` (all five):
  the attractor test files of <data_dir>/sva/linzen_simple (classification
  only; their A-accuracy averages groups 1..5, the release has no group 0).

Metrics (metrics/agreement.py): micro_accuracy, d_accuracy, a_accuracy,
accuracy_attractors_<k>, count_attractors_<k>, the class-balanced
balanced_accuracy, balanced_accuracy_attractors_<k> and balanced_a_accuracy,
ece (20 bins), ece_paper (10^6 bins), and nll (classification) or perplexity
(language model). `baseline_metrics` scores constant guesses with the same
code, from the labels alone.

A run directory gets `vocab.txt` and `sva_task.json` (the source), from which
`from_run_dir` restores the task to evaluate or export a finished run.
"""

import os
from typing import Dict, List, Optional, Sequence

import keras
import numpy as np

from tf_kdbias import io_utils
from tf_kdbias.data.sva import linzen_simple, testsets
from tf_kdbias.data.sva.encoding import AgreementMetadata
from tf_kdbias.data.sva.eval_set_names import (LINZEN_SIMPLE_PREFIX, attractor_groups,
                                               expand_sva_eval_sets, linzen_simple_attractors)
from tf_kdbias.data.sva.example import PLURAL, SINGULAR, AgreementExample
from tf_kdbias.data.sva.sources import AgreementSource, GrammarSource, source_from_config
from tf_kdbias.data.sva.tokens import normalize_words_tf
from tf_kdbias.data.sva.vocabulary import PAD, UNK, VOCAB_FILENAME, Vocabulary
from tf_kdbias.errors import UserError
from tf_kdbias.tasks.base import ArraySplit, Task
from tf_kdbias.metrics import agreement

TASK_FILE = "sva_task.json"
# Longest encoded input: the Transformers' position tables (128) minus the
# classifier's CLS slot, with room to spare over the 72-token real sentences.
DEFAULT_MAX_LENGTH = 100
# Evaluation pads each batch to a multiple of this many tokens (few shapes to compile).
LENGTH_STEP = 8
# Constant guesses of the baseline rows: always one verb number, or the
# training split's more frequent one.
CONSTANT_GUESSES = ("always_plural", "always_singular", "train_majority")


def _batch_predictor(model: keras.Model):
    """The model's compiled `predict_on_batch` (calling the model eagerly ran
    its LSTM step by step: ~70x slower on CPU), except for a model mirrored
    over several replicas, whose rows predict_on_batch can reorder."""
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        return lambda batch: model(batch, training=False)
    return model.predict_on_batch


def predict_by_length(model: keras.Model, rows: List[np.ndarray], batch_size: int,
                      length_step: int = LENGTH_STEP):
    """Model outputs per row, batching rows of similar length.

    Padding is masked, so padding each batch only to its own longest row
    changes nothing but the cost (a lot, on the 1.3M Linzen test rows).
    Batch lengths are rounded up to a multiple of `length_step` (never past
    the longest row), so a compiled predict function meets a few shapes
    rather than one per length (JAX and XLA compile each shape).
    """
    predict = _batch_predictor(model)
    order = np.argsort([len(r) for r in rows], kind="stable")
    outputs = [None] * len(rows)
    longest = max([1] + [len(r) for r in rows])
    for start in range(0, len(rows), batch_size):
        batch_index = order[start:start + batch_size]
        length = max(1, max(len(rows[i]) for i in batch_index))
        length = min(longest, -(-length // length_step) * length_step)
        batch = np.zeros((len(batch_index), length), np.int32)
        for j, i in enumerate(batch_index):
            batch[j, :len(rows[i])] = rows[i]
        predicted = np.asarray(predict(batch))
        for j, i in enumerate(batch_index):
            outputs[i] = predicted[j]
    return outputs


class SvaTask(Task):
    """Shared source, vocabulary, eval-set and asset handling of the SVA tasks.

    Args:
      source: where training data comes from (default: `GrammarSource()`).
      max_length: longest encoded input; longer inputs are cut.
      report_distance_groups: also report accuracy_distance_<d> and
        count_distance_<d> for d = 1..16.
      batch_size: evaluation batch size.
    """

    name = "sva"

    def __init__(self, source: Optional[AgreementSource] = None,
                 max_length: int = DEFAULT_MAX_LENGTH, report_distance_groups: bool = False,
                 batch_size: int = 256):
        self.source = source or GrammarSource()
        self.max_length = max_length
        self.report_distance_groups = report_distance_groups
        self.batch_size = batch_size
        self.vocabulary: Optional[Vocabulary] = None
        self._splits = None
        self._linzen_simple_tests: Dict[int, List[AgreementExample]] = {}

    @classmethod
    def from_run_dir(cls, run_dir: str) -> "SvaTask":
        """The task of a finished run, with its source and vocabulary."""
        path = os.path.join(run_dir, TASK_FILE)
        if not os.path.exists(path):
            raise UserError(f"{run_dir!r} has no {TASK_FILE}; it is not a finished SVA run.")
        config = io_utils.read_json(path)
        task = cls(source=source_from_config(config["source"]),
                   max_length=config.get("max_length", DEFAULT_MAX_LENGTH))
        task.load_assets(run_dir)
        return task

    def expand_eval_sets(self, names):
        return expand_sva_eval_sets(names)

    def _load_source(self, data_dir):
        if self._splits is None:
            self._splits, vocabulary = self.source.load(data_dir)
            self.vocabulary = self.vocabulary or vocabulary
        return self._splits

    def load_training_splits(self, data_dir, seed):
        del seed  # The source fixes the data; the run seed drives weights and order.
        splits = self._load_source(data_dir)
        return self.encode_split(splits["train"]), self.encode_split(splits["validation"])

    def model_kwargs(self) -> Dict:
        """The model builder's vocabulary size, known once the source is read."""
        self._require_vocabulary()
        return {"vocabulary_size": len(self.vocabulary)}

    def encode_split(self, examples: Sequence[AgreementExample]) -> ArraySplit:
        raise NotImplementedError

    @property
    def is_paper_data(self) -> bool:
        """Whether the paper's numbers compare with this task's (its data)."""
        return self.source.is_paper_data

    def eval_examples(self, name: str, data_dir) -> List[AgreementExample]:
        if name == "sva/test":
            return self._load_source(data_dir)["test"]
        if name.startswith(LINZEN_SIMPLE_PREFIX):
            return [e for k in linzen_simple_attractors(name)
                    for e in self._linzen_simple_test(k, data_dir)]
        if name == "sva/linzen_testset":
            if self.source.name == "linzen_small":
                print("warning: sva/linzen_testset contains the linzen_small training "
                      "sentences; compare models on sva/test instead.", flush=True)
            return testsets.load_linzen_testset(data_dir)
        return testsets.load_gulordava(data_dir)

    def _linzen_simple_test(self, k: int, data_dir) -> List[AgreementExample]:
        """numpred.test.<k>, read once (`linzen_simple/test` repeats the five)."""
        if k not in self._linzen_simple_tests:
            max_bad = getattr(self.source, "max_bad_fraction", linzen_simple.MAX_BAD_FRACTION)
            self._linzen_simple_tests[k] = linzen_simple.load_test(k, data_dir, max_bad)
        return self._linzen_simple_tests[k]

    def _require_vocabulary(self):
        if self.vocabulary is None:
            raise UserError("This SVA task has no vocabulary yet: restore it from the run "
                            "with SvaClassificationTask.from_run_dir(run_dir) (or "
                            "load_assets), or load its training splits first.")

    def evaluate(self, model, data_dir, eval_sets):
        self._require_vocabulary()
        return {name: self.evaluate_examples(model, self.eval_examples(name, data_dir), name)
                for name in self.expand_eval_sets(eval_sets)}

    def evaluate_examples(self, model, examples, eval_set: str = "sva/test"
                          ) -> Dict[str, Optional[float]]:
        raise NotImplementedError

    def _accuracies(self, correct, examples, eval_set: str) -> Dict[str, Optional[float]]:
        """The agreement accuracies of `correct` (bool per example), grouped
        as `eval_set` is (its attractor groups)."""
        meta = AgreementMetadata.of(examples)
        metrics = agreement.agreement_accuracies(
            correct, meta.n_intervening, meta.n_diff_intervening, meta.distance,
            labels=np.array([e.label for e in examples], np.int64),
            attractor_groups=attractor_groups(eval_set))
        if not self.report_distance_groups:
            metrics = {k: v for k, v in metrics.items() if "_distance_" not in k}
        return metrics

    def scored_examples(self, examples: Sequence[AgreementExample]) -> List[AgreementExample]:
        """The examples an eval set's metrics count (all, for classification)."""
        return list(examples)

    def baseline_metrics(self, data_dir, eval_sets: Sequence[str]
                         ) -> Dict[str, Dict[str, Dict[str, Optional[float]]]]:
        """Constant guesses scored by the same metric code, from labels alone.

        Returns:
          {guess: {eval set: accuracies}} for the guesses of
          `CONSTANT_GUESSES`: always plural, always singular, and the
          training split's majority number (singular on a tie). A guess has
          no probabilities, so it gets no ECE or NLL.
        """
        self._require_vocabulary()
        train_labels = np.array([e.label for e in self._load_source(data_dir)["train"]])
        majority = PLURAL if 2 * int(train_labels.sum()) > len(train_labels) else SINGULAR
        guesses = dict(zip(CONSTANT_GUESSES, (PLURAL, SINGULAR, majority)))
        baselines = {guess: {} for guess in guesses}
        for name in self.expand_eval_sets(eval_sets):
            examples = self.scored_examples(self.eval_examples(name, data_dir))
            labels = np.array([e.label for e in examples], np.int64)
            for guess, label in guesses.items():
                baselines[guess][name] = self._accuracies(labels == label, examples, name)
        return baselines

    def save_assets(self, run_dir):
        self._require_vocabulary()
        self.vocabulary.save(os.path.join(run_dir, VOCAB_FILENAME))
        io_utils.write_json_atomic(os.path.join(run_dir, TASK_FILE), {
            "task": self.name, "source": self.source.config(), "max_length": self.max_length,
            "vocabulary_size": len(self.vocabulary)})

    def load_assets(self, run_dir: str) -> None:
        self.vocabulary = Vocabulary.load(os.path.join(run_dir, VOCAB_FILENAME))

    def _text_endpoint(self, model: keras.Model, run_dir: str, input_name: str,
                       sentinel: str, sentinel_first: bool):
        """(serve, signature): tf.string [None] raw texts, split on whitespace and
        normalised like the training data, with `sentinel` put first (kept
        within max_length from the start) or last (from the end), to the
        model's float32 logits."""
        import tensorflow as tf

        lookup = self._string_lookup(model, run_dir)
        max_length = self.max_length

        def serve(texts):
            words = normalize_words_tf(tf.strings.split(texts))
            mark = tf.RaggedTensor.from_tensor(tf.fill(tf.stack([tf.shape(texts)[0], 1]),
                                                       sentinel))
            if sentinel_first:
                tokens = tf.concat([mark, words], axis=1)[:, :max_length]
            else:
                tokens = tf.concat([words, mark], axis=1)[:, -max_length:]
            ids = tf.cast(lookup(tokens).to_tensor(default_value=0), tf.int32)
            return {"logits": tf.cast(model(ids, training=False), tf.float32)}

        return serve, [tf.TensorSpec([None], tf.string, name=input_name)]

    def _string_lookup(self, model: keras.Model, run_dir: str):
        """A StringLookup with the run's ids (<pad> 0, <unk> 1, then the rest).

        It is attached to the model because ExportArchive saves only the
        lookup tables of layers reachable from the tracked model.
        """
        vocabulary = Vocabulary.load(os.path.join(run_dir, VOCAB_FILENAME))
        lookup = keras.layers.StringLookup(vocabulary=vocabulary.tokens[2:], mask_token=PAD,
                                           oov_token=UNK, name="vocabulary_lookup")
        model.vocabulary_lookup = lookup
        return lookup
