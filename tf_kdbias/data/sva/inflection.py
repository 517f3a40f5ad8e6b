"""Singular/plural present-tense verb forms (VBZ <-> VBP).

The language-model task scores agreement by comparing the correct form with
the other-number form of the same verb, so it needs an inflection table. The
table is built from the data (the forms that occur tagged VBZ and VBP) and
pairs them with English spelling rules; a verb whose partner never occurs is
left out rather than guessed.
"""

from typing import Dict, Iterable, Optional, Tuple

# Verbs whose singular is not the plural plus a regular suffix.
IRREGULAR_SINGULAR_TO_PLURAL = {"is": "are", "has": "have", "was": "were", "does": "do",
                                "goes": "go", "'s": "'re"}


def regular_singulars(plural: str) -> Tuple[str, ...]:
    """The spellings a VBZ form of the VBP form `plural` may take."""
    candidates = [plural + "s", plural + "es"]
    if len(plural) > 1 and plural.endswith("y") and plural[-2] not in "aeiou":
        candidates.append(plural[:-1] + "ies")
    return tuple(candidates)


def is_singular_of(singular: str, plural: str) -> bool:
    """Whether `singular` is the VBZ form of the VBP form `plural`."""
    singular, plural = singular.lower(), plural.lower()
    if IRREGULAR_SINGULAR_TO_PLURAL.get(singular) == plural:
        return True
    return singular in regular_singulars(plural)


def singular_of_pair(form_a: str, form_b: str) -> Optional[str]:
    """Which of two forms of one verb is singular (None if neither fits)."""
    if is_singular_of(form_a, form_b):
        return form_a
    if is_singular_of(form_b, form_a):
        return form_b
    return None


class InflectionTable:
    """Maps a present-tense verb form to its other-number form.

    Args:
      singular_to_plural: VBZ form -> VBP form.

    Example:

    >>> table = InflectionTable.from_tagged_forms(["is", "runs"], ["are", "run", "eat"])
    >>> table.other_form("runs"), table.other_form("are"), table.other_form("eat")
    ('run', 'is', None)
    """

    def __init__(self, singular_to_plural: Dict[str, str]):
        self.singular_to_plural = dict(singular_to_plural)
        self.plural_to_singular = {p: s for s, p in self.singular_to_plural.items()}

    @classmethod
    def from_tagged_forms(cls, singular_forms: Iterable[str],
                          plural_forms: Iterable[str]) -> "InflectionTable":
        """Pairs forms seen tagged VBZ with forms seen tagged VBP."""
        plurals = set(plural_forms)
        pairs = {}
        for singular in sorted(set(singular_forms)):
            partners = [p for p in plurals if is_singular_of(singular, p)]
            if len(partners) == 1:
                pairs[singular] = partners[0]
        return cls(pairs)

    def other_form(self, form: str) -> Optional[str]:
        return self.singular_to_plural.get(form) or self.plural_to_singular.get(form)

    def __len__(self) -> int:
        return len(self.singular_to_plural)
