"""Loaders of the real test sets, vocabularies and the inflection table."""

import collections

import numpy as np
import pytest

from tf_kdbias.data.sva import testsets
from tf_kdbias.data.sva.encoding import encode_classification, encode_language_model
from tf_kdbias.data.sva.example import PLURAL, SINGULAR, AgreementExample
from tf_kdbias.data.sva.inflection import InflectionTable, singular_of_pair
from tf_kdbias.data.sva.vocabulary import BOS_ID, EOS_ID, UNK_ID, Vocabulary
from tf_kdbias.errors import UserError


@pytest.fixture(scope="module")
def linzen_testset(data_dir):
    return testsets.load_linzen_testset(data_dir)


def test_linzen_testset_counts_and_labels(linzen_testset):
    # 7489 lines, 4 of them with correct == wrong form (skipped, reported).
    assert len(linzen_testset) == 7485
    counts = collections.Counter(e.n_attractors for e in linzen_testset)
    assert counts == {0: 1970, 1: 1957, 2: 1943, 3: 1285, 4: 330}
    first = linzen_testset[0]
    assert first.tokens[first.verb_index] == "is" and first.label == SINGULAR
    assert first.wrong_form == "are" and first.distance is None
    assert linzen_testset[1].label == PLURAL  # "have" / "has"


def test_gulordava_has_distances_and_both_numbers(data_dir):
    examples = testsets.load_gulordava(data_dir)
    assert len(examples) == 410
    assert {e.label for e in examples} == {SINGULAR, PLURAL}
    original = next(e for e in examples if e.tokens[:3] == ("the", "thing", "to"))
    assert original.verb_index == 6 and original.correct_form == "is"
    assert original.distance == 5 and original.wrong_form == "are"


def test_linzen_small_is_a_seeded_80_10_10_partition(data_dir, linzen_testset):
    splits = testsets.linzen_small_splits(data_dir)
    sizes = {k: len(v) for k, v in splits.items()}
    assert sizes == {"train": 5988, "validation": 748, "test": 749}
    all_sentences = [e.tokens for split in splits.values() for e in split]
    assert sorted(all_sentences) == sorted(e.tokens for e in linzen_testset)
    again = testsets.linzen_small_splits(data_dir)
    assert [e.tokens for e in again["test"]] == [e.tokens for e in splits["test"]]


def test_misaligned_testset_files_are_a_user_error():
    with pytest.raises(UserError, match="aligned"):
        testsets.parse_linzen_testset(["a b <eos>"], [])


def test_vocabulary_round_trips_through_a_text_file(tmp_path):
    vocabulary = Vocabulary.build([["b", "a", "b"], ["c"]])
    assert vocabulary.tokens == ["<pad>", "<unk>", "<bos>", "<eos>", "b", "a", "c"]
    path = str(tmp_path / "vocab.txt")
    vocabulary.save(path)
    assert Vocabulary.load(path).tokens == vocabulary.tokens
    np.testing.assert_array_equal(vocabulary.encode(["a", "zz"]), [5, UNK_ID])
    with pytest.raises(UserError, match="start with"):
        Vocabulary(["a", "<pad>"])


def test_inflection_pairs_from_tagged_forms():
    table = InflectionTable.from_tagged_forms(["is", "goes", "carries", "runs"],
                                              ["are", "go", "carry", "walk"])
    assert table.other_form("carries") == "carry" and table.other_form("go") == "goes"
    assert table.other_form("runs") is None and table.other_form("walk") is None
    assert singular_of_pair("have", "has") == "has"


def test_classification_and_lm_encodings():
    vocabulary = Vocabulary.build([["the", "keys", "are", "here"]])
    example = AgreementExample(("the", "keys", "are", "here"), 2, PLURAL, "are", "is", 0, 0, 1)
    inputs, labels = encode_classification([example], vocabulary)
    assert vocabulary.decode(inputs[0]) == ["the", "keys", "<eos>"] and labels[0] == PLURAL
    cut, _ = encode_classification([example], vocabulary, max_length=2)
    assert vocabulary.decode(cut[0]) == ["keys", "<eos>"]  # Nearest the verb kept.
    lm = encode_language_model([example], vocabulary)
    assert lm.inputs[0, 0] == BOS_ID and lm.labels[0, -1] == EOS_ID
    assert lm.labels[0, lm.verb_positions[0]] == lm.correct_ids[0] == vocabulary.token_id("are")
    assert lm.wrong_ids[0] == UNK_ID  # "is" never occurs: not in the vocabulary.
