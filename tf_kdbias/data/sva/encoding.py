"""Agreement examples to padded id arrays for the two SVA objectives.

- Classification (docs/PAPER_SETUP.md, "Scenario 1"): the tokens before the
  verb, then `<eos>` at the verb's position; label = verb number (VBZ = 0, VBP = 1). Prefixes longer
  than `max_length` keep their last tokens (those nearest the verb).
- Language modelling: `<bos> sentence <eos>`, inputs = all but the last
  token, labels = all but the first, weights = 1 on real tokens. The verb is
  predicted at input position `verb_index` (the `<bos>` shifts by one).
  Sentences longer than `max_length` are cut at the end.

Arrays are right-padded with 0 (`<pad>`) to the longest row.
"""

import dataclasses
from typing import List, Optional, Sequence

import numpy as np

from tf_kdbias.data.sva.example import AgreementExample
from tf_kdbias.data.sva.vocabulary import BOS, EOS, UNK_ID, Vocabulary
from tf_kdbias.metrics.agreement import UNKNOWN


@dataclasses.dataclass
class AgreementMetadata:
    """What the agreement metrics group by, one entry per example (-1 = unknown)."""

    n_intervening: np.ndarray
    n_diff_intervening: np.ndarray
    distance: Optional[np.ndarray]  # None when the source has no distances.

    @classmethod
    def of(cls, examples: Sequence[AgreementExample]) -> "AgreementMetadata":
        def column(values):
            return np.array([UNKNOWN if v is None else v for v in values], np.int64)

        distances = [e.distance for e in examples]
        return cls(column(e.n_intervening for e in examples),
                   column(e.n_diff_intervening for e in examples),
                   None if all(d is None for d in distances) else column(distances))


@dataclasses.dataclass
class LanguageModelArrays:
    """Next-token arrays plus what agreement scoring needs at the verb."""

    inputs: np.ndarray        # int32 [N, L]
    labels: np.ndarray        # int32 [N, L]
    weights: np.ndarray       # float32 [N, L], 1 on real tokens
    verb_positions: np.ndarray  # int32 [N], input position predicting the verb
    correct_ids: np.ndarray   # int32 [N]
    wrong_ids: np.ndarray     # int32 [N], UNK_ID where the wrong form is unknown/OOV


def pad_rows(rows: Sequence[np.ndarray], min_length: int = 1) -> np.ndarray:
    """Right-pads int32 rows with 0 to the longest one."""
    length = max([min_length] + [len(r) for r in rows])
    out = np.zeros((len(rows), length), np.int32)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def classification_tokens(example: AgreementExample) -> List[str]:
    return list(example.prefix) + [EOS]


def encode_classification(examples: Sequence[AgreementExample], vocabulary: Vocabulary,
                          max_length: Optional[int] = None):
    """(inputs int32 [N, L], labels int32 [N]) of the classification task."""
    rows = []
    for example in examples:
        tokens = classification_tokens(example)
        if max_length is not None and len(tokens) > max_length:
            tokens = tokens[-max_length:]
        rows.append(vocabulary.encode(tokens))
    labels = np.array([e.label for e in examples], np.int32)
    return pad_rows(rows), labels


def encode_language_model(examples: Sequence[AgreementExample], vocabulary: Vocabulary,
                          max_length: Optional[int] = None) -> LanguageModelArrays:
    """Next-token arrays of `<bos> sentence <eos>` and verb-scoring ids."""
    inputs, labels = [], []
    for example in examples:
        ids = vocabulary.encode([BOS] + list(example.tokens) + [EOS])
        if max_length is not None and len(ids) > max_length + 1:
            ids = ids[:max_length + 1]
        inputs.append(ids[:-1])
        labels.append(ids[1:])
    inputs, labels = pad_rows(inputs), pad_rows(labels)
    # A verb cut off by max_length lies past its row's real tokens; scoring
    # skips it.
    verb_positions = np.array([e.verb_index for e in examples], np.int32)
    correct_ids = np.array([vocabulary.token_id(e.correct_form) for e in examples], np.int32)
    wrong_ids = np.array([vocabulary.token_id(e.wrong_form) if e.wrong_form else UNK_ID
                          for e in examples], np.int32)
    return LanguageModelArrays(inputs, labels, (labels != 0).astype(np.float32),
                               verb_positions, correct_ids, wrong_ids)
