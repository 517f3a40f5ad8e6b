"""Word normalisation shared by the SVA readers and the exported models.

Linzen et al.'s files replace words outside their 10k vocabulary by the
word's Penn Treebank tag (`NNS`, `NNP`, `IN`, ...). Real words are lower
case there, the placeholders upper case; lower-casing everything would merge
placeholders with real words (`IN` with "in", `CD` with "cd", `DT` with
"dt"). So real words are lower-cased and placeholders kept as they are.
"""

import re
import sys
from typing import Tuple

# The Penn Treebank's word-level tags (punctuation tags are unchanged by
# lower-casing, so they need no entry).
POS_PLACEHOLDERS = frozenset((
    "CC", "CD", "DT", "EX", "FW", "IN", "JJ", "JJR", "JJS", "LS", "MD", "NN", "NNS", "NNP",
    "NNPS", "PDT", "POS", "PRP", "PRP$", "RB", "RBR", "RBS", "RP", "SYM", "TO", "UH", "VB",
    "VBD", "VBG", "VBN", "VBP", "VBZ", "WDT", "WP", "WP$", "WRB"))
# The same set as one regular expression (RE2 syntax, for tf.strings).
POS_PLACEHOLDER_PATTERN = "|".join(re.escape(tag) for tag in sorted(POS_PLACEHOLDERS))


def normalize_token(token: str) -> str:
    """`token` lower-cased, unless it is a POS placeholder."""
    return token if token in POS_PLACEHOLDERS else token.lower()


def normalize_words(text: str) -> Tuple[str, ...]:
    """The whitespace tokens of `text`, normalised and interned (the large
    files repeat a small vocabulary)."""
    return tuple(sys.intern(normalize_token(t)) for t in text.split())


def normalize_words_tf(words):
    """`normalize_token` over a (ragged) tf.string tensor of words, for the
    exported models, which read raw text."""
    import tensorflow as tf

    def normalize(flat):
        keep = tf.strings.regex_full_match(flat, POS_PLACEHOLDER_PATTERN)
        return tf.where(keep, flat, tf.strings.lower(flat))

    return tf.ragged.map_flat_values(normalize, words)
