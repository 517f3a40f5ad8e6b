"""Writes summary.md: the quick budget study, one block per candidate budget.

  python docs/results/quick_budget/summarize.py

Reads <candidate>/results.json in this folder (each written by
scripts/reproduce.py with quick.gin and one gin_configs/mnist_c/quick_budget/
file, 3 seeds) and times.json (each candidate's wall time and load). Numbers
only: the accuracies and the paired effects (95% t intervals) come from the
results files as reproduce wrote them.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CANDIDATES = ("b1_cnn2_mlp4", "b2_cnn2_mlp8")
SETS = ("mnist_c/scale", "mnist_c/translate")
ARCHITECTURES = ("cnn", "mlp", "cnn→mlp", "mlp→mlp")
# The paper's orderings the budget must resolve (A, B): A − B > 0 on both sets.
ORDERINGS = (("cnn→mlp", "mlp"), ("cnn→mlp", "mlp→mlp"), ("cnn", "mlp"))


def load(*parts):
    with open(os.path.join(HERE, *parts)) as f:
        return json.load(f)


def label(row):
    return row["student"] if row["teacher"] is None else f"{row['teacher']}→{row['student']}"


def accuracy(results, setup, eval_set):
    row = next(r for r in results["rows"] if label(r) == setup and r["eval_set"] == eval_set
               and r["metric"] == "accuracy" and not r.get("baseline"))
    return f"{row['mean']:.3f} ± {row['std']:.3f}"


def effect(results, a, b, eval_set):
    return next(e for e in results["effects"] if (e["a"], e["b"], e["eval_set"], e["metric"])
                == (a, b, eval_set, "accuracy"))


def resolved_in_papers_direction(results):
    return all(effect(results, a, b, s)["low"] is not None and effect(results, a, b, s)["low"] > 0
               for a, b in ORDERINGS for s in SETS)


def block(name, results, time):
    lines = [f"## {name}", "",
             f"Wall time {time['wall_s']} s for 18 runs (3 seeds), 2 at a time; "
             f"{time['load']}. Every ordering resolved in the paper's direction: "
             f"**{'yes' if resolved_in_papers_direction(results) else 'no'}**.", "",
             "| accuracy (mean ± std, 3 seeds) | " + " | ".join(SETS) + " |",
             "|---|---|---|"]
    lines += [f"| {a} | " + " | ".join(accuracy(results, a, s) for s in SETS) + " |"
              for a in ARCHITECTURES]
    lines += ["", "| effect A − B | " + " | ".join(SETS) + " |", "|---|---|---|"]
    for a, b in ORDERINGS:
        cells = []
        for s in SETS:
            e = effect(results, a, b, s)
            cells.append(f"{e['mean']:+.3f} [{e['low']:+.3f}, {e['high']:+.3f}] {e['verdict']}")
        lines.append(f"| {a} − {b} | " + " | ".join(cells) + " |")
    return lines + [""]


def main():
    times = load("times.json")
    lines = ["# Quick budget study: summary", "",
             "Made by `python docs/results/quick_budget/summarize.py` from the results files in "
             "this folder. Effects: mean paired difference over 3 seeds (pairs by seed index) "
             "with its 95% t interval; the verdict compares its sign with the paper's.", ""]
    for name in CANDIDATES:
        lines += block(name, load(name, "results.json"), times[name])
    with open(os.path.join(HERE, "summary.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
