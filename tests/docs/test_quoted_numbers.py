"""Numbers quoted in README.md and docs/ match the committed results files they cite.

Each claim names a results file under docs/results/, the row it reads and how the
doc prints it; the test formats the number from the file and looks for it in the
doc, so a rerun that changes a result, or an edit that changes a quote, fails here
until both agree again.
"""

import json
import os

import pytest

from tests.conftest import REPO_ROOT

ABLATION = "docs/results/mnist_ablation/results.json"


def _load(path):
    with open(os.path.join(REPO_ROOT, path)) as f:
        return json.load(f)


def _doc(path):
    with open(os.path.join(REPO_ROOT, path)) as f:
        return f.read()


def _row(results, **match):
    rows = [r for r in results["rows"] if all(r.get(k) == v for k, v in match.items())]
    assert len(rows) == 1, (match, len(rows))
    return rows[0]


def mean_std(row, digits=3):
    return f"{row['mean']:.{digits}f} ± {row['std']:.{digits}f}"


def mean(row, digits=3):
    return f"{row['mean']:.{digits}f}"


def _ablation(row, teacher, eval_set, metric="accuracy"):
    return dict(row=row, teacher=teacher, eval_set=eval_set, metric=metric)


# (doc, results file, row selector, formatter)
CLAIMS = [
    *[("README.md", ABLATION, _ablation(row, teacher, eval_set), mean_std)
      for row, teacher, sets in (
          ("today", "cnn", ("mnist_c/scale", "mnist_c/translate")),
          ("soft_ce", "cnn", ("mnist_c/scale", "mnist_c/translate")),
          ("today", "mlp", ("mnist_c/scale",)),
          ("soft_ce", "mlp", ("mnist_c/scale",)),
          ("teacher_training", "cnn", ("mnist_c/scale", "mnist_c/translate")),
          ("schedule_eps", "cnn", ("mnist_c/scale", "mnist_c/translate")),
          ("all_60k", "cnn", ("mnist_c/scale", "mnist_c/translate")),
          ("faithful", "cnn", ("mnist_c/scale", "mnist_c/translate")),
          ("faithful", "mlp", ("mnist_c/scale", "mnist_c/translate")))
      for eval_set in sets],
    ("README.md", ABLATION, _ablation("soft_ce", "cnn", "mnist", "l1_l2_penalty"),
     lambda r: mean(r, 4)),
    ("README.md", ABLATION, _ablation("today", "cnn", "mnist", "l1_l2_penalty"),
     lambda r: mean(r, 4)),
    ("README.md", ABLATION, _ablation("teacher", "mlp", "mnist_c/scale"), mean),
    ("README.md", ABLATION, _ablation("teacher", "mlp", "mnist_c/translate"), mean),
    ("README.md", ABLATION, _ablation("teacher", "cnn", "mnist_c/translate"), mean),
]


@pytest.mark.parametrize("doc, results_file, selector, formatter", CLAIMS)
def test_quoted_number_matches_its_results_file(doc, results_file, selector, formatter):
    quoted = formatter(_row(_load(results_file), **selector))
    assert quoted in _doc(doc), f"{doc} should quote {quoted} from {results_file} {selector}"


def test_quoted_differences_match_the_ablation():
    """The teacher's lead (CNN->MLP minus MLP->MLP) the README quotes, per recipe."""
    results, readme = _load(ABLATION), _doc("README.md")
    for eval_set in ("mnist_c/scale", "mnist_c/translate"):
        leads = [_row(results, **_ablation(row, "cnn", eval_set))["mean"]
                 - _row(results, **_ablation(row, "mlp", eval_set))["mean"]
                 for row in ("today", "faithful")]
        assert f"({leads[0]:+.3f} → {leads[1]:+.3f})".replace("-", "−") in readme, eval_set


def test_every_cited_results_folder_exists():
    """Links from the docs into docs/results/ point at committed files."""
    import re

    for doc in ("README.md", *[os.path.join("docs", f) for f in os.listdir(
            os.path.join(REPO_ROOT, "docs")) if f.endswith(".md")]):
        for link in re.findall(r"\((docs/results/[^)#\s]+)\)", _doc(doc)):
            assert os.path.exists(os.path.join(REPO_ROOT, link)), f"{doc} cites missing {link}"


QUICK = "docs/results/mnist_quick/results.json"


@pytest.mark.parametrize("metric", ["accuracy", "ece_paper"])
def test_readme_quick_tables_are_the_results_files_tables(metric):
    """The README's quick tables are what reproduce_lib prints for the committed file."""
    from tf_kdbias.reproduce import plan as reproduce_lib

    table = reproduce_lib.format_summary_table(_load(QUICK), reproduce_lib.paper_rows("mnist"),
                                               metric)
    assert table in _doc("README.md")
    assert table in _doc("docs/results/mnist_quick/results.md")


def test_readme_quick_prose_quotes_the_table():
    results, readme = _load(QUICK), _doc("README.md")
    section = readme[readme.index("### MNIST → MNIST-C, quick"):readme.index("Cross-check of")]
    prose = section[section.index("What carries over"):]
    quoted = {("cnn", None, "mnist_c/translate"), ("mlp", None, "mnist_c/translate"),
              ("mlp", "cnn", "mnist_c/translate"), ("mlp", "mlp", "mnist_c/translate"),
              ("mlp", "cnn", "mnist_c/scale"), ("mlp", None, "mnist_c/scale"),
              ("cnn", "mlp", "mnist_c/translate")}
    for student, teacher, eval_set in quoted:
        row = _row(results, student=student, teacher=teacher, eval_set=eval_set,
                   metric="accuracy")
        assert mean(row) in prose, (student, teacher, eval_set)
    constant = _row(_load(ABLATION), row="constant_guess", eval_set="mnist_c/scale")
    assert f"scores {mean(constant)} on each set" in section
    assert f"{_load(QUICK)['wall_time_s']:.0f} s wall time" in section


SVA_SIMPLE = "docs/results/sva_linzen_simple/results.json"


def _sva(student, teacher, eval_set, metric):
    return dict(student=student, teacher=teacher, eval_set=eval_set, metric=metric)


SVA_CLAIMS = [
    *[(doc, SVA_SIMPLE, _sva(student, teacher, "linzen_simple/test", metric), mean_std)
      for doc in ("README.md", "docs/SVA.md", "docs/results/sva_linzen_simple/README.md")
      for student, teacher, metric in (
          ("lstm", None, "a_accuracy"), ("transformer", None, "a_accuracy"),
          ("transformer", "lstm", "a_accuracy"), ("transformer", "lstm", "ece_paper"),
          ("transformer", None, "ece_paper"), ("transformer", "transformer", "ece_paper"))],
    *[(doc, SVA_SIMPLE, _sva(student, teacher, "linzen_simple/test", metric), mean_std)
      for doc in ("docs/SVA.md", "docs/results/sva_linzen_simple/README.md")
      for student, teacher, metric in (
          ("lstm", None, "balanced_a_accuracy"), ("transformer", None, "balanced_a_accuracy"),
          ("transformer", "transformer", "a_accuracy"))],
    ("README.md", SVA_SIMPLE, _sva("always_plural", None, "linzen_simple/test", "a_accuracy"),
     mean),
]


@pytest.mark.parametrize("doc, results_file, selector, formatter", SVA_CLAIMS)
def test_quoted_sva_number_matches_its_results_file(doc, results_file, selector, formatter):
    test_quoted_number_matches_its_results_file(doc, results_file, selector, formatter)


def test_sva_summary_is_the_script_output_and_docs_quote_its_rows(capsys):
    import importlib.util

    path = os.path.join(REPO_ROOT, "docs", "results", "sva_linzen_simple", "summarize.py")
    spec = importlib.util.spec_from_file_location("summarize", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main()
    printed = capsys.readouterr().out
    assert printed == _doc("docs/results/sva_linzen_simple/summary.md")
    sva_doc = _doc("docs/SVA.md")
    model_rows = [line for line in printed.splitlines()[6:17]
                  if line.startswith("| lstm") or line.startswith("| transformer")
                  or line.startswith("| utransformer")]
    assert len(model_rows) == 8
    for line in model_rows:
        assert line in sva_doc, line


SVA_REG = "docs/results/sva_linzen_simple_authors_reg/results.json"
SVA_REG_CLAIMS = [
    *[(doc, SVA_REG, _sva("lstm", None, "linzen_simple/test", "a_accuracy"), mean_std)
      for doc in ("README.md", "docs/SVA.md", "docs/results/sva_linzen_simple_authors_reg/README.md")],
    *[(doc, SVA_REG, _sva(student, teacher, "linzen_simple/test", metric), mean_std)
      for doc in ("docs/SVA.md", "docs/results/sva_linzen_simple_authors_reg/README.md")
      for student, teacher, metric in (("lstm", None, "balanced_a_accuracy"),
                                       ("transformer", "lstm", "a_accuracy"),
                                       ("transformer", None, "a_accuracy"))],
    *[("docs/results/sva_linzen_simple_authors_reg/README.md", SVA_REG,
       _sva(student, teacher, "linzen_simple/test", metric), mean_std)
      for student, teacher, metric in (("lstm", None, "ece_paper"),
                                       ("transformer_seq", None, "a_accuracy"),
                                       ("utransformer_seq", None, "a_accuracy"),
                                       ("transformer", "transformer", "a_accuracy"))],
]


@pytest.mark.parametrize("doc, results_file, selector, formatter", SVA_REG_CLAIMS)
def test_quoted_regularised_sva_number_matches_its_results_file(doc, results_file, selector,
                                                                formatter):
    test_quoted_number_matches_its_results_file(doc, results_file, selector, formatter)


BENCHMARK = "docs/results/benchmark_quick/benchmark.json"


def test_readme_speed_figures_come_from_the_benchmark_report():
    report, readme = _load(BENCHMARK), _doc("README.md")
    speed = readme[readme.index("## Speed"):readme.index("## Open items")]
    ratios = report["ratios"]
    gap = next(t["value"] for t in report["targets"]
               if t["name"] == "accuracy_gap_ours_cached_vs_keras_distiller")
    for quoted in (f"{report['wall_time_s']:.0f} s",
                   f"{ratios['cached_over_student_only']:.2f}× the student-only epoch",
                   f"{ratios['ours_cached_over_keras_distiller_paper_cnn']:.2f}× Keras' Distiller",
                   f"within {gap:.4f}",
                   f"({100 * ratios['pipeline_overhead']:.1f}%)".replace("-", "−")):
        assert quoted in speed, quoted
    assert report["machine"]["cores"] == 2 and not report["machine"]["gpu"]
