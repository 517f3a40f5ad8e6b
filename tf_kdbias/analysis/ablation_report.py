"""results.md tables and the bar figure of a recipe ablation (reproduce/ablation.py)."""

from typing import Dict, List, Optional

import numpy as np

from tf_kdbias.analysis.plotting import plt, save_figure
from tf_kdbias.reproduce import effects

ACCURACY_SETS = ("mnist", "mnist_c/scale", "mnist_c/translate")


def _cell(rows: List[Dict], row: str, teacher: Optional[str], eval_set: str, metric: str,
          digits: int = 3) -> str:
    match = [r for r in rows if (r["row"], r["teacher"], r["eval_set"], r["metric"])
             == (row, teacher, eval_set, metric)]
    if not match or match[0]["mean"] is None:
        return "—"
    r = match[0]
    spread = f" ± {r['std']:.{digits}f}" if r["n"] > 1 else ""
    return f"{r['mean']:.{digits}f}{spread}"


def _row_names(results: Dict) -> List[str]:
    return list(results["row_bindings"])


def _teachers(results: Dict) -> List[str]:
    return list(dict.fromkeys(r["teacher"] for r in results["rows"] if r["row"] == "teacher"))


def format_markdown(results: Dict, header: str = "") -> str:
    """One table per teacher: rows x (accuracy per eval set, penalty), then teachers,
    constant guess and each row's bindings."""
    rows = results["rows"]
    sets = [s for s in ACCURACY_SETS if any(r["eval_set"] == s for r in rows)]
    lines = [f"# {results['experiment']}", "", header, ""]
    if results.get("effects"):
        lines += [effects.format_effects_table(results["effects"], "accuracy"), ""]
    for teacher in _teachers(results):
        lines += [f"## {teacher} → MLP students (mean ± std over seeds)", "",
                  "| row | " + " | ".join(f"accuracy {s}" for s in sets)
                  + " | ece_paper translate | final L1+L2 penalty | n |",
                  "|---" * (len(sets) + 4) + "|"]
        for name in _row_names(results):
            n = next((r["n"] for r in rows if r["row"] == name and r["teacher"] == teacher), 0)
            cells = [_cell(rows, name, teacher, s, "accuracy") for s in sets]
            lines.append(f"| {name} | " + " | ".join(cells)
                         + f" | {_cell(rows, name, teacher, 'mnist_c/translate', 'ece_paper')}"
                         + f" | {_cell(rows, name, teacher, 'mnist', 'l1_l2_penalty', 4)} | {n} |")
        lines.append("")
    lines += ["## Teachers (mean ± std over seeds) and the constant guess", "",
              "| model | " + " | ".join(f"accuracy {s}" for s in sets) + " | final L1+L2 penalty |",
              "|---" * (len(sets) + 2) + "|"]
    for teacher in _teachers(results):
        lines.append(f"| {teacher} teacher | " + " | ".join(
            _cell(rows, "teacher", teacher, s, "accuracy") for s in sets)
            + f" | {_cell(rows, 'teacher', teacher, 'mnist', 'l1_l2_penalty', 4)} |")
    lines.append("| constant guess (training majority class) | " + " | ".join(
        _cell(rows, "constant_guess", None, s, "accuracy") for s in sets) + " | — |")
    lines += ["", "## Rows", "", "| row | gin files | bindings |", "|---|---|---|"]
    for name, spec in results["row_bindings"].items():
        lines.append(f"| {name} | {', '.join(spec['gin_files']) or '—'} | "
                     f"{'; '.join(f'`{b}`' for b in spec['bindings']) or '— (today)'} |")
    return "\n".join(lines) + "\n"


def plot(results: Dict, path: str) -> str:
    """One panel per eval set; bars per row, one colour per teacher, std error bars."""
    rows = results["rows"]
    names, teachers = _row_names(results), _teachers(results)
    sets = [s for s in ACCURACY_SETS if any(r["eval_set"] == s for r in rows)]
    figure, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 3.8), squeeze=False)
    width = 0.8 / max(1, len(teachers))
    for ax, eval_set in zip(axes[0], sets):
        for j, teacher in enumerate(teachers):
            stats = [next((r for r in rows if (r["row"], r["teacher"], r["eval_set"], r["metric"])
                           == (name, teacher, eval_set, "accuracy")), None) for name in names]
            means = [np.nan if s is None or s["mean"] is None else s["mean"] for s in stats]
            stds = [0.0 if s is None or s["std"] is None else s["std"] for s in stats]
            x = np.arange(len(names)) + (j - (len(teachers) - 1) / 2) * width
            ax.bar(x, means, width, yerr=stds, capsize=2, label=f"{teacher} → mlp")
            teacher_acc = _cell(rows, "teacher", teacher, eval_set, "accuracy")
            if teacher_acc != "—":
                ax.axhline(float(teacher_acc.split()[0]), ls="--", lw=0.8,
                           color=f"C{j}", label=f"{teacher} teacher")
        ax.set_xticks(np.arange(len(names)), names, rotation=40, ha="right", fontsize=8)
        ax.set_title(eval_set, fontsize=10)
        ax.set_ylabel("accuracy")
        finite = [r["mean"] for r in rows if r["eval_set"] == eval_set and r["metric"] == "accuracy"
                  and r["mean"] is not None and r["row"] != "constant_guess"]
        if finite:
            low, high = min(finite), max(finite)
            ax.set_ylim(max(0.0, low - 0.1 * (high - low + 0.05)), min(1.0, high + 0.02))
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, fontsize=8, loc="lower center", ncol=max(1, len(labels)),
                  bbox_to_anchor=(0.5, -0.06))
    figure.suptitle(f"{results['experiment']}: MLP students by recipe (mean ± std over seeds)",
                    fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path)
