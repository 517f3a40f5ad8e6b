"""The synthetic agreement grammar: deterministic, right by construction,
and with honest attractor/distance bookkeeping."""

import collections

import pytest

from tf_kdbias.data.sva import lexicon, linzen
from tf_kdbias.data.sva.grammar import WRONG_VERB_COLUMN, AgreementGrammar
from tf_kdbias.data.sva.sources import GrammarSource
from tf_kdbias.errors import UserError

NOUN_NUMBER = {**{s: False for s, _ in lexicon.NOUNS}, **{p: True for _, p in lexicon.NOUNS}}
VERB_PAIRS = set(lexicon.TRANSITIVE_VERBS + lexicon.INTRANSITIVE_VERBS)


FRONTED = dict(fronted_distribution=(0.25, 0.25, 0.25, 0.25))


@pytest.fixture(scope="module", params=[{}, FRONTED], ids=["plain", "fronted"])
def grammar(request):
    return AgreementGrammar(**request.param)


@pytest.fixture(scope="module")
def rows(grammar):
    return grammar.generate(num_sentences=2000, seed=7)


def test_same_seed_same_rows_other_seed_other_rows(grammar, rows):
    assert grammar.generate(num_sentences=2000, seed=7) == rows
    assert AgreementGrammar().generate(num_sentences=50, seed=8) != rows[:50]


def test_labels_are_right_by_construction(rows):
    for row in rows:
        words = row["sentence"].split()
        subject, verb = words[row["subj_index"] - 1], words[row["verb_index"] - 1]
        assert subject == row["subj"] and verb == row["verb"]
        plural = NOUN_NUMBER[subject]
        assert row["verb_pos"] == ("VBP" if plural else "VBZ")
        pair = (row[WRONG_VERB_COLUMN], verb) if plural else (verb, row[WRONG_VERB_COLUMN])
        assert pair in VERB_PAIRS  # (singular, plural) of the same verb.


def test_attractor_and_distance_bookkeeping_matches_the_words(rows):
    for row in rows:
        words = row["sentence"].split()
        subject_plural = NOUN_NUMBER[row["subj"]]
        between = words[row["subj_index"]:row["verb_index"] - 1]
        nouns = [w for w in between if w in NOUN_NUMBER]
        assert row["n_intervening"] == len(nouns)
        assert row["n_diff_intervening"] == sum(NOUN_NUMBER[w] != subject_plural for w in nouns)
        assert row["distance"] == row["verb_index"] - row["subj_index"]
        tags = row["pos_sentence"].split()
        assert len(tags) == len(words)


def test_rows_pass_the_linzen_validation_and_round_trip(rows):
    text = linzen.format_linzen_tsv(rows[:100])
    parsed = linzen.parse_linzen_lines(text.splitlines(keepends=True))
    assert parsed.bad_rows == [] and parsed.num_valid == 100
    assert parsed.rows[5]["sentence"] == rows[5]["sentence"]


def test_default_attractor_distribution_is_skewed_towards_none(rows):
    counts = collections.Counter(r["n_diff_intervening"] for r in rows
                                 if r["n_intervening"] == r["n_diff_intervening"])
    assert counts[0] > counts[1] > counts[2] > counts[3] > counts[4] > 0


def test_fronted_phrases_move_the_subject_and_carry_distractors():
    plain = AgreementGrammar().generate(num_sentences=1000, seed=3)
    fronted = AgreementGrammar(**FRONTED).generate(num_sentences=1000, seed=3)
    commas = collections.Counter(r["sentence"].split().count(",") for r in fronted)
    assert set(commas) == {0, 1, 2, 3} and min(commas.values()) > 150  # 0-3 phrases, ~250 each.
    assert max(r["subj_index"] for r in plain) <= 6  # "[opening] the [adj] HEAD".
    assert max(r["subj_index"] for r in fronted) > 15
    first_noun_is_not_subject = 0
    for row in fronted:
        words = row["sentence"].split()
        before_subject = words[:row["subj_index"] - 1]
        nouns = [w for w in before_subject if w in NOUN_NUMBER]
        assert len(nouns) == before_subject.count(",")  # One noun per fronted phrase.
        if nouns and NOUN_NUMBER[nouns[0]] != NOUN_NUMBER[row["subj"]]:
            first_noun_is_not_subject += 1
    assert first_noun_is_not_subject > 250  # Half of the ~750 fronted sentences.


def test_fronted_clause_verbs_agree_with_their_own_noun():
    grammar = AgreementGrammar(fronted_distribution=(0, 1), fronted_clause_probability=1.0)
    for row in grammar.generate(300, seed=1):
        words, tags = row["sentence"].split(), row["pos_sentence"].split()
        # "<subordinator> the [adj] NOUN VERB ," comes first.
        verb_at = tags.index(",") - 1
        noun_plural = NOUN_NUMBER[words[verb_at - 1]]
        assert words[0] in lexicon.SUBORDINATORS
        assert tags[verb_at] == ("VBP" if noun_plural else "VBZ")
        assert row["subj_index"] > verb_at + 2


def test_configured_depth_and_attractors_are_obeyed():
    grammar = AgreementGrammar(intervening_distribution=(0, 0, 0, 1),
                               all_attractors_probability=1.0, max_depth=1)
    for row in grammar.generate(200, seed=0):
        assert row["n_intervening"] == row["n_diff_intervening"] == 3
        assert row["max_depth"] == 1


def test_bad_settings_are_user_errors():
    with pytest.raises(UserError, match="intervening_distribution"):
        AgreementGrammar(intervening_distribution=())
    with pytest.raises(UserError, match="max_depth"):
        AgreementGrammar(max_depth=0)
    with pytest.raises(UserError, match="fronted_distribution"):
        AgreementGrammar(fronted_distribution=(-1, 2))
    with pytest.raises(UserError, match="fronted_attractor_probability"):
        AgreementGrammar(fronted_attractor_probability=1.5)


def test_grammar_source_splits_and_vocabulary():
    splits, vocabulary = GrammarSource(num_train=300, num_validation=30, num_test=60).load(None)
    assert [len(splits[k]) for k in ("train", "validation", "test")] == [300, 30, 60]
    example = splits["test"][0]
    assert example.wrong_form is not None and example.wrong_form != example.correct_form
    assert vocabulary.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
