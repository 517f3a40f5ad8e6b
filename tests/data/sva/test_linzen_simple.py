"""The "simple" release reader, its split and source, and POS placeholders."""

import collections

import numpy as np
import pytest

from tests.data.sva import linzen_fixture
from tests.data.sva import linzen_simple_fixture as LS
from tf_kdbias.data.sva import linzen, linzen_simple
from tf_kdbias.data.sva.example import PLURAL, SINGULAR
from tf_kdbias.data.sva.sources import LinzenSimpleSource, source_from_config
from tf_kdbias.data.sva.tokens import POS_PLACEHOLDERS, normalize_token, normalize_words
from tf_kdbias.errors import UserError


def with_malformed(every=5):
    """The natural lines with a malformed one after every `every` good ones;
    returns (lines, {line number: expected reason})."""
    lines, expected, bad = [], {}, iter(LS.MALFORMED)
    for i, line in enumerate(LS.natural_lines(), start=1):
        lines.append(line)
        if i % every == 0:
            text, reason = next(bad)
            lines.append(text)
            expected[len(lines)] = reason
    return lines, expected


def test_parser_reports_each_malformed_line_with_its_reason():
    lines, expected = with_malformed()
    examples, bad = linzen_simple.parse_lines(lines)
    assert len(examples) == len(LS.NATURAL)
    assert [n for n, _ in bad] == sorted(expected)
    for n, reason in bad:
        assert expected[n] in reason
    first = examples[0]
    assert first.tokens == ("the", "dog") and first.label == SINGULAR
    assert first.prefix == first.tokens and first.n_attractors is None


def test_too_many_malformed_lines_fail_naming_file_and_lines(tmp_path, capsys):
    lines, expected = with_malformed()
    folder = LS.write_fixture(str(tmp_path), natural=lines)
    path = f"{folder}/numpred.val"
    with pytest.raises(UserError) as error:
        linzen_simple.load_natural(str(tmp_path))  # 4 of 24 lines > 1%.
    message = str(error.value)
    assert "4 of 24 lines are malformed" in message
    for n in expected:
        assert f"{path} line {n}:" in message
    # Allowed (here up to 20%): skipped, and every one reported with file and line.
    examples = linzen_simple.load_natural(str(tmp_path), max_bad_fraction=0.2)
    assert len(examples) == len(LS.NATURAL)
    reported = capsys.readouterr().out
    assert "skipped 4 malformed lines of 24" in reported
    assert all(f"{path} line {n}:" in reported for n in expected)


def test_one_percent_of_bad_lines_is_the_limit():
    one_bad = ["VBZ\tthe dog"] * 99 + ["VBX\tthe dog"]
    examples, bad = linzen_simple.parse_lines(one_bad)
    assert len(examples) == 99
    linzen_simple.check_bad_lines("f", 100, bad)  # 1 of 100: allowed.
    _, bad = linzen_simple.parse_lines(one_bad[:98] + ["VBX\tthe dog"] * 2)
    with pytest.raises(UserError, match="2 of 100 lines .* f line 99: label 'VBX'"):
        linzen_simple.check_bad_lines("f", 100, bad)


def test_attractor_files_carry_their_count(tmp_path):
    LS.write_fixture(str(tmp_path))
    for k in linzen_simple.ATTRACTOR_COUNTS:
        examples = linzen_simple.load_test(k, str(tmp_path))
        assert [e.n_attractors for e in examples] == [k] * len(LS.TEST_LABELS[k])
        assert [e.label for e in examples] == [PLURAL if label == "VBP" else SINGULAR
                                               for label in LS.TEST_LABELS[k]]


def test_split_is_deterministic_and_a_90_10_partition(tmp_path):
    LS.write_fixture(str(tmp_path))
    examples = linzen_simple.load_natural(str(tmp_path))
    train, held_out = linzen_simple.split_train_validation(examples, seed=42)
    again = linzen_simple.split_train_validation(examples, seed=42)
    other = linzen_simple.split_train_validation(examples, seed=7)
    assert (len(train), len(held_out)) == (18, 2)
    assert (train, held_out) == again
    assert other != (train, held_out)
    assert sorted(e.tokens for e in train + held_out) == sorted(e.tokens for e in examples)
    # The order comes from the seeded permutation alone.
    order = np.random.default_rng(42).permutation(len(examples))
    assert held_out == [examples[i] for i in order[18:]]


def test_source_vocabulary_comes_from_train_and_keeps_placeholders(tmp_path):
    LS.write_fixture(str(tmp_path))
    source = LinzenSimpleSource()
    splits, vocabulary = source.load(str(tmp_path))
    assert splits["test"] == splits["validation"]  # The held-out natural split.
    train_tokens = {t for e in splits["train"] for t in e.tokens}
    assert set(vocabulary.tokens[4:]) == train_tokens
    # "IN" (a rare word's tag) and "in" (the word) stay two tokens.
    all_tokens = {t for e in splits["train"] + splits["validation"] for t in e.tokens}
    assert {"IN", "in", "NNS", "NNP", "CD"} <= all_tokens
    assert "nns" not in all_tokens and "nnp" not in all_tokens
    cut = LinzenSimpleSource(max_train_examples=5).load_splits(str(tmp_path))
    assert cut["train"] == splits["train"][:5] and cut["validation"] == splits["validation"]
    restored = source_from_config(LinzenSimpleSource(seed=3, max_train_examples=5).config())
    assert restored.config() == LinzenSimpleSource(seed=3, max_train_examples=5).config()


def test_the_linzen_file_keeps_pos_placeholders():
    rows = linzen.parse_linzen_lines(linzen_fixture.fixture_text().splitlines(keepends=True)).rows
    tagged = next(r for r in rows if " NN " in r["sentence"])
    example = linzen.row_to_example(tagged)
    assert "NN" in example.tokens and "nn" not in example.tokens
    assert normalize_words("The IN in NNS Dogs") == ("the", "IN", "in", "NNS", "dogs")


def test_tensorflow_normalisation_matches_python():
    import tensorflow as tf

    from tf_kdbias.data.sva.tokens import normalize_words_tf

    words = sorted(POS_PLACEHOLDERS) + ["The", "IN", "In", "iN", "PRP$", "Prp$", "NNSX", "CDs"]
    got = normalize_words_tf(tf.strings.split(tf.constant([" ".join(words)])))
    assert [w.decode() for w in got.to_list()[0]] == [normalize_token(w) for w in words]


def test_real_release_counts(data_dir):
    natural = linzen_simple.load_natural(data_dir)
    assert collections.Counter(e.label for e in natural) == {SINGULAR: 10763, PLURAL: 5009}
    sizes = {k: len(linzen_simple.load_test(k, data_dir)) for k in (1, 5)}
    assert sizes == {1: 52599, 5: 159}
    splits = LinzenSimpleSource().load_splits(data_dir)
    assert (len(splits["train"]), len(splits["validation"])) == (14195, 1577)
    words = {t for e in natural for t in e.tokens}
    assert {"NNS", "NNP", "IN"} <= words and not any(w.isupper() and w not in POS_PLACEHOLDERS
                                                     for w in words)
