"""A seeded synthetic agreement grammar that writes Linzen-schema rows.

A sentence is

    fronted* [opening] the [adj] HEAD modifier* [adverb] VERB continuation .

where each modifier carries one intervening noun: a prepositional phrase
("near the doors"), an object relative clause ("that the doors hide", whose
own verb agrees with the inner noun) or a subject relative clause ("that hide
the doors", whose verb agrees with the noun it modifies). A modifier attaches
to the head or, nested, to the previous modifier's noun. The main verb agrees
with the head, so the labels are right by construction; the intervening
nouns of the other number are the attractors.

Fronted phrases ("behind the doors ,", "while the dogs sleep ,", whose verb
agrees with its own noun) move the subject to a position that varies from
sentence to sentence and put nouns -- and verbs -- of either number before it,
so neither "the first noun" nor "a fixed position" finds the subject. They
are not between subject and verb, so they never count as intervening.

Rows carry Linzen's 18 columns (1-based indices) plus `wrong_verb`, the verb
in the other number, for language-model scoring.
"""

import dataclasses
import random
from typing import Dict, List, Optional, Sequence, Tuple

import gin

from tf_kdbias.data.sva import lexicon
from tf_kdbias.data.sva.linzen import LINZEN_COLUMNS
from tf_kdbias.errors import UserError

WRONG_VERB_COLUMN = "wrong_verb"
MODIFIER_KINDS = ("pp", "object_relative", "subject_relative")


@dataclasses.dataclass
class _Word:
    text: str
    tag: str
    plural: Optional[bool] = None  # Set for nouns.


@gin.configurable
@dataclasses.dataclass
class AgreementGrammar:
    """Generates agreement sentences with a controlled number of attractors.

    Args:
      intervening_distribution: probabilities of 0, 1, 2, ... intervening
        nouns (modifiers) between subject and verb; the default is skewed like
        natural text: mostly none, some 1-4.
      all_attractors_probability: chance that every intervening noun takes
        the other number than the head (a clean attractor example);
        otherwise each noun's number is a coin flip.
      max_depth: deepest nesting of modifiers (1 = all attach to the head).
      nesting_probability: chance that a modifier attaches to the previous
        modifier's noun rather than to the head (within `max_depth`).
      modifier_weights: relative frequency of pp, object_relative and
        subject_relative modifiers.
      adjective_probability: chance of an adjective before each noun.
      adverb_probability: chance of an adverb right before the main verb.
      opening_probability: chance of an opening like "we know that".
      fronted_distribution: probabilities of 0, 1, 2, ... fronted phrases
        before the subject (default: none).
      fronted_clause_probability: chance that a fronted phrase is a clause
        with its own agreeing verb ("while the dogs sleep ,") rather than a
        prepositional phrase ("behind the doors ,").
      fronted_attractor_probability: chance that a fronted noun takes the
        other number than the head (otherwise the head's number).

    Example:

    >>> rows = AgreementGrammar().generate(num_sentences=3, seed=0)
    >>> rows[0]["verb_pos"] in ("VBZ", "VBP")
    True
    """

    intervening_distribution: Sequence[float] = (0.5, 0.2, 0.15, 0.1, 0.05)
    all_attractors_probability: float = 0.6
    max_depth: int = 2
    nesting_probability: float = 0.3
    modifier_weights: Sequence[float] = (0.6, 0.2, 0.2)
    adjective_probability: float = 0.2
    adverb_probability: float = 0.2
    opening_probability: float = 0.2
    fronted_distribution: Sequence[float] = (1.0,)
    fronted_clause_probability: float = 0.5
    fronted_attractor_probability: float = 0.5

    def __post_init__(self):
        for name in ("intervening_distribution", "fronted_distribution"):
            weights = getattr(self, name)
            if not weights or min(weights) < 0 or sum(weights) <= 0:
                raise UserError(f"AgreementGrammar.{name} must be non-negative weights with a "
                                f"positive sum; got {weights}.")
        for name in ("fronted_clause_probability", "fronted_attractor_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UserError(f"AgreementGrammar.{name} must be a probability in [0, 1]; "
                                f"got {getattr(self, name)}.")
        if len(self.modifier_weights) != len(MODIFIER_KINDS):
            raise UserError(f"AgreementGrammar.modifier_weights needs one weight per kind "
                            f"{MODIFIER_KINDS}; got {self.modifier_weights}.")
        if self.max_depth < 1:
            raise UserError(f"AgreementGrammar.max_depth must be >= 1; got {self.max_depth}.")

    def generate(self, num_sentences: int, seed: int) -> List[Dict[str, object]]:
        """`num_sentences` rows; the same seed gives the same rows."""
        rng = random.Random(seed)
        return [self._sentence(rng) for _ in range(num_sentences)]

    # A sentence is assembled as a list of words; bookkeeping reads it back.
    def _sentence(self, rng: random.Random) -> Dict[str, object]:
        words: List[_Word] = []
        # The head's number is drawn before the fronted phrases (whose nouns
        # depend on it) only when fronting is configured, so grammars without
        # it give exactly the sentences they gave before it existed.
        fronting = len(self.fronted_distribution) > 1
        if fronting:
            head_plural = rng.random() < 0.5
            self._fronted(rng, words, head_plural)
        if rng.random() < self.opening_probability:
            words += [_Word(w, lexicon.OPENING_TAGS[w]) for w in rng.choice(lexicon.OPENINGS)]
        if not fronting:
            head_plural = rng.random() < 0.5
        subj_position = self._noun_phrase(rng, words, head_plural)
        intervening_plurals = self._intervening_numbers(rng, head_plural)
        depth = self._modifiers(rng, words, head_plural, intervening_plurals)
        if rng.random() < self.adverb_probability:
            words.append(_Word(rng.choice(lexicon.ADVERBS), "RB"))
        verb_position = len(words)
        verb, wrong_verb, transitive = self._main_verb(rng, head_plural)
        words.append(_Word(verb, "VBP" if head_plural else "VBZ"))
        self._continuation(rng, words, transitive)
        words.append(_Word(".", "."))
        return _linzen_row(words, subj_position, verb_position, wrong_verb, depth,
                           has_rel=any(w.tag == "WDT" for w in words[:verb_position]))

    def _fronted(self, rng: random.Random, words: List[_Word], head_plural: bool) -> None:
        """Appends the fronted phrases, each ending in a comma."""
        count = rng.choices(range(len(self.fronted_distribution)),
                            weights=self.fronted_distribution)[0]
        for _ in range(count):
            plural = head_plural != (rng.random() < self.fronted_attractor_probability)
            if rng.random() < self.fronted_clause_probability:
                words.append(_Word(rng.choice(lexicon.SUBORDINATORS), "IN"))
                self._noun_phrase(rng, words, plural)
                singular_form, plural_form = rng.choice(lexicon.INTRANSITIVE_VERBS)
                words.append(_Word(plural_form if plural else singular_form,
                                   "VBP" if plural else "VBZ"))  # Agrees with its own noun.
            else:
                words.append(_Word(rng.choice(lexicon.PREPOSITIONS), "IN"))
                self._noun_phrase(rng, words, plural)
            words.append(_Word(",", ","))

    def _intervening_numbers(self, rng: random.Random, head_plural: bool) -> List[bool]:
        """The number (plural?) of each intervening noun."""
        count = rng.choices(range(len(self.intervening_distribution)),
                            weights=self.intervening_distribution)[0]
        if rng.random() < self.all_attractors_probability:
            return [not head_plural] * count
        return [rng.random() < 0.5 for _ in range(count)]

    def _noun_phrase(self, rng: random.Random, words: List[_Word], plural: bool) -> int:
        """Appends "the [adj] noun"; returns the noun's position."""
        words.append(_Word("the", "DT"))
        if rng.random() < self.adjective_probability:
            words.append(_Word(rng.choice(lexicon.ADJECTIVES), "JJ"))
        singular_form, plural_form = rng.choice(lexicon.NOUNS)
        words.append(_Word(plural_form if plural else singular_form,
                           "NNS" if plural else "NN", plural))
        return len(words) - 1

    def _modifiers(self, rng: random.Random, words: List[_Word], head_plural: bool,
                   noun_plurals: List[bool]) -> int:
        """Appends one modifier per intervening noun; returns the deepest nesting."""
        attach_plural, depth, max_depth = head_plural, 0, 0
        for plural in noun_plurals:
            nest = depth >= 1 and depth < self.max_depth and rng.random() < self.nesting_probability
            depth = depth + 1 if nest else 1
            if not nest:
                attach_plural = head_plural
            kind = rng.choices(MODIFIER_KINDS, weights=self.modifier_weights)[0]
            if kind == "pp":
                words.append(_Word(rng.choice(lexicon.PREPOSITIONS), "IN"))
                self._noun_phrase(rng, words, plural)
            elif kind == "object_relative":
                words.append(_Word("that", "WDT"))
                self._noun_phrase(rng, words, plural)
                self._verb(rng, words, plural)  # Agrees with the inner noun.
            else:
                words.append(_Word("that", "WDT"))
                self._verb(rng, words, attach_plural)  # Agrees with the modified noun.
                self._noun_phrase(rng, words, plural)
            attach_plural = plural
            max_depth = max(max_depth, depth)
        return max_depth

    @staticmethod
    def _verb(rng: random.Random, words: List[_Word], plural: bool) -> None:
        singular_form, plural_form = rng.choice(lexicon.TRANSITIVE_VERBS)
        words.append(_Word(plural_form if plural else singular_form, "VBP" if plural else "VBZ"))

    @staticmethod
    def _main_verb(rng: random.Random, plural: bool) -> Tuple[str, str, bool]:
        """(correct form, wrong form, transitive?) of the main verb."""
        transitive = rng.random() < 0.7
        singular_form, plural_form = rng.choice(
            lexicon.TRANSITIVE_VERBS if transitive else lexicon.INTRANSITIVE_VERBS)
        return ((plural_form, singular_form, transitive) if plural
                else (singular_form, plural_form, transitive))

    def _continuation(self, rng: random.Random, words: List[_Word], transitive: bool) -> None:
        """An object for transitive verbs; an adverb, a PP or nothing otherwise."""
        if transitive:
            self._noun_phrase(rng, words, rng.random() < 0.5)
            return
        choice = rng.random()
        if choice < 0.4:
            words.append(_Word(rng.choice(lexicon.ADVERBS), "RB"))
        elif choice < 0.8:
            words.append(_Word(rng.choice(lexicon.PREPOSITIONS), "IN"))
            self._noun_phrase(rng, words, rng.random() < 0.5)


def _noun_tags(words: Sequence[_Word]) -> str:
    return " ".join(w.tag for w in words if w.plural is not None)


def _linzen_row(words: List[_Word], subj_position: int, verb_position: int,
                wrong_verb: str, depth: int, has_rel: bool) -> Dict[str, object]:
    """Linzen's 18 columns (1-based indices) plus the wrong verb form."""
    head_plural = words[subj_position].plural
    intervening = [w for w in words[subj_position + 1:verb_position] if w.plural is not None]
    sentence = " ".join(w.text for w in words)
    row = {
        "sentence": sentence, "orig_sentence": sentence,
        "pos_sentence": " ".join(w.tag for w in words),
        "subj": words[subj_position].text, "verb": words[verb_position].text,
        "subj_pos": words[subj_position].tag, "has_rel": str(has_rel), "has_nsubj": "True",
        "verb_pos": words[verb_position].tag,
        "subj_index": subj_position + 1, "verb_index": verb_position + 1,
        "n_intervening": len(intervening),
        "last_intervening": intervening[-1].tag if intervening else "None",
        "n_diff_intervening": sum(w.plural != head_plural for w in intervening),
        "distance": verb_position - subj_position, "max_depth": depth,
        "all_nouns": _noun_tags(words), "nouns_up_to_verb": _noun_tags(words[:verb_position]),
        WRONG_VERB_COLUMN: wrong_verb,
    }
    assert set(LINZEN_COLUMNS) <= set(row)
    return row
