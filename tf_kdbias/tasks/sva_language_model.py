"""Subject-verb agreement scored by a language model (`SvaLanguageModelTask`)."""

import gin
import keras
import numpy as np
from keras import ops

from tf_kdbias.data.sva.encoding import (LanguageModelArrays, encode_language_model)
from tf_kdbias.data.sva.eval_set_names import LINZEN_SIMPLE_PREFIX
from tf_kdbias.data.sva.vocabulary import BOS, UNK_ID
from tf_kdbias.distill import losses
from tf_kdbias.errors import UserError
from tf_kdbias.tasks.base import ArraySplit, register_task
from tf_kdbias.metrics import agreement
from tf_kdbias.tasks.sva import SvaTask


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

    def _require_sentences(self):
        if not self.source.has_sentences:
            raise UserError(f"The {self.source.name} source holds only the words before the "
                            "verb, not whole sentences: a language model cannot train on it. "
                            "Use it with the classifiers (lstm.gin, transformer*.gin).")

    def expand_eval_sets(self, names):
        expanded = super().expand_eval_sets(names)
        sets_without_sentences = [n for n in expanded if n.startswith(LINZEN_SIMPLE_PREFIX)]
        if sets_without_sentences:
            raise UserError(f"{', '.join(sets_without_sentences)} hold only the words before "
                            "the verb: no language-model scoring. Evaluate the LM on sva/... "
                            "sets, or those sets with a classifier.")
        return expanded

    def load_training_splits(self, data_dir, seed):
        self._require_sentences()
        return super().load_training_splits(data_dir, seed)

    def training_loss(self):
        # Averages over real tokens only (sample weights mark them).
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight")

    def encode_split(self, examples):
        arrays = encode_language_model(examples, self.vocabulary, self.max_length)
        return ArraySplit(arrays.inputs, arrays.labels, arrays.weights)

    @staticmethod
    def _scored_mask(arrays: LanguageModelArrays) -> np.ndarray:
        """Examples whose two verb forms are in the vocabulary and whose verb
        was not cut off by max_length."""
        lengths = (arrays.inputs != 0).sum(axis=1)  # Right padding, id 0.
        return ((arrays.correct_ids != UNK_ID) & (arrays.wrong_ids != UNK_ID)
                & (arrays.verb_positions < lengths))

    def scored_examples(self, examples):
        arrays = encode_language_model(examples, self.vocabulary, self.max_length)
        return [e for e, keep in zip(examples, self._scored_mask(arrays)) if keep]

    def evaluate_examples(self, model, examples, eval_set="sva/test"):
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
        scored = self._scored_mask(arrays)
        scored_examples = [e for e, keep in zip(examples, scored) if keep]
        metrics = self._accuracies(verb_logits[scored, 0] > verb_logits[scored, 1],
                                   scored_examples, eval_set)
        metrics["count"], metrics["count_scored"] = len(examples), int(scored.sum())
        # ECE of the two-way choice, "class 0" being the correct form.
        metrics["ece"] = (agreement.binary_ece(verb_logits[scored], np.zeros(scored.sum()))
                          if scored.any() else None)
        metrics["ece_paper"] = agreement.binary_ece_paper(verb_logits[scored],
                                                          np.zeros(scored.sum()))
        metrics["perplexity"] = agreement.perplexity(total_nll, num_tokens)
        return metrics

    def serving_endpoint(self, model, run_dir):
        """tf.string [None] raw sentences -> {'logits': [None, T, vocabulary]}
        of `<bos> sentence` (position t predicts word t)."""
        return self._text_endpoint(model, run_dir, "sentences", BOS, sentinel_first=True)
