"""Constant-guess baselines of every offline SVA source's eval sets.

Scores `always_plural`, `always_singular` and `train_majority` with the SVA
task's own metric code (`SvaTask.baseline_metrics`, the rows reproduce.py
adds to every SVA table), from the labels alone; no training.

  python docs/results/sva_baselines/make_baselines.py --data_dir=../shared/data \
      --out=docs/results/sva_baselines
"""

import argparse
import os
import platform
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))

from tf_kdbias import io_utils  # noqa: E402
from tf_kdbias.experiments.gin_utils import parse_gin  # noqa: E402

# source gin file -> eval sets, as the tables use them.
SOURCES = {
    "gin_configs/sva/source_grammar.gin": ["sva/test"],
    "gin_configs/sva/source_grammar_fronted.gin": ["sva/test"],
    "gin_configs/sva/source_linzen_small.gin": ["sva/test"],
    "gin_configs/sva/source_linzen_simple.gin": [
        "sva/test"] + [f"linzen_simple/test_{k}" for k in range(1, 6)] + ["linzen_simple/test"],
}
SHOWN = ["count", "micro_accuracy", "balanced_accuracy", "a_accuracy", "balanced_a_accuracy"]


def source_baselines(source_gin, eval_sets, data_dir):
    parse_gin(["gin_configs/sva/lstm.gin", source_gin], [])
    from tf_kdbias.tasks.sva_classification import SvaClassificationTask
    task = SvaClassificationTask()
    train, validation = task.load_training_splits(data_dir, seed=0)
    splits = {"train": len(train), "validation": len(validation),
              "train_plural_share": float(train.labels.mean())}
    return task.source.name, splits, task.baseline_metrics(data_dir, eval_sets)


def groups_cell(metrics):
    keys = sorted(k for k in metrics if k.startswith("accuracy_attractors_"))
    return " / ".join("n/a" if metrics[k] is None else f"{metrics[k]:.3f}" for k in keys)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    results, lines = {}, []
    for source_gin, eval_sets in SOURCES.items():
        name, splits, baselines = source_baselines(source_gin, eval_sets,
                                                   os.path.abspath(args.data_dir))
        results[source_gin] = {"source": name, "splits": splits, "baselines": baselines}
        lines += [f"## {name} (`{source_gin}`)", "",
                  f"Training split {splits['train']} examples ({splits['train_plural_share']:.3f} "
                  f"plural), validation {splits['validation']}.", "",
                  "| guess | eval set | n | micro | class-balanced | A-acc | class-balanced A | "
                  "accuracy per attractor group |", "|---|---|---|---|---|---|---|---|"]
        for guess, by_set in baselines.items():
            for eval_set, m in by_set.items():
                cells = ["n/a" if m[k] is None else (f"{m[k]}" if k == "count" else f"{m[k]:.3f}")
                         for k in SHOWN]
                lines.append(f"| {guess} | {eval_set} | " + " | ".join(cells)
                             + f" | {groups_cell(m)} |")
        lines.append("")
    command = "python " + " ".join(sys.argv)
    machine = {"platform": platform.platform(), "python": platform.python_version()}
    io_utils.write_json_atomic(os.path.join(args.out, "results.json"),
                               {"command": command, "machine": machine, "results": results})
    header = ["# Constant-guess baselines of the offline SVA sources", "",
              f"Command: `{command}` (labels only, no training; {machine['platform']}).",
              "Groups are the eval set's attractor counts in order (0-4; 1-5 for "
              "linzen_simple). train_majority = the training split's more frequent number.", ""]
    io_utils.write_text_atomic(os.path.join(args.out, "results.md"),
                               "\n".join(header + lines))
    print("\n".join(header + lines))


if __name__ == "__main__":
    main()
