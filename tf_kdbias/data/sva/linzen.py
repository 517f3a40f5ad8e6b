"""Reading and validating Linzen et al. (2016) agreement rows.

The file `agr_50_mostcommon_10K.tsv.gz` is a tab-separated table with a header
naming 18 columns (docs/PAPER_SETUP.md, "Scenario 1"). Columns are looked up by name, so
their order does not matter; every row is validated, and bad rows are
reported by line number and skipped, up to a small fraction of the file.
"""

import csv
import dataclasses
import gzip
import io
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from tf_kdbias.data.sva.example import VERB_POS_LABELS, AgreementExample
from tf_kdbias.data.sva.inflection import InflectionTable
from tf_kdbias.data.sva.tokens import POS_PLACEHOLDERS, normalize_words
from tf_kdbias.errors import UserError

LINZEN_COLUMNS = (
    "sentence", "orig_sentence", "pos_sentence", "subj", "verb", "subj_pos",
    "has_rel", "has_nsubj", "verb_pos", "subj_index", "verb_index", "n_intervening",
    "last_intervening", "n_diff_intervening", "distance", "max_depth", "all_nouns",
    "nouns_up_to_verb",
)
INT_COLUMNS = ("subj_index", "verb_index", "n_intervening", "n_diff_intervening",
               "distance", "max_depth")
LINZEN_FILENAME = "agr_50_mostcommon_10K.tsv.gz"
LINZEN_URL = "http://tallinzen.net/media/rnn_agreement/agr_50_mostcommon_10K.tsv.gz"
SPLIT_SEED = 42
# docs/PAPER_SETUP.md, "Scenario 1": 10% train, 1% validation, the rest (89%) test.
SPLIT_FRACTIONS = (("train", 0.10), ("validation", 0.01))
# How many bad rows are quoted in an error or warning.
MAX_QUOTED_BAD_ROWS = 10

Row = Dict[str, object]


@dataclasses.dataclass
class ParsedRows:
    """Valid rows (ints converted) and (line number, reason) per bad row."""

    rows: List[Row]
    bad_rows: List[Tuple[int, str]]
    num_valid: int = 0

    def bad_row_report(self) -> str:
        quoted = "; ".join(f"line {n}: {reason}"
                           for n, reason in self.bad_rows[:MAX_QUOTED_BAD_ROWS])
        more = len(self.bad_rows) - MAX_QUOTED_BAD_ROWS
        return quoted + (f"; and {more} more" if more > 0 else "")


def validate_row(raw: Dict[str, Optional[str]]) -> Row:
    """Returns the row with integer columns converted; raises ValueError
    naming the first problem found."""
    if None in raw:  # csv puts surplus fields under the key None.
        raise ValueError(f"{len(LINZEN_COLUMNS) + len(raw[None])} fields, expected "
                         f"{len(LINZEN_COLUMNS)}")
    missing = [c for c in LINZEN_COLUMNS if raw.get(c) is None]
    if missing:
        raise ValueError(f"missing fields {', '.join(missing)}")
    row: Row = dict(raw)
    for column in INT_COLUMNS:
        try:
            row[column] = int(raw[column])
        except ValueError:
            raise ValueError(f"{column}={raw[column]!r} is not an integer") from None
    if row["verb_pos"] not in VERB_POS_LABELS:
        raise ValueError(f"verb_pos={row['verb_pos']!r} is not VBZ or VBP")
    num_tokens = len(str(row["sentence"]).split())
    for column in ("subj_index", "verb_index"):
        if not 1 <= row[column] <= num_tokens:  # Linzen's indices are 1-based.
            raise ValueError(f"{column}={row[column]} is outside the sentence "
                             f"(1..{num_tokens})")
    if row["subj_index"] >= row["verb_index"]:
        raise ValueError(f"subj_index={row['subj_index']} is not before "
                         f"verb_index={row['verb_index']}")
    if not 0 <= row["n_diff_intervening"] <= row["n_intervening"]:
        raise ValueError(f"n_diff_intervening={row['n_diff_intervening']} is not in "
                         f"0..n_intervening={row['n_intervening']}")
    return row


def iter_linzen_lines(lines: Iterable[str]) -> Iterator[Tuple[int, Optional[Row], Optional[str]]]:
    """Yields (line number, valid row or None, problem or None) per data row.

    Line numbers are 1-based and count the header, as an editor shows them.
    """
    reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = reader.fieldnames or []
    missing = [c for c in LINZEN_COLUMNS if c not in header]
    if missing:
        raise UserError(
            f"The Linzen file's header lacks the columns {', '.join(missing)} (it has "
            f"{', '.join(header) or 'nothing'}). The file must start with a header row "
            f"naming the 18 columns of docs/PAPER_SETUP.md, 'Scenario 1': "
            f"{', '.join(LINZEN_COLUMNS)}.")
    for raw in reader:
        try:
            yield reader.line_num, validate_row(raw), None
        except ValueError as e:
            yield reader.line_num, None, str(e)


def parse_linzen_lines(lines: Iterable[str]) -> ParsedRows:
    """Parses a Linzen TSV (header first) into valid rows and bad rows."""
    parsed = ParsedRows([], [])
    for line_num, row, problem in iter_linzen_lines(lines):
        if row is None:
            parsed.bad_rows.append((line_num, problem))
        else:
            parsed.rows.append(row)
            parsed.num_valid += 1
    return parsed


def iter_linzen_file(path: str) -> Iterator[Tuple[int, Optional[Row], Optional[str]]]:
    """`iter_linzen_lines` over a (gzipped) file, streaming."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as f:
            yield from iter_linzen_lines(f)
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise UserError(f"Cannot read the Linzen file {path!r} ({e}); replace it with "
                        f"a fresh copy of {LINZEN_FILENAME} ({LINZEN_URL}).") from e


def check_bad_rows(path: str, parsed: ParsedRows, max_bad_fraction: float,
                   max_bad_rows_always_allowed: int = 0) -> None:
    """Fails past the allowed number of bad rows; otherwise reports them."""
    total = parsed.num_valid + len(parsed.bad_rows)
    allowed = max(max_bad_rows_always_allowed, int(max_bad_fraction * total))
    if len(parsed.bad_rows) > allowed:
        raise UserError(
            f"{path}: {len(parsed.bad_rows)} of {total} rows are malformed (more than "
            f"the {allowed} allowed): {parsed.bad_row_report()}. Check that the file is "
            f"Linzen's tab-separated {LINZEN_FILENAME}, or fix those lines.")
    if parsed.bad_rows:
        print(f"warning: {path}: skipped {len(parsed.bad_rows)} malformed rows of {total}: "
              f"{parsed.bad_row_report()}", flush=True)


def read_linzen_tsv(path: str, max_bad_fraction: float = 0.01,
                    max_bad_rows_always_allowed: int = 0, keep_rows: bool = True) -> ParsedRows:
    """Reads and validates a (gzipped) Linzen TSV.

    Args:
      path: the `.tsv.gz` (or plain `.tsv`) file.
      max_bad_fraction: the largest fraction of bad rows skipped with a
        warning; more is an error (the file is probably not Linzen's).
      max_bad_rows_always_allowed: this many bad rows are skipped even in a
        tiny file.
      keep_rows: False only counts valid rows (`num_valid`), so the 1.5M-row
        original never sits in memory.
    """
    parsed = ParsedRows([], [])
    for line_num, row, problem in iter_linzen_file(path):
        if row is None:
            parsed.bad_rows.append((line_num, problem))
        else:
            parsed.num_valid += 1
            if keep_rows:
                parsed.rows.append(row)
    check_bad_rows(path, parsed, max_bad_fraction, max_bad_rows_always_allowed)
    return parsed


def split_sizes(num_rows: int) -> Dict[str, int]:
    """Rows per split: 10% train, 1% validation (rounded), the rest test."""
    sizes = {name: int(round(fraction * num_rows)) for name, fraction in SPLIT_FRACTIONS}
    sizes["test"] = num_rows - sum(sizes.values())
    return sizes


def split_indices(num_rows: int, seed: int = SPLIT_SEED) -> Dict[str, np.ndarray]:
    """Row indices of train/validation/test after a seeded shuffle."""
    order = np.random.default_rng(seed).permutation(num_rows)
    sizes = split_sizes(num_rows)
    train_end = sizes["train"]
    validation_end = train_end + sizes["validation"]
    return {"train": order[:train_end], "validation": order[train_end:validation_end],
            "test": order[validation_end:]}


def tagged_verb_forms(rows: Sequence[Row]) -> Tuple[List[str], List[str]]:
    """Words tagged VBZ and VBP anywhere in the rows' POS sentences."""
    singular, plural = [], []
    for row in rows:
        words = normalize_words(str(row["sentence"]))
        tags = str(row["pos_sentence"]).split()
        if len(words) != len(tags):
            continue  # Misaligned POS: no reliable tags to learn from.
        for word, tag in zip(words, tags):
            if word in POS_PLACEHOLDERS:
                continue  # A rare verb replaced by its tag: no form to learn.
            if tag == "VBZ":
                singular.append(word)
            elif tag == "VBP":
                plural.append(word)
    return singular, plural


def inflection_table_from_rows(rows: Sequence[Row]) -> InflectionTable:
    """The LM scoring (docs/PAPER_SETUP.md, "Scenario 1") needs the other form
    of each verb: built from data."""
    return InflectionTable.from_tagged_forms(*tagged_verb_forms(rows))


def row_to_example(row: Row, inflections: Optional[InflectionTable] = None,
                   wrong_form: Optional[str] = None) -> AgreementExample:
    """An `AgreementExample` of a validated row (words lower-cased, POS
    placeholders kept: `tokens.normalize_words`)."""
    # Interned tokens: the 1.3M-row test split repeats a 50k-word vocabulary.
    tokens = normalize_words(str(row["sentence"]))
    verb_index = int(row["verb_index"]) - 1
    correct_form = tokens[verb_index]
    if wrong_form is None and inflections is not None:
        wrong_form = inflections.other_form(correct_form)
    return AgreementExample(
        tokens=tokens, verb_index=verb_index, label=VERB_POS_LABELS[str(row["verb_pos"])],
        correct_form=correct_form, wrong_form=wrong_form,
        n_intervening=int(row["n_intervening"]),
        n_diff_intervening=int(row["n_diff_intervening"]), distance=int(row["distance"]))


def format_linzen_tsv(rows: Sequence[Row]) -> str:
    """Rows back to Linzen's TSV layout (header first); used for fixtures and
    for writing grammar rows in the same format."""
    out = io.StringIO()
    writer = csv.DictWriter(out, LINZEN_COLUMNS, delimiter="\t", quoting=csv.QUOTE_NONE,
                            lineterminator="\n", extrasaction="ignore", escapechar=None)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()
