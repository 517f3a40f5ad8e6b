"""Hand-written files in the layout of Linzen et al.'s "simple" release.

`numpred.val`: 20 natural-distribution lines (14 VBZ, 6 VBP), real words in
lower case and rare words as POS tags (`NNS`, `NNP`, `IN`, ...). The test
files hold a few lines each with known plural shares (group 4 is all
plural, so its class-balanced accuracy is not defined). `MALFORMED` are
lines with one problem each.
"""

import os

NATURAL = [
    ("VBZ", "the dog"),
    ("VBZ", "the key to the NNS"),
    ("VBP", "the keys to the cabinet"),
    ("VBZ", "NNP , the NN of the town ,"),
    ("VBZ", "in IN the author"),
    ("VBP", "the farmers near the old barn"),
    ("VBZ", "the pilot with the maps"),
    ("VBZ", "a JJ NN"),
    ("VBP", "most of the NNS in the valley"),
    ("VBZ", "the house"),
    ("VBZ", "the CD of the band"),
    ("VBP", "the teachers of the student"),
    ("VBZ", "the singer whose songs the fans love"),
    ("VBZ", "each NN"),
    ("VBP", "they"),
    ("VBZ", "the city , which the NNS built ,"),
    ("VBZ", "the river"),
    ("VBP", "the boxes beside the door"),
    ("VBZ", "the school in the NNP"),
    ("VBZ", "the film"),
]
# k -> labels of numpred.test.<k>; the prefixes only need to be words.
TEST_LABELS = {
    1: ["VBP", "VBP", "VBZ"],
    2: ["VBP", "VBZ"],
    3: ["VBP", "VBP", "VBP", "VBZ"],
    4: ["VBP", "VBP"],
    5: ["VBZ", "VBP", "VBP", "VBP", "VBP"],
}
TEST_PREFIXES = ["the keys to the NN", "the key to the cabinets", "the NNS near the barn",
                 "the dog of the neighbours", "the NNP with the maps"]
MALFORMED = [
    ("VBZ the dog without a tab", "1 tab-separated fields"),
    ("VBZ\tthe dog\tone field too many", "3 tab-separated fields"),
    ("VBD\tthe dogs", "label 'VBD' is not VBZ or VBP"),
    ("VBP\t   ", "no words before the verb"),
]


def natural_lines():
    return [f"{label}\t{prefix}" for label, prefix in NATURAL]


def attractor_lines(k):
    return [f"{label}\t{TEST_PREFIXES[i % len(TEST_PREFIXES)]}"
            for i, label in enumerate(TEST_LABELS[k])]


def plural_share(k):
    labels = TEST_LABELS[k]
    return labels.count("VBP") / len(labels)


def write_fixture(data_dir, natural=None):
    """Writes <data_dir>/sva/linzen_simple/; returns the folder."""
    folder = os.path.join(data_dir, "sva", "linzen_simple")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "numpred.val"), "w") as f:
        f.write("\n".join(natural or natural_lines()) + "\n")
    for k in TEST_LABELS:
        with open(os.path.join(folder, f"numpred.test.{k}"), "w") as f:
            f.write("\n".join(attractor_lines(k)) + "\n")
    return folder
