"""Prints summary.md's tables from a folder's results.json (default: this folder):

  python docs/results/sva_linzen_simple/summarize.py > docs/results/sva_linzen_simple/summary.md
  python docs/results/sva_linzen_simple/summarize.py docs/results/sva_linzen_simple_authors_reg \
      > docs/results/sva_linzen_simple_authors_reg/summary.md
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TEST = "linzen_simple/test"
SETUPS = [("always_plural", None), ("always_singular", None), ("train_majority", None),
          ("lstm", None), ("transformer", None), ("transformer_seq", None),
          ("utransformer_seq", None), ("transformer", "lstm"), ("transformer_seq", "lstm"),
          ("utransformer_seq", "lstm"), ("transformer", "transformer")]


def cell(rows, student, teacher, eval_set, metric):
    match = [r for r in rows if (r["student"], r["teacher"], r["eval_set"], r["metric"])
             == (student, teacher, eval_set, metric)]
    if not match or match[0]["mean"] is None:
        return "—"
    r = match[0]
    return f"{r['mean']:.3f}" + (f" ± {r['std']:.3f}" if r["n"] > 1 else "")


def label(student, teacher):
    return student if teacher is None else f"{teacher}→{student}"


def table(rows, columns):
    lines = ["| setup | " + " | ".join(name for name, _, _ in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for student, teacher in SETUPS:
        lines.append(f"| {label(student, teacher)} | " + " | ".join(
            cell(rows, student, teacher, eval_set, metric) for _, eval_set, metric in columns)
            + " |")
    return "\n".join(lines)


def main(folder=HERE):
    rows = json.load(open(os.path.join(folder, "results.json")))["rows"]
    print(f"# {os.path.basename(os.path.abspath(folder))}: summary (mean ± std over 3 seeds; "
          "guesses are exact)\n")
    print("A-accuracy on `linzen_simple/test` is the mean over attractor groups 1–5 (the "
          "release has no group 0); balanced = mean of the singular-verb and plural-verb "
          "accuracies. `sva/test` is the held-out 10% of the natural-distribution split.\n")
    print(table(rows, [("natural held-out accuracy", "sva/test", "micro_accuracy"),
                       ("A-accuracy", TEST, "a_accuracy"),
                       ("balanced A-accuracy", TEST, "balanced_a_accuracy"),
                       ("ece_paper (test)", TEST, "ece_paper")]))
    print("\nAccuracy per attractor group (`linzen_simple/test_<k>`):\n")
    print(table(rows, [(f"k={k}", f"linzen_simple/test_{k}", "micro_accuracy")
                       for k in range(1, 6)]))
    print("\nClass-balanced accuracy per attractor group:\n")
    print(table(rows, [(f"k={k}", f"linzen_simple/test_{k}", "balanced_accuracy")
                       for k in range(1, 6)]))


if __name__ == "__main__":
    main(*sys.argv[1:])
