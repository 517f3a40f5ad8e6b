"""Subject-verb agreement tasks: verb-number classification and language modelling.

Both read a gin-selected `AgreementSource` (gin_configs/sva/source_*.gin),
build the vocabulary from its train split, bind the vocabulary size into the
SVA model builders, and evaluate on named sets:

- `sva/test`: the source's own test split;
- `sva/linzen_testset`: the 7489 real sentences of <data_dir>/sva/linzen_testset
  (no distances: D-accuracy is not available there);
- `sva/gulordava2018`: the 410 sentences of <data_dir>/sva/gulordava2018_en.

Metrics (metrics/agreement.py): micro_accuracy, d_accuracy, a_accuracy,
accuracy_attractors_<k>, count_attractors_<k>, ece (20 bins), and nll
(classification) or perplexity (language model).

A run directory gets `vocab.txt` and `sva_task.json` (the source), from which
`from_run_dir` restores the task to evaluate or export a finished run.
"""

import os
from typing import Dict, List, Optional, Sequence

import gin
import keras
import numpy as np
from keras import ops

from tf_kdbias import io_utils
from tf_kdbias.data.sva import testsets
from tf_kdbias.data.sva.encoding import (AgreementMetadata, classification_tokens,
                                         encode_classification, encode_language_model)
from tf_kdbias.data.sva.eval_set_names import expand_sva_eval_sets
from tf_kdbias.data.sva.example import AgreementExample
from tf_kdbias.data.sva.sources import AgreementSource, GrammarSource, source_from_config
from tf_kdbias.data.sva.vocabulary import BOS, EOS, PAD, UNK, UNK_ID, VOCAB_FILENAME, Vocabulary
from tf_kdbias.distill import losses
from tf_kdbias.errors import UserError
from tf_kdbias.experiments.tasks import ArraySplit, Task, register_task
from tf_kdbias.metrics import agreement

TASK_FILE = "sva_task.json"
CLASSIFIER_BUILDERS = ("build_lstm_classifier", "build_transformer_classifier",
                       "build_transformer_seq_classifier", "build_utransformer_seq_classifier")
LM_BUILDERS = ("build_lstm_lm", "build_transformer_lm")
# Longest encoded input: the Transformers' position tables (128) minus the
# classifier's CLS slot, with room to spare over the 72-token real sentences.
DEFAULT_MAX_LENGTH = 100


# Values this module bound, to tell them from a user's explicit binding.
_BOUND_BY_TASK: Dict[str, int] = {}


def bind_vocabulary_size(builders: Sequence[str], size: int) -> None:
    """Tells the gin-configured model builders the vocabulary size.

    The size is known only once the source is read, after gin parsing; the
    binding also lands in operative_config.gin. A different explicit binding
    is an error rather than silently overridden.
    """
    for builder in builders:
        key = f"{builder}.vocabulary_size"
        try:
            bound = gin.query_parameter(key)
        except ValueError:
            bound = None
        if bound is not None and bound != size and bound != _BOUND_BY_TASK.get(key):
            raise UserError(f"{key} = {bound} is bound in gin but the task's vocabulary has "
                            f"{size} tokens; remove the binding (the task sets it).")
        with gin.unlock_config():
            gin.bind_parameter(key, size)
        _BOUND_BY_TASK[key] = size


def predict_by_length(model: keras.Model, rows: List[np.ndarray], batch_size: int):
    """Model outputs per row, batching rows of similar length.

    Padding is masked, so padding each batch only to its own longest row
    changes nothing but the cost (a lot, on the 1.3M Linzen test rows).
    """
    order = np.argsort([len(r) for r in rows], kind="stable")
    outputs = [None] * len(rows)
    for start in range(0, len(rows), batch_size):
        batch_index = order[start:start + batch_size]
        length = max(1, max(len(rows[i]) for i in batch_index))
        batch = np.zeros((len(batch_index), length), np.int32)
        for j, i in enumerate(batch_index):
            batch[j, :len(rows[i])] = rows[i]
        predicted = np.asarray(model(batch, training=False))
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
    builders: Sequence[str] = ()

    def __init__(self, source: Optional[AgreementSource] = None,
                 max_length: int = DEFAULT_MAX_LENGTH, report_distance_groups: bool = False,
                 batch_size: int = 256):
        self.source = source or GrammarSource()
        self.max_length = max_length
        self.report_distance_groups = report_distance_groups
        self.batch_size = batch_size
        self.vocabulary: Optional[Vocabulary] = None
        self._splits = None

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
        bind_vocabulary_size(self.builders, len(self.vocabulary))
        return self.encode_split(splits["train"]), self.encode_split(splits["validation"])

    def encode_split(self, examples: Sequence[AgreementExample]) -> ArraySplit:
        raise NotImplementedError

    def eval_examples(self, name: str, data_dir) -> List[AgreementExample]:
        if name == "sva/test":
            return self._load_source(data_dir)["test"]
        if name == "sva/linzen_testset":
            if self.source.name == "linzen_small":
                print("warning: sva/linzen_testset contains the linzen_small training "
                      "sentences; compare models on sva/test instead.", flush=True)
            return testsets.load_linzen_testset(data_dir)
        return testsets.load_gulordava(data_dir)

    def _require_vocabulary(self):
        if self.vocabulary is None:
            raise UserError("This SVA task has no vocabulary yet: restore it from the run "
                            "with SvaClassificationTask.from_run_dir(run_dir) (or "
                            "load_assets), or load its training splits first.")

    def evaluate(self, model, data_dir, eval_sets):
        self._require_vocabulary()
        return {name: self.evaluate_examples(model, self.eval_examples(name, data_dir))
                for name in self.expand_eval_sets(eval_sets)}

    def evaluate_examples(self, model, examples) -> Dict[str, Optional[float]]:
        raise NotImplementedError

    def _accuracies(self, correct, examples) -> Dict[str, Optional[float]]:
        meta = AgreementMetadata.of(examples)
        metrics = agreement.agreement_accuracies(correct, meta.n_intervening,
                                                 meta.n_diff_intervening, meta.distance)
        if not self.report_distance_groups:
            metrics = {k: v for k, v in metrics.items() if "_distance_" not in k}
        return metrics

    def save_assets(self, run_dir):
        self._require_vocabulary()
        self.vocabulary.save(os.path.join(run_dir, VOCAB_FILENAME))
        io_utils.write_json_atomic(os.path.join(run_dir, TASK_FILE), {
            "task": self.name, "source": self.source.config(), "max_length": self.max_length,
            "vocabulary_size": len(self.vocabulary)})

    def load_assets(self, run_dir: str) -> None:
        self.vocabulary = Vocabulary.load(os.path.join(run_dir, VOCAB_FILENAME))

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


@register_task
@gin.configurable
class SvaClassificationTask(SvaTask):
    """Verb-number classification: tokens before the verb, then `<eos>` at the
    verb's position; label VBZ = 0, VBP = 1 (SETUP.md, Scenario 1).

    Args: see `SvaTask`.

    Example:

    >>> task = SvaClassificationTask(GrammarSource(num_train=200, num_validation=20))
    >>> train, validation = task.load_training_splits(None, seed=0)
    >>> train.inputs.dtype, train.labels[:3]
    (dtype('int32'), array([...], dtype=int32))
    """

    name = "sva_classification"
    builders = CLASSIFIER_BUILDERS

    def encode_split(self, examples):
        inputs, labels = encode_classification(examples, self.vocabulary, self.max_length)
        return ArraySplit(inputs, labels)

    def evaluate_examples(self, model, examples):
        rows = [self.vocabulary.encode(classification_tokens(e)[-self.max_length:])
                for e in examples]
        logits = np.stack(predict_by_length(model, rows, self.batch_size)).astype(np.float32)
        labels = np.array([e.label for e in examples], np.int32)
        metrics = self._accuracies(np.argmax(logits, axis=-1) == labels, examples)
        metrics["ece"] = agreement.binary_ece(logits, labels)
        metrics["nll"] = agreement.mean_nll(logits, labels)
        return metrics

    def serving_endpoint(self, model, run_dir):
        """tf.string [None] raw prefixes (whitespace-tokenised words before the
        verb) -> {'logits': float32 [None, 2]} (0 = singular, 1 = plural)."""
        import tensorflow as tf

        lookup = self._string_lookup(model, run_dir)
        max_length = self.max_length

        def serve(prefixes):
            words = tf.strings.split(tf.strings.lower(prefixes))
            eos = tf.RaggedTensor.from_tensor(
                tf.fill(tf.stack([tf.shape(prefixes)[0], 1]), EOS))
            tokens = tf.concat([words, eos], axis=1)[:, -max_length:]
            ids = tf.cast(lookup(tokens).to_tensor(default_value=0), tf.int32)
            return {"logits": tf.cast(model(ids, training=False), tf.float32)}

        return serve, [tf.TensorSpec([None], tf.string, name="prefixes")]


@register_task
@gin.configurable
class SvaLanguageModelTask(SvaTask):
    """Next-token prediction on `<bos> sentence <eos>`; agreement is right
    when the correct verb form's logit beats the wrong form's at the verb.

    Examples whose correct or wrong form is out of vocabulary (or unknown)
    are not scored; `count_scored` says how many were.

    Args: see `SvaTask`.
    """

    name = "sva_lm"
    builders = LM_BUILDERS

    def training_loss(self):
        # Averages over real tokens only (sample weights mark them).
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight")

    def encode_split(self, examples):
        arrays = encode_language_model(examples, self.vocabulary, self.max_length)
        return ArraySplit(arrays.inputs, arrays.labels, arrays.weights)

    def evaluate_examples(self, model, examples):
        arrays = encode_language_model(examples, self.vocabulary, self.max_length)
        rows = [row[row != 0] for row in arrays.inputs]  # Real tokens (right padding).
        batch_size = max(1, self.batch_size // 8)  # [B, T, V] logits are large.
        total_nll, num_tokens = 0.0, 0
        verb_logits = np.zeros((len(rows), 2), np.float32)
        order = np.argsort([len(r) for r in rows], kind="stable")
        for start in range(0, len(rows), batch_size):
            index = order[start:start + batch_size]
            logits = np.asarray(model(arrays.inputs[index][:, :max(len(rows[i]) for i in index)],
                                      training=False), np.float32)
            labels = arrays.labels[index][:, :logits.shape[1]]
            weights = arrays.weights[index][:, :logits.shape[1]]
            nll = losses.sparse_cross_entropy(labels, logits)
            total_nll += float(ops.sum(nll * weights))
            num_tokens += int(weights.sum())
            positions = np.minimum(arrays.verb_positions[index], logits.shape[1] - 1)
            at_verb = logits[np.arange(len(index)), positions]
            verb_logits[index, 0] = at_verb[np.arange(len(index)), arrays.correct_ids[index]]
            verb_logits[index, 1] = at_verb[np.arange(len(index)), arrays.wrong_ids[index]]
        scored = ((arrays.correct_ids != UNK_ID) & (arrays.wrong_ids != UNK_ID)
                  & (arrays.verb_positions < np.array([len(r) for r in rows])))
        scored_examples = [e for e, keep in zip(examples, scored) if keep]
        metrics = self._accuracies(verb_logits[scored, 0] > verb_logits[scored, 1],
                                   scored_examples)
        metrics["count"], metrics["count_scored"] = len(examples), int(scored.sum())
        # ECE of the two-way choice, "class 0" being the correct form.
        metrics["ece"] = (agreement.binary_ece(verb_logits[scored], np.zeros(scored.sum()))
                          if scored.any() else None)
        metrics["perplexity"] = agreement.perplexity(total_nll, num_tokens)
        return metrics

    def serving_endpoint(self, model, run_dir):
        """tf.string [None] raw sentences -> {'logits': [None, T, vocabulary]}
        of `<bos> sentence` (position t predicts word t)."""
        import tensorflow as tf

        lookup = self._string_lookup(model, run_dir)
        max_length = self.max_length

        def serve(sentences):
            words = tf.strings.split(tf.strings.lower(sentences))
            bos = tf.RaggedTensor.from_tensor(
                tf.fill(tf.stack([tf.shape(sentences)[0], 1]), BOS))
            tokens = tf.concat([bos, words], axis=1)[:, :max_length]
            ids = tf.cast(lookup(tokens).to_tensor(default_value=0), tf.int32)
            return {"logits": tf.cast(model(ids, training=False), tf.float32)}

        return serve, [tf.TensorSpec([None], tf.string, name="sentences")]

