"""Writes summary.md: the headline table of the function-matching experiment.

  python docs/results/transfer/summarize.py

Reads results.json (accuracies, mean ± std over 3 seeds) and analysis.json
(agreement with the CNN and transfer scores with 95% bootstrap intervals) of
this folder; numbers only, no new computation.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
EVAL_SETS = ("mnist", "mnist_c/scale", "mnist_c/translate")
# (results.json student, teacher) -> setup folder, label, what it trained on.
SETUPS = [
    (("cnn", None), "cnn", "CNN (teacher)", "plain images"),
    (("mlp", None), "mlp", "MLP alone", "plain images"),
    (("mlp_fm", None), "mlp_fm", "MLP alone, mixup (control)", "mixup views, mixed one-hot"),
    (("mlp", "cnn"), "cnn_to_mlp", "CNN→MLP, plain KD (a)", "plain images, cached logits"),
    (("mlp_fm", "cnn"), "cnn_to_mlp_fm", "CNN→MLP, function matching, live (b)",
     "mixup views, teacher per step"),
    (("mlp_fmcache", "cnn"), "cnn_to_mlp_fmcache", "CNN→MLP, function matching, view cache (c)",
     "mixup views, 8 cached views"),
    (("mlp", "mlp"), "mlp_to_mlp", "MLP→MLP, plain KD", "plain images, cached logits"),
    (("mlp_fm", "mlp"), "mlp_to_mlp_fm", "MLP→MLP, function matching, live",
     "mixup views, teacher per step"),
    (("mlp_fmcache", "mlp"), "mlp_to_mlp_fmcache", "MLP→MLP, function matching, view cache",
     "mixup views, 8 cached views"),
]
STUDENTS = ("cnn_to_mlp", "cnn_to_mlp_fm", "cnn_to_mlp_fmcache")
CONTROLS = (("mlp", "MLP alone"), ("mlp_fm", "MLP alone, mixup"))


def load(name):
    with open(os.path.join(HERE, name)) as f:
        return json.load(f)


def accuracy_cells(results, student, teacher):
    rows = {r["eval_set"]: r for r in results["rows"]
            if (r["student"], r["teacher"], r["metric"]) == (student, teacher, "accuracy")}
    return [f"{rows[e]['mean']:.3f} ± {rows[e]['std']:.3f}" for e in EVAL_SETS]


def agreement_cells(analysis, setup):
    if setup == "cnn":
        return ["—", "—"]
    sets = analysis["transfer"]["agreement"]["cnn"][setup]["eval_sets"]
    return [f"{sets[e]['agreement']['mean']:.3f} ± {sets[e]['agreement']['std']:.3f}"
            for e in ("mnist_c/scale", "mnist_c/translate")]


def score_cell(entry):
    if entry["score"] is None:
        return "undefined"
    interval = ("interval undefined" if entry["low"] is None
                else f"{entry['low']:.3f}, {entry['high']:.3f}")
    return f"{entry['score']:.3f} [{interval}]"


def summary_text() -> str:
    """summary.md's content, from this folder's results.json and analysis.json."""
    results, analysis = load("results.json"), load("analysis.json")
    lines = ["# Did the bias transfer? CNN→MLP with plain KD and with function matching", "",
             "Accuracy (mean ± std over 3 seeds) and top-1 agreement with the CNN of the same "
             "seed index (the student's own teacher), from results.json and analysis.json.", "",
             "| setup | trained on | mnist | scale | translate | agreement with CNN, scale "
             "| agreement with CNN, translate |", "|---|---|---|---|---|---|---|"]
    for (student, teacher), setup, label, data in SETUPS:
        cells = accuracy_cells(results, student, teacher) + agreement_cells(analysis, setup)
        lines.append(f"| {label} | {data} | " + " | ".join(cells) + " |")
    guess = accuracy_cells(results, "train_majority", None)
    lines.append("| constant guess (training majority) | — | " + " | ".join(
        cell.split(" ± ")[0] for cell in guess) + " | — | — |")
    lines += ["", "Transfer score (acc(student) − acc(control)) / (acc(CNN) − acc(control)), "
              "95% bootstrap interval over seeds and examples:", "",
              "| student | control | scale | translate |", "|---|---|---|---|"]
    scores = analysis["transfer"]["scores"]
    for student in STUDENTS:
        label = next(label for _, setup, label, _ in SETUPS if setup == student)
        for control, control_label in CONTROLS:
            cells = [score_cell(scores[e][student][control])
                     for e in ("mnist_c/scale", "mnist_c/translate")]
            lines.append(f"| {label} | {control_label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    with open(os.path.join(HERE, "summary.md"), "w") as f:
        f.write(summary_text())


if __name__ == "__main__":
    main()
