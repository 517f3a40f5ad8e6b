"""A hand-written file in the format of Linzen et al.'s agr_50_mostcommon_10K.tsv.

Twelve valid rows (written by hand, columns as docs/PAPER_SETUP.md lists them) and five
malformed ones, one problem each. `fixture_text(copies)` repeats the valid
rows so split sizes can be checked; the malformed rows come after the first
copy, so their line numbers are fixed.
"""

HEADER = ("sentence\torig_sentence\tpos_sentence\tsubj\tverb\tsubj_pos\thas_rel\thas_nsubj\t"
          "verb_pos\tsubj_index\tverb_index\tn_intervening\tlast_intervening\t"
          "n_diff_intervening\tdistance\tmax_depth\tall_nouns\tnouns_up_to_verb")

# sentence | pos | subj | verb | subj_pos | has_rel | verb_pos | subj_i | verb_i |
# n_int | last_int | n_diff | distance | depth | all_nouns | nouns_up_to_verb
_VALID = [
    ("the key to the cabinets is on the table .", "DT NN TO DT NNS VBZ IN DT NN .",
     "key", "is", "NN", "False", "VBZ", 2, 6, 1, "NNS", 1, 4, 1, "NN NNS NN", "NN NNS"),
    ("the keys to the cabinet are on the table .", "DT NNS TO DT NN VBP IN DT NN .",
     "keys", "are", "NNS", "False", "VBP", 2, 6, 1, "NN", 1, 4, 1, "NNS NN NN", "NNS NN"),
    ("the dog runs .", "DT NN VBZ .", "dog", "runs", "NN", "False", "VBZ", 2, 3, 0, "None",
     0, 1, 0, "NN", "NN"),
    ("the dogs run .", "DT NNS VBP .", "dogs", "run", "NNS", "False", "VBP", 2, 3, 0, "None",
     0, 1, 0, "NNS", "NNS"),
    ("the author that the critics praise writes books .",
     "DT NN WDT DT NNS VBP VBZ NNS .", "author", "writes", "NN", "True", "VBZ", 2, 7, 1,
     "NNS", 1, 5, 1, "NN NNS NNS", "NN NNS"),
    ("the farmers near the old barn sell eggs .", "DT NNS IN DT JJ NN VBP NNS .",
     "farmers", "sell", "NNS", "False", "VBP", 2, 7, 1, "NN", 1, 5, 1, "NNS NN NNS", "NNS NN"),
    ("the pilot with the maps of the islands flies today .",
     "DT NN IN DT NNS IN DT NNS VBZ NN .", "pilot", "flies", "NN", "False", "VBZ", 2, 9, 2,
     "NNS", 2, 7, 2, "NN NNS NNS NN", "NN NNS NNS"),
    ("the teachers of the student often smile .", "DT NNS IN DT NN RB VBP .",
     "teachers", "smile", "NNS", "False", "VBP", 2, 7, 1, "NN", 1, 5, 1, "NNS NN", "NNS NN"),
    ("we know that the house has a garden .", "PRP VBP IN DT NN VBZ DT NN .",
     "house", "has", "NN", "False", "VBZ", 5, 6, 0, "None", 0, 1, 0, "NN NN", "NN"),
    ("the boxes beside the door and the window have locks .",
     "DT NNS IN DT NN CC DT NN VBP NNS .", "boxes", "have", "NNS", "False", "VBP", 2, 9, 2,
     "NN", 2, 7, 1, "NNS NN NN NNS", "NNS NN NN"),
    ("the singer whose songs NN the fans sings well .",
     "DT NN WP$ NNS VBP DT NNS VBZ RB .", "singer", "sings", "NN", "True", "VBZ", 2, 8, 2,
     "NNS", 2, 6, 1, "NN NNS NNS", "NN NNS NNS"),
    ("the cats that chase the mouse sleep .", "DT NNS WDT VBP DT NN VBP .", "cats", "sleep",
     "NNS", "True", "VBP", 2, 7, 1, "NN", 1, 5, 1, "NNS NN", "NNS NN"),
]

# One problem each; kept in this order right after the first copy of _VALID.
MALFORMED = [
    # verb_pos is past tense.
    "the dog ran .\tthe dog ran .\tDT NN VBD .\tdog\tran\tNN\tFalse\tTrue\tVBD\t2\t3\t0\tNone"
    "\t0\t1\t0\tNN\tNN",
    # distance is not an integer.
    "the dog runs .\tthe dog runs .\tDT NN VBZ .\tdog\truns\tNN\tFalse\tTrue\tVBZ\t2\t3\t0"
    "\tNone\t0\tone\t0\tNN\tNN",
    # verb_index points past the end of the sentence.
    "the dogs run .\tthe dogs run .\tDT NNS VBP .\tdogs\trun\tNNS\tFalse\tTrue\tVBP\t2\t9\t0"
    "\tNone\t0\t7\t0\tNNS\tNNS",
    # A truncated line: only five fields.
    "the cat sleeps .\tthe cat sleeps .\tDT NN VBZ .\tcat\tsleeps",
    # The subject comes after the verb.
    "the cats sleep .\tthe cats sleep .\tDT NNS VBP .\tcats\tsleep\tNNS\tFalse\tTrue\tVBP\t3"
    "\t2\t0\tNone\t0\t1\t0\tNNS\tNNS",
]
MALFORMED_REASONS = ("verb_pos", "distance", "verb_index", "fields", "subj_index")
# Header = line 1, the first copy of the valid rows = lines 2..13.
MALFORMED_LINES = tuple(range(2 + len(_VALID), 2 + len(_VALID) + len(MALFORMED)))
NUM_VALID_PER_COPY = len(_VALID)


def _valid_line(row) -> str:
    (sentence, pos, subj, verb, subj_pos, has_rel, verb_pos, subj_index, verb_index,
     n_intervening, last, n_diff, distance, depth, all_nouns, up_to_verb) = row
    fields = [sentence, sentence, pos, subj, verb, subj_pos, has_rel, "True", verb_pos,
              subj_index, verb_index, n_intervening, last, n_diff, distance, depth, all_nouns,
              up_to_verb]
    return "\t".join(str(f) for f in fields)


def fixture_text(copies: int = 1, with_malformed: bool = True) -> str:
    """The header, `copies` copies of the valid rows, and the malformed rows
    right after the first copy."""
    lines = [HEADER] + [_valid_line(r) for r in _VALID]
    if with_malformed:
        lines += MALFORMED
    for _ in range(copies - 1):
        lines += [_valid_line(r) for r in _VALID]
    return "\n".join(lines) + "\n"
