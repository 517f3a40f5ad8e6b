"""Word vocabularies with the special tokens first, saved as text files."""

import collections
from typing import Iterable, List, Optional, Sequence

import numpy as np

from tf_kdbias import io_utils
from tf_kdbias.errors import UserError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
# docs/PAPER_SETUP.md, "Scenario 1": specials first, so <pad> is id 0 (masked by every model).
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(4)
VOCAB_FILENAME = "vocab.txt"


class Vocabulary:
    """Maps whitespace tokens to ids; unknown tokens map to `<unk>`.

    Args:
      tokens: every token, the four specials (`<pad> <unk> <bos> <eos>`)
        first in that order.

    Example:

    >>> vocab = Vocabulary.build([["the", "keys", "are"], ["the", "key", "is"]])
    >>> vocab.encode(["the", "keys", "were"])
    array([4, 6, 1], dtype=int32)
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tuple(tokens[:len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise UserError(f"A vocabulary must start with {' '.join(SPECIAL_TOKENS)}; "
                            f"got {' '.join(tokens[:4])}. Rebuild it with Vocabulary.build.")
        if len(set(tokens)) != len(tokens):
            raise UserError("The vocabulary lists a token twice; rebuild it with "
                            "Vocabulary.build.")
        self.tokens: List[str] = tokens
        self.ids = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 1,
              max_size: Optional[int] = None) -> "Vocabulary":
        """Tokens of `sentences` by decreasing count (ties alphabetical)."""
        counts = collections.Counter(t for sentence in sentences for t in sentence)
        for special in SPECIAL_TOKENS:
            counts.pop(special, None)
        words = sorted((w for w, c in counts.items() if c >= min_count),
                       key=lambda w: (-counts[w], w))
        if max_size is not None:
            words = words[:max(0, max_size - len(SPECIAL_TOKENS))]
        return cls(list(SPECIAL_TOKENS) + words)

    @classmethod
    def load(cls, path: str) -> "Vocabulary":
        try:
            with open(path, encoding="utf-8") as f:
                return cls([line.rstrip("\n") for line in f])
        except OSError as e:
            raise UserError(f"Cannot read the vocabulary {path!r} ({e.strerror}); "
                            "point to a run's or dataset's vocab.txt.") from e

    def save(self, path: str) -> None:
        """One token per line, id = line number - 1."""
        io_utils.write_text_atomic(path, "\n".join(self.tokens) + "\n")

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.ids

    def token_id(self, token: str) -> int:
        return self.ids.get(token, UNK_ID)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        return np.array([self.token_id(t) for t in tokens], dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> List[str]:
        return [self.tokens[int(i)] for i in ids]
