"""The real agreement test sets of `<data_dir>/sva/` (see shared/data/README.md).

- `linzen_testset`: 7489 Wikipedia sentences of Linzen et al.'s test set as
  filtered by Gulordava et al. (2018): `.text` (tokens ending in `<eos>`) and
  `.gold` (0-based verb index, correct form, wrong form, attractor count).
  It has no subject index, so distances are unknown; its attractor count is
  taken as both n_intervening and n_diff_intervening (the filtered set keeps
  sentences whose intervening nouns are all attractors).
- `gulordava2018`: 410 "colorless green" sentences; `generated.tab` gives the
  number, both verb forms, the attractor count and `len_context`, the
  subject-verb distance. In the 369 nonce sentences the verb slot holds a
  nonce word, so the example's `correct_form` need not be its token there.
- `linzen_small`: the 7489 real sentences split 80/10/10 with seed 42, so
  models can be trained and compared on real sentences offline.
"""

import csv
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from tf_kdbias.data.paths import resolve_data_dir
from tf_kdbias.data.sva.example import PLURAL, SINGULAR, AgreementExample
from tf_kdbias.data.sva.inflection import singular_of_pair
from tf_kdbias.data.sva.vocabulary import EOS
from tf_kdbias.errors import UserError

LINZEN_TESTSET_DIR = os.path.join("sva", "linzen_testset")
LINZEN_TESTSET_STEM = "subj_agr_filtered"
GULORDAVA_DIR = os.path.join("sva", "gulordava2018_en")
LINZEN_SMALL_SEED = 42
LINZEN_SMALL_FRACTIONS = (0.8, 0.1, 0.1)


def _require_data_dir(data_dir: Optional[str], what: str) -> str:
    data_dir = resolve_data_dir(data_dir)
    if data_dir is None:
        raise UserError(f"The {what} is read from <data_dir>/sva/; pass --data_dir "
                        "(e.g. ../shared/data) or set $TF_KDBIAS_DATA_DIR.")
    return data_dir


def _read_lines(path: str) -> List[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except OSError as e:
        raise UserError(f"Cannot read {path!r} ({e.strerror}); the data dir must hold "
                        "sva/linzen_testset and sva/gulordava2018_en as in shared/data.") from e


def _strip_eos(tokens: Sequence[str]) -> Tuple[str, ...]:
    return tuple(tokens[:-1]) if tokens and tokens[-1] == EOS else tuple(tokens)


def _report_skipped(path: str, skipped: List[Tuple[int, str]], total: int) -> None:
    if skipped:
        quoted = "; ".join(f"line {n}: {why}" for n, why in skipped[:5])
        print(f"warning: {path}: skipped {len(skipped)} of {total} examples: {quoted}",
              flush=True)


def parse_linzen_testset(text_lines: Sequence[str], gold_lines: Sequence[str],
                         source: str = "linzen_testset") -> List[AgreementExample]:
    """Examples of aligned `.text` / `.gold` lines; unusable lines are skipped.

    A line is unusable when its verb index is outside the sentence, the
    sentence does not have the correct form there, or the two forms are not
    a singular/plural pair (the set has a few with correct == wrong).
    """
    if len(text_lines) != len(gold_lines):
        raise UserError(f"{source}: .text has {len(text_lines)} lines but .gold has "
                        f"{len(gold_lines)}; the two files must be aligned line by line.")
    examples, skipped = [], []
    for line_num, (text, gold) in enumerate(zip(text_lines, gold_lines), start=1):
        fields = gold.split("\t")
        if len(fields) != 4:
            skipped.append((line_num, f"{len(fields)} gold fields, expected 4"))
            continue
        index, correct, wrong, attractors = fields
        tokens = _strip_eos(text.lower().split())
        problem = _gold_problem(tokens, index, correct.lower(), wrong.lower(), attractors)
        if problem:
            skipped.append((line_num, problem))
            continue
        correct, wrong = correct.lower(), wrong.lower()
        label = SINGULAR if singular_of_pair(correct, wrong) == correct else PLURAL
        n = int(attractors)
        examples.append(AgreementExample(tokens, int(index), label, correct, wrong,
                                         n_intervening=n, n_diff_intervening=n))
    _report_skipped(source, skipped, len(text_lines))
    return examples


def _gold_problem(tokens, index, correct, wrong, attractors) -> Optional[str]:
    if not (index.isdigit() and attractors.isdigit()):
        return f"verb index {index!r} or attractor count {attractors!r} is not an integer"
    if int(index) >= len(tokens) or tokens[int(index)] != correct:
        return f"token {index} is not the correct form {correct!r}"
    if singular_of_pair(correct, wrong) is None:
        return f"{correct!r}/{wrong!r} is not a singular/plural verb pair"
    return None


def load_linzen_testset(data_dir: Optional[str] = None) -> List[AgreementExample]:
    """The 7489-sentence Linzen test set (a handful of broken lines skipped)."""
    folder = os.path.join(_require_data_dir(data_dir, "Linzen test set"), LINZEN_TESTSET_DIR)
    stem = os.path.join(folder, LINZEN_TESTSET_STEM)
    return parse_linzen_testset(_read_lines(stem + ".text"), _read_lines(stem + ".gold"),
                                source=stem)


def parse_gulordava_tab(lines: Sequence[str], source: str = "generated.tab"
                        ) -> List[AgreementExample]:
    """Examples of `generated.tab`, which lists each sentence twice: once with
    the correct form (class 'correct') and once with the wrong one."""
    rows = list(csv.DictReader(lines, delimiter="\t"))
    needed = {"pattern", "constr_id", "sent_id", "correct_number", "form", "class",
              "n_attr", "len_context", "len_prefix", "sent"}
    if not rows or not needed <= set(rows[0]):
        raise UserError(f"{source} lacks the columns {sorted(needed)}; use the "
                        "colorlessgreenRNNs generated.tab.")
    wrong_forms = {(r["pattern"], r["constr_id"], r["sent_id"]): r["form"].lower()
                   for r in rows if r["class"] == "wrong"}
    examples, skipped = [], []
    for line_num, row in enumerate(rows, start=2):
        if row["class"] != "correct":
            continue
        tokens = _strip_eos(row["sent"].split())
        # Nonce sentences keep the original verb's slot but not its word: the
        # token at the index need not be either form.
        index, correct = int(row["len_prefix"]), row["form"]
        wrong = wrong_forms.get((row["pattern"], row["constr_id"], row["sent_id"]))
        if index >= len(tokens) or wrong is None:
            skipped.append((line_num, "verb index outside the sentence or no wrong form"))
            continue
        n = int(row["n_attr"])
        examples.append(AgreementExample(
            tuple(t.lower() for t in tokens), index,
            PLURAL if row["correct_number"] == "plur" else SINGULAR, correct.lower(), wrong,
            n_intervening=n, n_diff_intervening=n, distance=int(row["len_context"])))
    _report_skipped(source, skipped, len(rows) // 2)
    return examples


def load_gulordava(data_dir: Optional[str] = None) -> List[AgreementExample]:
    """The 410 English sentences of Gulordava et al. (2018)."""
    folder = os.path.join(_require_data_dir(data_dir, "Gulordava et al. set"), GULORDAVA_DIR)
    path = os.path.join(folder, "generated.tab")
    return parse_gulordava_tab(_read_lines(path), source=path)


def linzen_small_splits(data_dir: Optional[str] = None, seed: int = LINZEN_SMALL_SEED,
                        fractions: Sequence[float] = LINZEN_SMALL_FRACTIONS
                        ) -> Dict[str, List[AgreementExample]]:
    """The real test sentences shuffled (seed 42) and split 80/10/10."""
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6:
        raise UserError(f"linzen_small fractions must be three numbers summing to 1; "
                        f"got {tuple(fractions)}.")
    examples = load_linzen_testset(data_dir)
    order = np.random.default_rng(seed).permutation(len(examples))
    train_end = int(round(fractions[0] * len(examples)))
    validation_end = train_end + int(round(fractions[1] * len(examples)))
    pick = lambda idx: [examples[i] for i in idx]  # noqa: E731
    return {"train": pick(order[:train_end]), "validation": pick(order[train_end:validation_end]),
            "test": pick(order[validation_end:])}
