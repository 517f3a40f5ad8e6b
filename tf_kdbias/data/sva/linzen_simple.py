"""Linzen, Dupoux & Goldberg's "simple" number-prediction release.

`<data_dir>/sva/linzen_simple/` (see shared/data/README.md) holds, one
example per line, the verb's POS (`VBZ` singular, `VBP` plural), a tab, and
the sentence's words *before* the verb, rare words replaced by their POS tag:

- `numpred.val`: 15772 examples in the natural distribution (the release's
  1% validation split); split 90/10 here into train and a held-out part.
- `numpred.test.<k>`, k = 1..5: test examples with k attractors, every noun
  between subject and verb of the other number (homogeneous intervention).

There is no verb, subject index, distance or full sentence: classification
only, no D-accuracy. A malformed line (not two tab-separated fields, a label
other than VBZ/VBP, no words) is reported with its file and line and
skipped; more than `max_bad_fraction` of them is a `UserError`.
"""

import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

from tf_kdbias.data.paths import resolve_data_dir
from tf_kdbias.data.sva.example import VERB_POS_LABELS, AgreementExample
from tf_kdbias.data.sva.tokens import normalize_words
from tf_kdbias.errors import UserError

LINZEN_SIMPLE_DIR = os.path.join("sva", "linzen_simple")
TRAIN_FILE = "numpred.val"
ATTRACTOR_COUNTS = (1, 2, 3, 4, 5)
MAX_BAD_FRACTION = 0.01
SPLIT_SEED = 42
VALIDATION_FRACTION = 0.1
# How many bad lines a warning or error quotes.
MAX_QUOTED_BAD_LINES = 10

BadLines = List[Tuple[int, str]]


def attractor_file(k: int) -> str:
    """File name of the test examples with `k` attractors."""
    return f"numpred.test.{k}"


def parse_line(line: str, n_attractors: Optional[int] = None) -> AgreementExample:
    """One example of a `LABEL<TAB>words before the verb` line.

    Args:
      line: the line, with or without its newline.
      n_attractors: the file's attractor count (every intervening noun is an
        attractor there), or None when unknown (`numpred.val`).

    Raises:
      ValueError naming the problem.
    """
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) != 2:
        raise ValueError(f"{len(fields)} tab-separated fields, expected 2 (VBZ or VBP, "
                         "then the words before the verb)")
    label, prefix = fields
    if label not in VERB_POS_LABELS:
        raise ValueError(f"label {label!r} is not VBZ or VBP")
    tokens = normalize_words(prefix)
    if not tokens:
        raise ValueError("no words before the verb")
    # The release has no verb: the example ends where the verb would be.
    return AgreementExample(tokens=tokens, verb_index=len(tokens),
                            label=VERB_POS_LABELS[label], correct_form="",
                            n_intervening=n_attractors, n_diff_intervening=n_attractors)


def parse_lines(lines: Sequence[str], n_attractors: Optional[int] = None
                ) -> Tuple[List[AgreementExample], BadLines]:
    """(examples, [(1-based line number, problem)]) of a file's lines."""
    examples, bad = [], []
    for line_num, line in enumerate(lines, start=1):
        try:
            examples.append(parse_line(line, n_attractors))
        except ValueError as e:
            bad.append((line_num, str(e)))
    return examples, bad


def bad_line_report(path: str, bad: BadLines) -> str:
    quoted = "; ".join(f"{path} line {n}: {why}" for n, why in bad[:MAX_QUOTED_BAD_LINES])
    more = len(bad) - MAX_QUOTED_BAD_LINES
    return quoted + (f"; and {more} more" if more > 0 else "")


def check_bad_lines(path: str, num_lines: int, bad: BadLines,
                    max_bad_fraction: float = MAX_BAD_FRACTION) -> None:
    """Fails when more than `max_bad_fraction` of the lines are bad; else
    reports the bad ones (they are skipped)."""
    if not bad:
        return
    if len(bad) > max_bad_fraction * num_lines:
        raise UserError(
            f"{path}: {len(bad)} of {num_lines} lines are malformed (more than "
            f"{max_bad_fraction:.0%}): {bad_line_report(path, bad)}. Each line must be VBZ or "
            "VBP, a tab, then the words before the verb; replace the file with the "
            "release's own copy or fix those lines.")
    print(f"warning: skipped {len(bad)} malformed lines of {num_lines}: "
          f"{bad_line_report(path, bad)}", flush=True)


def read_file(path: str, n_attractors: Optional[int] = None,
              max_bad_fraction: float = MAX_BAD_FRACTION) -> List[AgreementExample]:
    """The examples of one release file (bad lines reported and skipped)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"Cannot read {path!r} ({e}); the data dir must hold "
                        f"{LINZEN_SIMPLE_DIR}/ as in shared/data (see its README.md).") from e
    examples, bad = parse_lines(lines, n_attractors)
    check_bad_lines(path, len(lines), bad, max_bad_fraction)
    return examples


def _folder(data_dir: Optional[str]) -> str:
    data_dir = resolve_data_dir(data_dir)
    if data_dir is None:
        raise UserError(f"The linzen_simple data is read from <data_dir>/{LINZEN_SIMPLE_DIR}/; "
                        "pass --data_dir (e.g. ../shared/data) or set $TF_KDBIAS_DATA_DIR.")
    return os.path.join(data_dir, LINZEN_SIMPLE_DIR)


def load_natural(data_dir: Optional[str] = None,
                 max_bad_fraction: float = MAX_BAD_FRACTION) -> List[AgreementExample]:
    """`numpred.val`: the natural-distribution examples (attractors unknown)."""
    return read_file(os.path.join(_folder(data_dir), TRAIN_FILE), None, max_bad_fraction)


def load_test(k: int, data_dir: Optional[str] = None,
              max_bad_fraction: float = MAX_BAD_FRACTION) -> List[AgreementExample]:
    """`numpred.test.<k>`: the test examples with `k` attractors."""
    if k not in ATTRACTOR_COUNTS:
        raise UserError(f"linzen_simple has test files for {ATTRACTOR_COUNTS} attractors, "
                        f"not {k}.")
    return read_file(os.path.join(_folder(data_dir), attractor_file(k)), k, max_bad_fraction)


def split_train_validation(examples: Sequence[AgreementExample], seed: int = SPLIT_SEED,
                           validation_fraction: float = VALIDATION_FRACTION
                           ) -> Tuple[List[AgreementExample], List[AgreementExample]]:
    """A seeded shuffle, then (train, validation): the last
    round(validation_fraction * N) shuffled examples are the validation part."""
    if not 0.0 < validation_fraction < 1.0:
        raise UserError(f"validation_fraction={validation_fraction}: use a fraction in "
                        "(0, 1), e.g. 0.1.")
    order = np.random.default_rng(seed).permutation(len(examples))
    num_train = len(examples) - int(round(validation_fraction * len(examples)))
    return ([examples[i] for i in order[:num_train]],
            [examples[i] for i in order[num_train:]])
