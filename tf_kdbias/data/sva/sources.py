"""Where SVA training data comes from, chosen in gin (source_*.gin files).

Each source gives train/validation/test lists of `AgreementExample`s and a
vocabulary built from its train split:
- `GrammarSource`: the synthetic agreement grammar (offline, any size).
- `LinzenSource`: Linzen et al.'s 1.5M-sentence file via the TFDS builder.
- `LinzenSmallSource`: the 7489 real test sentences split 80/10/10.
- `LinzenSimpleSource`: Linzen et al.'s "simple" release (natural text,
  words before the verb only): a 90/10 split of its `numpred.val`.
"""

from typing import Dict, List, Optional, Sequence

import gin

from tf_kdbias.data.sva import linzen
from tf_kdbias.data.sva.example import AgreementExample
from tf_kdbias.data.sva.grammar import WRONG_VERB_COLUMN, AgreementGrammar
from tf_kdbias.data.sva.vocabulary import Vocabulary
from tf_kdbias.errors import UserError

Splits = Dict[str, List[AgreementExample]]


class AgreementSource:
    """Base class: `load(data_dir)` -> (splits, vocabulary)."""

    name = "source"
    # False when examples hold only the words before the verb (no language model).
    has_sentences = True
    # True only for the paper's own data, the full Linzen file: tables show
    # the paper's numbers beside ours only then.
    is_paper_data = False

    def load(self, data_dir: Optional[str]):
        splits = self.load_splits(data_dir)
        return splits, Vocabulary.build(e.tokens for e in splits["train"])

    def load_splits(self, data_dir: Optional[str]) -> Splits:
        raise NotImplementedError

    def config(self) -> Dict:
        """A JSON description, saved with each run."""
        return {"name": self.name}


@gin.configurable
class GrammarSource(AgreementSource):
    """Sentences of the synthetic agreement grammar (`grammar.py`).

    The data seed is fixed by the source, not by the run, so teachers and
    students (and every seed of a table) see the same sentences.

    Args:
      num_train: training sentences.
      num_validation: validation sentences.
      num_test: test sentences (eval set `sva/test`).
      seed: the grammar's seed.
      grammar: an `AgreementGrammar` (None: the gin-configured default).
      test_grammar: a different grammar for the test split only (e.g. deeper,
        with more attractors than training ever shows), to test
        generalisation; None: the test split comes from `grammar`. In gin:
        `GrammarSource.test_grammar = @test/AgreementGrammar()`.

    Example:

    >>> splits, vocab = GrammarSource(num_train=100, num_validation=10, num_test=10).load(None)
    >>> len(splits["train"]), vocab.tokens[:4]
    (100, ['<pad>', '<unk>', '<bos>', '<eos>'])
    """

    name = "grammar"

    def __init__(self, num_train: int = 10000, num_validation: int = 1000,
                 num_test: int = 5000, seed: int = 0,
                 grammar: Optional[AgreementGrammar] = None,
                 test_grammar: Optional[AgreementGrammar] = None):
        self.sizes = {"train": num_train, "validation": num_validation, "test": num_test}
        self.seed = seed
        self.grammar = grammar or AgreementGrammar()
        self.test_grammar = test_grammar

    def load_splits(self, data_dir):
        del data_dir  # Generated, nothing to read.
        sizes = self.sizes
        num_rows = sum(sizes.values()) if self.test_grammar is None else (
            sizes["train"] + sizes["validation"])
        examples = _grammar_examples(self.grammar, num_rows, self.seed)
        if self.test_grammar is not None:
            # Another seed, so no test sentence is a copy of a training one by design.
            examples += _grammar_examples(self.test_grammar, sizes["test"], self.seed + 1)
        splits, start = {}, 0
        for name, size in sizes.items():
            splits[name] = examples[start:start + size]
            start += size
        return splits

    def config(self):
        return {"name": self.name, "sizes": self.sizes, "seed": self.seed,
                "grammar": vars(self.grammar),
                "test_grammar": vars(self.test_grammar) if self.test_grammar else None}


def _grammar_examples(grammar: AgreementGrammar, num_rows: int,
                      seed: int) -> List[AgreementExample]:
    return [linzen.row_to_example(linzen.validate_row(row), wrong_form=row[WRONG_VERB_COLUMN])
            for row in grammar.generate(num_rows, seed)]


@gin.configurable
class LinzenSource(AgreementSource):
    """Linzen et al. (2016): `<data_dir>/sva/linzen2016/` or a download.

    Args:
      download: download the file when it is not in the data dir.
      max_bad_fraction: largest fraction of malformed rows skipped.
      train_size: keep only the first this many (shuffled) training rows.
    """

    name = "linzen"

    def __init__(self, download: bool = True, max_bad_fraction: float = 0.01,
                 train_size: Optional[int] = None):
        self.download = download
        self.max_bad_fraction = max_bad_fraction
        self.train_size = train_size

    def load(self, data_dir):
        from tf_kdbias.data.sva.linzen_builder import load_linzen_splits
        splits, vocabulary = load_linzen_splits(data_dir, download=self.download,
                                                max_bad_fraction=self.max_bad_fraction)
        if self.train_size is not None:
            splits["train"] = splits["train"][:self.train_size]
        return splits, vocabulary

    def load_splits(self, data_dir):
        return self.load(data_dir)[0]

    def config(self):
        return {"name": self.name, "train_size": self.train_size}

    @property
    def is_paper_data(self):
        return self.train_size is None  # A cut training split is not the paper's.


@gin.configurable
class LinzenSmallSource(AgreementSource):
    """The 7489 real Linzen test sentences, split 80/10/10 with seed 42.

    Args:
      seed: shuffling seed of the split.
      fractions: train, validation and test fractions.
    """

    name = "linzen_small"

    def __init__(self, seed: int = 42, fractions: Sequence[float] = (0.8, 0.1, 0.1)):
        self.seed = seed
        self.fractions = tuple(fractions)

    def load_splits(self, data_dir):
        from tf_kdbias.data.sva.testsets import linzen_small_splits
        return linzen_small_splits(data_dir, seed=self.seed, fractions=self.fractions)

    def config(self):
        return {"name": self.name, "seed": self.seed, "fractions": list(self.fractions)}


@gin.configurable
class LinzenSimpleSource(AgreementSource):
    """Linzen et al.'s "simple" release (`<data_dir>/sva/linzen_simple/`).

    Train and validation are a seeded split of `numpred.val` (natural text,
    words before the verb; `linzen_simple.py`); the validation part is also
    the source's test split (`sva/test`), the only natural-distribution
    test. The attractor test files are the eval sets `linzen_simple/test_<k>`.

    Args:
      seed: shuffling seed of the split.
      validation_fraction: share of `numpred.val` held out.
      max_train_examples: keep only the first this many (shuffled) training
        examples (None: all), e.g. for a quick check of the pipeline.
      max_bad_fraction: largest fraction of malformed lines skipped per file.
    """

    name = "linzen_simple"
    has_sentences = False

    def __init__(self, seed: int = 42, validation_fraction: float = 0.1,
                 max_train_examples: Optional[int] = None, max_bad_fraction: float = 0.01):
        self.seed = seed
        self.validation_fraction = validation_fraction
        self.max_train_examples = max_train_examples
        self.max_bad_fraction = max_bad_fraction

    def load_splits(self, data_dir):
        from tf_kdbias.data.sva import linzen_simple
        examples = linzen_simple.load_natural(data_dir, self.max_bad_fraction)
        train, held_out = linzen_simple.split_train_validation(examples, self.seed,
                                                               self.validation_fraction)
        if self.max_train_examples is not None:
            train = train[:self.max_train_examples]
        return {"train": train, "validation": held_out, "test": held_out}

    def config(self):
        return {"name": self.name, "seed": self.seed,
                "validation_fraction": self.validation_fraction,
                "max_train_examples": self.max_train_examples,
                "max_bad_fraction": self.max_bad_fraction}


SOURCES = {cls.name: cls for cls in (GrammarSource, LinzenSource, LinzenSmallSource,
                                     LinzenSimpleSource)}


def source_from_config(config: Dict) -> AgreementSource:
    """Rebuilds a source from `config()` (the grammar's settings included)."""
    config = dict(config)
    name = config.pop("name", None)
    if name not in SOURCES:
        raise UserError(f"Unknown SVA source {name!r} in a run's sva_task.json; known: "
                        f"{sorted(SOURCES)}.")
    if name == "grammar":
        sizes = config.get("sizes", {})
        return GrammarSource(num_train=sizes.get("train", 10000),
                             num_validation=sizes.get("validation", 1000),
                             num_test=sizes.get("test", 5000), seed=config.get("seed", 0),
                             grammar=AgreementGrammar(**config.get("grammar", {})),
                             test_grammar=(AgreementGrammar(**config["test_grammar"])
                                           if config.get("test_grammar") else None))
    if name == "linzen":
        return LinzenSource(train_size=config.get("train_size"))
    if name == "linzen_simple":
        return LinzenSimpleSource(**config)
    return LinzenSmallSource(seed=config.get("seed", 42),
                             fractions=config.get("fractions", (0.8, 0.1, 0.1)))
