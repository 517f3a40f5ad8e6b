"""Subject-verb agreement as verb-number classification (`SvaClassificationTask`)."""

import gin
import numpy as np

from tf_kdbias.data.sva.encoding import classification_tokens, encode_classification
from tf_kdbias.data.sva.eval_set_names import (LINZEN_SIMPLE_ALL, LINZEN_SIMPLE_PREFIX,
                                               linzen_simple_attractors)
from tf_kdbias.data.sva.vocabulary import EOS
from tf_kdbias.tasks.base import ArraySplit, register_task
from tf_kdbias.metrics import agreement
from tf_kdbias.tasks.sva import SvaTask, predict_by_length


@register_task
@gin.configurable
class SvaClassificationTask(SvaTask):
    """Verb-number classification: tokens before the verb, then `<eos>` at the
    verb's position; label VBZ = 0, VBP = 1 (docs/PAPER_SETUP.md, "Scenario 1").

    Args: see `SvaTask`.

    Example:

    >>> task = SvaClassificationTask(GrammarSource(num_train=200, num_validation=20))
    >>> train, validation = task.load_training_splits(None, seed=0)
    >>> train.inputs.dtype, train.labels[:3]
    (dtype('int32'), array([...], dtype=int32))
    """

    name = "sva_classification"

    def encode_split(self, examples):
        inputs, labels = encode_classification(examples, self.vocabulary, self.max_length)
        return ArraySplit(inputs, labels)

    def evaluate(self, model, data_dir, eval_sets):
        self._require_vocabulary()
        results, logits = {}, {}
        for name in self.expand_eval_sets(eval_sets):
            examples = self.eval_examples(name, data_dir)
            parts = [f"{LINZEN_SIMPLE_PREFIX}test_{k}" for k in linzen_simple_attractors(name)] \
                if name == LINZEN_SIMPLE_ALL else []
            if parts and all(p in logits for p in parts):
                # linzen_simple/test is the five files in order: reuse their logits.
                logits[name] = np.concatenate([logits[p] for p in parts])
            else:
                logits[name] = self.predict_logits(model, examples)
            results[name] = self.metrics_of_logits(logits[name], examples, name)
        return results

    def predict_logits(self, model, examples) -> np.ndarray:
        """float32 [N, 2] logits of the examples."""
        rows = [self.vocabulary.encode(classification_tokens(e)[-self.max_length:])
                for e in examples]
        return np.stack(predict_by_length(model, rows, self.batch_size)).astype(np.float32)

    def metrics_of_logits(self, logits, examples, eval_set: str = "sva/test"):
        labels = np.array([e.label for e in examples], np.int32)
        metrics = self._accuracies(np.argmax(logits, axis=-1) == labels, examples, eval_set)
        metrics["ece"] = agreement.binary_ece(logits, labels)
        metrics["ece_paper"] = agreement.binary_ece_paper(logits, labels)
        metrics["nll"] = agreement.mean_nll(logits, labels)
        return metrics

    def evaluate_examples(self, model, examples, eval_set="sva/test"):
        return self.metrics_of_logits(self.predict_logits(model, examples), examples, eval_set)

    def serving_endpoint(self, model, run_dir):
        """tf.string [None] raw prefixes (whitespace-tokenised words before the
        verb) -> {'logits': float32 [None, 2]} (0 = singular, 1 = plural)."""
        return self._text_endpoint(model, run_dir, "prefixes", EOS, sentinel_first=False)
