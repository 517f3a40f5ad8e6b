"""One agreement example, the common currency of every SVA source."""

import dataclasses
from typing import Optional, Tuple

# Verb-number labels of the classification task: VBZ (singular) = 0,
# VBP (plural) = 1.
SINGULAR = 0
PLURAL = 1
VERB_POS_LABELS = {"VBZ": SINGULAR, "VBP": PLURAL}


@dataclasses.dataclass(frozen=True)
class AgreementExample:
    """A sentence with one present-tense verb that agrees with its subject.

    Args:
      tokens: the whitespace tokens of the sentence (no `<eos>`).
      verb_index: 0-based position of the verb in `tokens`.
      label: verb number, `SINGULAR` (VBZ) or `PLURAL` (VBP).
      correct_form: the verb as it appears in the sentence.
      wrong_form: the same verb in the other number (None when unknown).
      n_intervening: nouns between subject and verb (None when unknown).
      n_diff_intervening: those of them whose number differs from the
        subject's (None when unknown).
      distance: verb index minus subject index, in tokens (None when unknown).

    Example:

    >>> ex = AgreementExample(("the", "keys", "to", "the", "cabinet", "are"), 5,
    ...                       PLURAL, "are", "is", 1, 1, 4)
    >>> ex.n_attractors
    1
    """

    tokens: Tuple[str, ...]
    verb_index: int
    label: int
    correct_form: str
    wrong_form: Optional[str] = None
    n_intervening: Optional[int] = None
    n_diff_intervening: Optional[int] = None
    distance: Optional[int] = None

    @property
    def n_attractors(self) -> Optional[int]:
        """Attractor count, defined only when every intervening noun is one
        (docs/PAPER_SETUP.md, "Scenario 1": n_intervening == n_diff_intervening)."""
        if self.n_intervening is None or self.n_intervening != self.n_diff_intervening:
            return None
        return self.n_intervening

    @property
    def prefix(self) -> Tuple[str, ...]:
        """The tokens before the verb."""
        return self.tokens[:self.verb_index]
