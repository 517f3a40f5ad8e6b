"""The Linzen reader and TFDS builder on a hand-written Linzen-format file."""

import gzip
import os

import pytest

from tf_kdbias.data.sva import linzen
from tf_kdbias.data.sva.vocabulary import SPECIAL_TOKENS, VOCAB_FILENAME, Vocabulary
from tf_kdbias.errors import UserError

from tests.data.sva import linzen_fixture as F


def write_fixture(folder, copies=1, with_malformed=True):
    manual_dir = os.path.join(folder, "sva", "linzen2016")
    os.makedirs(manual_dir, exist_ok=True)
    path = os.path.join(manual_dir, linzen.LINZEN_FILENAME)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(F.fixture_text(copies, with_malformed))
    return path


def test_bad_rows_are_reported_by_line_number_with_the_reason():
    parsed = linzen.parse_linzen_lines(F.fixture_text().splitlines(keepends=True))
    assert parsed.num_valid == F.NUM_VALID_PER_COPY
    assert [line for line, _ in parsed.bad_rows] == list(F.MALFORMED_LINES)
    for (_, reason), expected in zip(parsed.bad_rows, F.MALFORMED_REASONS):
        assert expected in reason


def test_columns_are_found_by_name_in_any_order():
    lines = F.fixture_text(with_malformed=False).splitlines()
    table = [line.split("\t") for line in lines]
    order = list(reversed(range(len(table[0]))))
    shuffled = ["\t".join(row[i] for i in order) + "\n" for row in table]
    original = linzen.parse_linzen_lines([line + "\n" for line in lines]).rows
    assert linzen.parse_linzen_lines(shuffled).rows == original


def test_valid_rows_convert_indices_and_labels():
    rows = linzen.parse_linzen_lines(F.fixture_text().splitlines(keepends=True)).rows
    example = linzen.row_to_example(rows[0])
    assert example.tokens[example.verb_index] == "is" and example.label == 0
    assert (example.n_intervening, example.n_diff_intervening, example.distance) == (1, 1, 4)
    assert linzen.row_to_example(rows[1]).label == 1


def test_missing_column_is_a_user_error_naming_it():
    text = F.fixture_text().replace("\tnouns_up_to_verb", "\tnouns", 1)
    with pytest.raises(UserError, match="nouns_up_to_verb"):
        linzen.parse_linzen_lines(text.splitlines(keepends=True))


def test_too_many_bad_rows_fail_with_their_line_numbers(tmp_path):
    path = write_fixture(str(tmp_path))
    with pytest.raises(UserError, match=f"line {F.MALFORMED_LINES[0]}: verb_pos"):
        linzen.read_linzen_tsv(path, max_bad_fraction=0.01)
    parsed = linzen.read_linzen_tsv(path, max_bad_fraction=0.5)  # Skipped with a warning.
    assert parsed.num_valid == F.NUM_VALID_PER_COPY and len(parsed.bad_rows) == 5


@pytest.mark.parametrize("num_rows", [100, 101, 1234, 1575000])
def test_split_sizes_are_ten_one_and_the_rest(num_rows):
    sizes = linzen.split_sizes(num_rows)
    assert abs(sizes["train"] - 0.10 * num_rows) <= 1
    assert abs(sizes["validation"] - 0.01 * num_rows) <= 1
    assert sum(sizes.values()) == num_rows


def test_split_is_a_seeded_partition():
    first, again = linzen.split_indices(500), linzen.split_indices(500)
    merged = sorted(i for idx in first.values() for i in idx)
    assert merged == list(range(500))
    assert all((first[k] == again[k]).all() for k in first)


def test_builder_splits_the_manual_file_and_saves_the_vocabulary(tmp_path, capsys):
    from tf_kdbias.data.sva.linzen_builder import load_linzen_splits, prepare_builder

    data_dir = str(tmp_path / "data")
    write_fixture(data_dir, copies=10)  # 120 valid rows, 5 malformed.
    splits, vocabulary = load_linzen_splits(data_dir, download=False,
                                            max_bad_rows_always_allowed=5)
    assert {k: len(v) for k, v in splits.items()} == {"train": 12, "validation": 1, "test": 107}
    reported = capsys.readouterr().out
    assert "skipped 5 malformed rows" in reported and f"line {F.MALFORMED_LINES[-1]}" in reported
    assert tuple(vocabulary.tokens[:4]) == SPECIAL_TOKENS
    train_words = {t for e in splits["train"] for t in e.tokens}
    assert set(vocabulary.tokens[4:]) == train_words
    builder = prepare_builder(data_dir, download=False, max_bad_rows_always_allowed=5)
    saved = Vocabulary.load(os.path.join(os.fspath(builder.data_dir), VOCAB_FILENAME))
    assert saved.tokens == vocabulary.tokens
    # The wrong form comes from the inflection table of the train split.
    assert any(e.wrong_form is not None for e in splits["test"])


def test_builder_without_file_or_download_says_where_to_put_it(tmp_path):
    from tf_kdbias.data.sva.linzen_builder import load_linzen_splits

    with pytest.raises(UserError, match="sva/linzen2016"):
        load_linzen_splits(str(tmp_path), download=False)
