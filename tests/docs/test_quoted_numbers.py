"""Numbers quoted in README.md and docs/ match the committed results files they cite.

Each claim names a results file under docs/results/, the row it reads and how the
doc prints it; the test formats the number from the file and looks for it in the
doc, so a rerun that changes a result, or an edit that changes a quote, fails here
until both agree again.
"""

import json
import re
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


ABLATION_MD = "docs/results/mnist_ablation/results.md"


def check_quoted_number(doc, results_file, selector, formatter):
    quoted = formatter(_row(_load(results_file), **selector))
    assert quoted in _doc(doc), f"{doc} should quote {quoted} from {results_file} {selector}"


def _fidelity_section():
    readme = _doc("README.md")
    return readme[readme.index("### Fidelity"):readme.index("## Subject-verb agreement")]


def _ablation_effect(a, b, eval_set, metric="accuracy"):
    (entry,) = [e for e in _load(ABLATION)["effects"]
                if (e["a"], e["b"], e["eval_set"], e["metric"]) == (a, b, eval_set, metric)]
    return entry


def test_ablation_results_md_leads_with_its_effects():
    from tf_kdbias.reproduce import effects

    markdown = _doc(ABLATION_MD)
    table = effects.format_effects_table(_load(ABLATION)["effects"], "accuracy")
    assert markdown.index(table) < markdown.index("## cnn → MLP students")


def test_readme_fidelity_effects_are_the_ablations():
    """Each effect row the README shows is a row of the ablation's effects table."""
    rows = [line for line in _fidelity_section().splitlines()
            if line.count("|") == 9 and "student" in line]
    assert len(rows) == 26
    for line in rows:
        assert line in _doc(ABLATION_MD), line


def test_readme_fidelity_prose_quotes_the_ablation():
    section = _flat(_fidelity_section())
    cnn, mlp = "(cnn→student)", "(mlp→student)"
    soft = _ablation_effect(f"soft_ce {mlp}", f"today {mlp}", "mnist_c/scale")
    _assert_quoted(f"`scale` accuracy too (+{soft['mean']:.3f})", section, "README.md")
    for eval_set in ("mnist_c/scale", "mnist_c/translate"):
        for teacher in (cnn, mlp):
            full = _ablation_effect(f"faithful {teacher}", f"soft_ce {teacher}", eval_set)
            assert full["verdict"] == "not resolved", (teacher, eval_set)
        assert _ablation_effect(f"teacher_training {cnn}", f"today {cnn}",
                                eval_set)["verdict"] == "not resolved"
        assert _ablation_effect(f"today {cnn}", f"today {mlp}", eval_set)["verdict"] == \
            "not resolved"
        assert _ablation_effect(f"faithful_bn_batch {cnn}", f"faithful {cnn}",
                                eval_set)["verdict"] == "not resolved"
    schedule = [_ablation_effect(f"schedule_eps {cnn}", f"today {cnn}", s)["mean"]
                for s in ("mnist_c/scale", "mnist_c/translate")]
    _assert_quoted(f"(+{schedule[0]:.3f} / +{schedule[1]:.3f}", section, "README.md")
    images = _ablation_effect(f"all_60k {cnn}", f"today {cnn}", "mnist_c/translate")
    assert images["low"] > 0
    _assert_quoted(f"CNN-taught students (+{images['mean']:.3f})", section, "README.md")
    leads = [_ablation_effect(f"faithful {cnn}", f"faithful {mlp}", s)
             for s in ("mnist_c/scale", "mnist_c/translate")]
    assert all(e["low"] > 0 for e in leads)
    _assert_quoted(f"(+{leads[0]['mean']:.3f} and +{leads[1]['mean']:.3f}, resolved)", section,
                   "README.md")
    alone = _ablation_effect(f"faithful {cnn}", "mlp alone", "mnist_c/translate")
    assert alone["high"] < 0
    penalties = [_row(_load(ABLATION), **_ablation(r, "cnn", "mnist", "l1_l2_penalty"))["mean"]
                 for r in ("today", "soft_ce")]
    _assert_quoted(f"falls from {penalties[0]:.4f} to {penalties[1]:.4f}", section, "README.md")
    cnn_scale = _row(_load(ABLATION), **_ablation("teacher", "cnn", "mnist_c/scale"))
    _assert_quoted(f"varies by ± {cnn_scale['std']:.3f}", section, "README.md")
    assert cnn_scale["n"] == 3


def test_every_cited_results_folder_exists():
    """Links from the docs into docs/results/ point at committed files."""
    import re

    for doc in ("README.md", *[os.path.join("docs", f) for f in os.listdir(
            os.path.join(REPO_ROOT, "docs")) if f.endswith(".md")]):
        for link in re.findall(r"\((docs/results/[^)#\s]+)\)", _doc(doc)):
            assert os.path.exists(os.path.join(REPO_ROOT, link)), f"{doc} cites missing {link}"


QUICK = "docs/results/mnist_quick/results.json"
QUICK_MD = "docs/results/mnist_quick/results.md"


def _quick_section():
    readme = _doc("README.md")
    return readme[readme.index("### MNIST → MNIST-C, quick"):readme.index("Cross-check of")]


@pytest.mark.parametrize("metric", ["accuracy", "ece_paper"])
def test_quick_results_md_is_what_reproduce_writes_from_its_json(metric):
    """results.md's effects and summary tables are reproduce.results' formatting of results.json."""
    from tf_kdbias.reproduce import effects, results

    data, markdown = _load(QUICK), _doc(QUICK_MD)
    assert effects.format_effects_table(data["effects"], metric) in markdown
    assert results.format_summary_table(data, results.paper_rows("mnist"), metric) in markdown
    assert markdown.index("Effects on accuracy") < markdown.index("| accuracy: ours (paper) |")


def test_readme_quick_tables_are_the_results_files_tables():
    from tf_kdbias.reproduce import results

    table = results.format_summary_table(_load(QUICK), results.paper_rows("mnist"), "accuracy")
    assert table in _quick_section()
    effect_lines = [line for line in _quick_section().splitlines()
                    if line.startswith("| cnn") or line.startswith("| mlp")]
    effect_lines = [line for line in effect_lines if line.count("|") == 9]
    assert len(effect_lines) == 14
    for line in effect_lines:
        assert line in _doc(QUICK_MD), line


def _quick_effect(a, b, eval_set, metric="accuracy"):
    (entry,) = [e for e in _load(QUICK)["effects"]
                if (e["a"], e["b"], e["eval_set"], e["metric"]) == (a, b, eval_set, metric)]
    return entry


def test_readme_quick_prose_quotes_the_effects():
    section = _flat(_quick_section())
    translate = _quick_effect("cnn→mlp", "mlp", "mnist_c/translate")
    assert translate["low"] > 0 and _quick_effect("cnn→mlp", "mlp", "mnist_c/scale")["low"] > 0
    _assert_quoted(f"(+{translate['mean']:.3f} vs +{translate['paper_difference']:.3f} on "
                   "`translate`)", section, "README.md")
    teachers = _quick_effect("mlp→cnn", "cnn→cnn", "mnist_c/translate")
    _assert_quoted(f"on `translate` (+{teachers['mean']:.3f}), where the paper has them even "
                   f"(−{-teachers['paper_difference']:.3f})", section, "README.md")
    ece = _quick_effect("cnn→mlp", "mlp", "mnist_c/translate", "ece_paper")
    _assert_quoted(f"lower than the MLP alone's by {-ece['mean']:.3f} [{-ece['high']:.3f}, "
                   f"{-ece['low']:.3f}] (the paper: {-ece['paper_difference']:.3f})", section,
                   "README.md")
    assert _load(QUICK)["runs_finished"] == 30  # 6 setups x 5 seeds, as the README says.
    assert "five seeds" in section


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
    check_quoted_number(doc, results_file, selector, formatter)


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
    check_quoted_number(doc, results_file, selector, formatter)


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



ANALYSIS_DIR = "docs/results/analysis_quick2"
ANALYSIS = f"{ANALYSIS_DIR}/analysis.json"
ANALYSIS_RESULTS = f"{ANALYSIS_DIR}/results.json"
SETUP_LABELS = {"cnn": "CNN", "mlp": "MLP", "cnn_to_mlp": "CNN→MLP", "mlp_to_mlp": "MLP→MLP"}


def _flat(text):
    """Prose with its line breaks read as spaces (table rows survive unchanged)."""
    return " ".join(text.split())


def _measured():
    """docs/ANALYSIS.md from "Measured" on, where the analysis_quick2 numbers live."""
    doc = _doc("docs/ANALYSIS.md")
    return _flat(doc[doc.index("### Measured"):])


def _readme_analysis():
    readme = _doc("README.md")
    return _flat(readme[readme.index("## Analysis"):readme.index("## Scaling out")])


def _assert_quoted(quoted, text, where):
    assert _flat(quoted) in text, f"{where} should quote: {quoted}"


def _span(values):
    low, high = f"{min(values):.3f}", f"{max(values):.3f}"
    return low if low == high else f"{low}–{high}"


def _matrix(analysis, measure):
    return analysis["similarity"].get(measure) or analysis["behaviour"][measure]


def _between(analysis, measure, run, other):
    names = [r["name"] for r in analysis["runs"]]
    return _matrix(analysis, measure)[names.index(run)][names.index(other)]


def _to_same_seed_cnn(analysis, setup, measure):
    """Each run of a setup against the CNN run of its seed index (seeds 0 and 1)."""
    return [_between(analysis, measure, f"{setup}/seed_{k}", f"cnn/seed_{k}") for k in (0, 1)]


def test_analysis_summary_is_format_summary_of_the_committed_json():
    """analysis.md is what analyze.py prints for the committed analysis.json."""
    from tf_kdbias.analysis import report

    assert report.format_summary(_load(ANALYSIS)) + "\n" == _doc(f"{ANALYSIS_DIR}/analysis.md")


@pytest.mark.parametrize("heading", [
    "| student | control |",                    # transfer scores
    "Top-1 agreement with the CNN run",          # agreement and KL with the CNN
    "| setup | training augmentation |",         # robustness
    "Mean loss barrier on the straight line",    # barriers
])
def test_analysis_doc_copies_the_summary_tables(heading):
    """Tables docs/ANALYSIS.md copies from analysis.md, row for row."""
    summary = _doc(f"{ANALYSIS_DIR}/analysis.md")
    table = next(block for block in summary[summary.index(heading):].split("\n\n")
                 if block.startswith("| "))
    rows = table.splitlines()[2:]
    assert rows
    for row in rows:
        _assert_quoted(row, _measured(), "docs/ANALYSIS.md")


def test_analysis_similarity_table_matches_the_json():
    analysis, measured = _load(ANALYSIS), _measured()
    columns = ("rsa", "linear_cka", "debiased_cka", "agreement", "error_jaccard")
    for setup in ("mlp", "cnn_to_mlp", "mlp_to_mlp"):
        values = {m: _to_same_seed_cnn(analysis, setup, m) for m in columns}
        for k in (0, 1):
            cells = [f"{values[m][k]:.3f}" for m in columns]
            if setup == "cnn_to_mlp":
                cells = [f"**{c}**" for c in cells]
            _assert_quoted(f"| {SETUP_LABELS[setup]} s{k} | " + " | ".join(cells) + " |",
                           measured, "docs/ANALYSIS.md")
    cells = [f"{_between(analysis, m, 'cnn/seed_1', 'cnn/seed_0'):.3f}" for m in columns]
    _assert_quoted("| CNN s1 (the other CNN, for scale) | " + " | ".join(cells) + " |",
                   measured, "docs/ANALYSIS.md")


def test_analysis_similarity_prose_matches_the_json():
    """The ranges docs/ANALYSIS.md and the README compare, and the caveats' numbers."""
    analysis, measured, readme = _load(ANALYSIS), _measured(), _readme_analysis()
    students, others = {}, {}
    for m in ("rsa", "linear_cka", "agreement"):
        students[m] = _span(_to_same_seed_cnn(analysis, "cnn_to_mlp", m))
        others[m] = _span(_to_same_seed_cnn(analysis, "mlp", m)
                          + _to_same_seed_cnn(analysis, "mlp_to_mlp", m))
    _assert_quoted(f"linear CKA {students['linear_cka']} against {others['linear_cka']}, "
                   f"RSA {students['rsa']} against {others['rsa']}, top-1 agreement "
                   f"{students['agreement']} against {others['agreement']}",
                   measured, "docs/ANALYSIS.md")
    _assert_quoted(f"{students['linear_cka']} for CNN→MLP students against "
                   f"{others['linear_cka']}", readme, "README.md")
    _assert_quoted(f"(RSA {students['rsa']} against {others['rsa']})", readme, "README.md")

    other_cnn = [_between(analysis, "linear_cka", f"cnn_to_mlp/seed_{k}", f"cnn/seed_{1 - k}")
                 for k in (0, 1)]
    _assert_quoted(f"(linear CKA {other_cnn[0]:.3f} and {other_cnn[1]:.3f})", measured,
                   "docs/ANALYSIS.md")
    to_mlp = analysis["similarity_summary"]["mean_to_setup"]["mlp"]
    _assert_quoted(f"(RSA {to_mlp['cnn_to_mlp']['rsa']:.3f}, linear CKA "
                   f"{to_mlp['cnn_to_mlp']['linear_cka']:.3f}) is not far below that of two "
                   f"MLPs to each other ({to_mlp['mlp']['rsa']:.3f}, "
                   f"{to_mlp['mlp']['linear_cka']:.3f})", measured, "docs/ANALYSIS.md")
    shared = [_between(analysis, "error_jaccard", f"cnn_to_mlp/seed_{k}", f"mlp/seed_{j}")
              for k in (0, 1) for j in (0, 1)]
    _assert_quoted(f"(error Jaccard {_span(shared)})", measured, "docs/ANALYSIS.md")

    linear, debiased = analysis["similarity"]["linear_cka"], analysis["similarity"]["debiased_cka"]
    gap = max(abs(a - b) for ra, rb in zip(linear, debiased) for a, b in zip(ra, rb))
    _assert_quoted(f"differ by at most {gap:.3f}", measured, "docs/ANALYSIS.md")
    cnns = [_between(analysis, m, "cnn/seed_0", "cnn/seed_1") for m in ("rsa", "linear_cka")]
    _assert_quoted(f"({cnns[0]:.3f} between the two seeds)", measured, "docs/ANALYSIS.md")
    _assert_quoted(f"separates them better ({cnns[1]:.3f})", measured, "docs/ANALYSIS.md")
    stress = [analysis["mds"][m]["stress"] for m in ("rsa", "linear_cka")]
    _assert_quoted(f"(left RSA, stress {stress[0]:.3f}; right linear CKA, stress "
                   f"{stress[1]:.3f})", _flat(_doc("docs/ANALYSIS.md")), "docs/ANALYSIS.md")


def test_analysis_accuracies_and_times_match_the_results_files():
    results, measured = _load(ANALYSIS_RESULTS), _measured()
    for eval_set in ("mnist_c/translate", "mnist_c/scale"):
        accuracies = [mean(_row(results, student=s, teacher=t, eval_set=eval_set,
                                metric="accuracy"))
                      for s, t in (("cnn", None), ("mlp", None), ("mlp", "cnn"), ("mlp", "mlp"))]
        _assert_quoted("`{}`: CNN {}, MLP {}, CNN→MLP {}, MLP→MLP {}".format(eval_set, *accuracies),
                       measured, "docs/ANALYSIS.md")
    alone = _row(results, student="mlp", teacher=None, eval_set="mnist_c/scale",
                 metric="accuracy")["values"]
    _assert_quoted(f"the two MLPs alone score {alone[0]:.3f} and {alone[1]:.3f}", measured,
                   "docs/ANALYSIS.md")
    _assert_quoted(f"({results['wall_time_s']:.0f} s for the runs, "
                   f"{_load(ANALYSIS)['wall_time_s']:.0f} s for the analysis)", measured,
                   "docs/ANALYSIS.md")
    readme = _flat(_doc(f"{ANALYSIS_DIR}/README.md"))
    _assert_quoted(f"{results['wall_time_s']:.0f} s inside the invocation", readme, ANALYSIS_DIR)
    _assert_quoted(f"sum to {results['runs_time_s']:.0f} s", readme, ANALYSIS_DIR)
    _assert_quoted(f"`analyze.py`: {_load(ANALYSIS)['wall_time_s']:.0f} s", readme, ANALYSIS_DIR)


def _interval(score):
    return f"{score['score']:.3f} [{score['low']:.3f}, {score['high']:.3f}]"


def test_analysis_transfer_prose_matches_the_json():
    scores, measured = _load(ANALYSIS)["transfer"]["scores"], _measured()
    translate = scores["mnist_c/translate"]["cnn_to_mlp"]["mlp"]
    _assert_quoted(f"{_interval(translate)} of it over the MLP alone", measured,
                   "docs/ANALYSIS.md")
    _assert_quoted(f"{_interval(translate)} of the CNN's accuracy advantage over the MLP on "
                   f"`mnist_c/translate`", _readme_analysis(), "README.md")
    scale = scores["mnist_c/scale"]["cnn_to_mlp"]["mlp"]
    assert scale["low"] < 0 < scale["high"]                    # "includes 0"
    _assert_quoted(f"the interval against the MLP alone, [{scale['low']:.3f}, "
                   f"{scale['high']:.3f}], includes 0", measured, "docs/ANALYSIS.md")
    clean = scores["mnist"]["cnn_to_mlp"]
    accuracy = clean["mlp"]["accuracy"]
    assert 0 < accuracy["teacher"] - accuracy["control"] < 0.001
    _assert_quoted(f"({accuracy['teacher']:.4f} against {accuracy['control']:.4f})", measured,
                   "docs/ANALYSIS.md")
    _assert_quoted(f"vanishes in {100 * clean['mlp']['undefined_fraction']:.1f}% of the "
                   f"bootstrap resamples, and the ratios {clean['mlp']['score']:.3f} and "
                   f"{clean['mlp_to_mlp']['score']:.3f}", measured, "docs/ANALYSIS.md")
    no_gap = [name.split("/")[1] for name, by_control in scores.items()
              if name.startswith("mnist_c/") and name != "mnist_c/identity"
              and by_control["cnn_to_mlp"]["mlp"]["score"] is None]
    _assert_quoted(f"MLP alone on {len(no_gap)} ({', '.join(no_gap)})", measured,
                   "docs/ANALYSIS.md")
    for name in no_gap:
        accuracy = scores[f"mnist_c/{name}"]["cnn_to_mlp"]["mlp"]["accuracy"]
        assert accuracy["teacher"] <= accuracy["control"], name
    canny = scores["mnist_c/canny_edges"]["cnn_to_mlp"]["mlp"]
    assert canny["score"] > 1
    _assert_quoted(f"canny_edges ({_interval(canny)})", measured, "docs/ANALYSIS.md")


def test_analysis_paper_scores_use_the_paper_accuracies():
    """"For scale": transfer scores of the paper's accuracies (paper_results.json, the
    paper column of the committed results.md)."""
    from tf_kdbias.reproduce import results

    paper = {(r["student"], r["teacher"], r["eval_set"]): r["mean"]
             for r in results.paper_rows("mnist") if r["metric"] == "accuracy"}
    doc, table = _flat(_doc("docs/ANALYSIS.md")), _doc(f"{ANALYSIS_DIR}/results.md")
    for eval_set in ("mnist_c/translate", "mnist_c/scale"):
        student, teacher = paper[("mlp", "cnn", eval_set)], paper[("cnn", None, eval_set)]
        for control in (paper[("mlp", None, eval_set)], paper[("mlp", "mlp", eval_set)]):
            score = (student - control) / (teacher - control)
            _assert_quoted(f"({student:.3f} − {control:.3f}) / ({teacher:.3f} − {control:.3f}) "
                           f"= {score:.3f}", doc, "docs/ANALYSIS.md")
            assert f"({control:.3f})" in table
        assert f"({student:.3f})" in table and f"({teacher:.3f})" in table
    control = paper[("mlp", None, "mnist_c/translate")]
    score = ((paper[("mlp", "cnn", "mnist_c/translate")] - control)
             / (paper[("cnn", None, "mnist_c/translate")] - control))
    _assert_quoted(f"(the paper's accuracies give {score:.3f}", _measured(), "docs/ANALYSIS.md")


def test_analysis_robustness_prose_matches_the_json():
    profile, measured = _load(ANALYSIS)["robustness"]["accuracy"], _measured()

    def acc(setup, corruption):
        return profile[setup][corruption]["mean"]

    _assert_quoted(f"average ({acc('cnn', 'mean'):.3f} against the MLP's "
                   f"{acc('mlp', 'mean'):.3f})", measured, "docs/ANALYSIS.md")
    assert acc("cnn", "mean") < acc("mlp", "mean")
    for corruption in ("translate", "impulse_noise"):
        _assert_quoted(f"`{corruption}` ({acc('cnn', corruption):.3f} against "
                       f"{acc('mlp', corruption):.3f})", measured, "docs/ANALYSIS.md")
    _assert_quoted(f"The CNN→MLP students have the highest mean ({acc('cnn_to_mlp', 'mean'):.3f})",
                   measured, "docs/ANALYSIS.md")
    assert max(profile, key=lambda s: acc(s, "mean")) == "cnn_to_mlp"
    _assert_quoted(f"`motion_blur` ({acc('cnn_to_mlp', 'motion_blur'):.3f} against "
                   f"{acc('mlp', 'motion_blur'):.3f} for the MLP alone), where their teacher is "
                   f"weak ({acc('cnn', 'motion_blur'):.3f})", measured, "docs/ANALYSIS.md")
    for corruption in ("translate", "scale", "stripe", "canny_edges"):      # "It leads on"
        assert acc("cnn", corruption) > acc("mlp", corruption), corruption
    for corruption in ("impulse_noise", "glass_blur", "motion_blur"):       # "far behind on"
        assert acc("cnn", corruption) < acc("mlp", corruption) - 0.2, corruption


def test_analysis_barriers_match_the_json():
    interpolation, measured = _load(ANALYSIS)["interpolation"], _measured()
    same_setup = [p for p in interpolation["pairs"] if p["setups"][0] == p["setups"][1]]
    assert len(same_setup) == 4
    for pair in same_setup:
        ends, barrier = pair["endpoint_models"], pair["barrier"]
        _assert_quoted(f"| {pair['label']} | {ends['a']['train']['loss']:.3f} / "
                       f"{ends['b']['train']['loss']:.3f} | {barrier['train']['loss']:.3f} | "
                       f"{barrier['mnist_c/translate']['loss']:.3f} | "
                       f"{barrier['train']['accuracy']:.3f} | "
                       f"{ends['a']['mnist_c/translate']['loss']:.3f} / "
                       f"{ends['b']['mnist_c/translate']['loss']:.3f} |", measured,
                       "docs/ANALYSIS.md")
    above = [p["barrier"]["train"]["loss_above_line"] for p in interpolation["pairs"]]
    assert min(above) > 0
    _assert_quoted(f"all {len(above)} paths rise above the line joining their endpoints, by "
                   f"{min(above):.3f} to {max(above):.3f}", measured, "docs/ANALYSIS.md")

    mean_barrier = interpolation["mean_barrier"]

    def train(key):
        return f"{mean_barrier[key]['train']['loss_barrier']:.3f}"

    def translate(key, field="loss_barrier"):
        return f"{mean_barrier[key]['mnist_c/translate'][field]:.3f}"

    _assert_quoted(f"the barrier between the two CNN→MLP students ({train('CNN→MLP vs CNN→MLP')}) "
                   f"is a little lower than between the two MLPs ({train('MLP vs MLP')}) but "
                   f"higher than between the two self-distilled MLPs "
                   f"({train('MLP→MLP vs MLP→MLP')})", measured, "docs/ANALYSIS.md")
    _assert_quoted(f"far higher than both ({translate('CNN→MLP vs CNN→MLP')} against "
                   f"{translate('MLP vs MLP')} and {translate('MLP→MLP vs MLP→MLP')})",
                   measured, "docs/ANALYSIS.md")
    mixed = ("CNN→MLP vs MLP", "CNN→MLP vs MLP→MLP")
    _assert_quoted(f"({translate(mixed[0])} and {translate(mixed[1])}, with "
                   f"{translate(mixed[0], 'loss_above_line')} and "
                   f"{translate(mixed[1], 'loss_above_line')} in brackets)", measured,
                   "docs/ANALYSIS.md")
    _assert_quoted(f"between the two CNN→MLP students ({train('CNN→MLP vs CNN→MLP')} on training "
                   f"images) against the two MLPs' ({train('MLP vs MLP')})", _readme_analysis(),
                   "README.md")
    students = [p for p in same_setup if p["setups"][0] == "cnn_to_mlp"][0]["endpoint_models"]
    mlp_losses = [p["endpoint_models"][e]["mnist_c/translate"]["loss"]
                  for p in same_setup if p["setups"][0] in ("mlp", "mlp_to_mlp") for e in "ab"]
    _assert_quoted(f"(a CNN→MLP student at {students['a']['mnist_c/translate']['loss']:.3f} / "
                   f"{students['b']['mnist_c/translate']['loss']:.3f}, an MLP at "
                   f"{_span(mlp_losses)})", measured, "docs/ANALYSIS.md")


SVA_BASELINES = "docs/results/sva_baselines/results.json"


def _baseline(source, guess, eval_set):
    return _load(SVA_BASELINES)["results"][f"gin_configs/sva/source_{source}.gin"]["baselines"][
        guess][eval_set]


def test_sva_grammar_split_counts_and_guesses_match_the_baselines():
    sva = _flat(_doc("docs/SVA.md"))
    plain = _baseline("grammar", "always_plural", "sva/test")
    counts = " / ".join(str(plain[f"count_attractors_{k}"]) for k in range(5))
    _assert_quoted(f"hence {counts} sentences with 0-4 attractors", sva, "docs/SVA.md")
    fronted = _baseline("grammar_fronted", "always_plural", "sva/test")
    _assert_quoted(f"(micro {plain['micro_accuracy']:.3f} / {fronted['micro_accuracy']:.3f}, "
                   f"A-accuracy {plain['a_accuracy']:.3f} / {fronted['a_accuracy']:.3f} for "
                   f"always-plural", sva, "docs/SVA.md")


def test_sva_linzen_small_guesses_match_the_baselines():
    sva = _flat(_doc("docs/SVA.md"))
    rows = {"*always_plural* (= train_majority)": "always_plural",
            "*always_singular*": "always_singular"}
    for label, guess in rows.items():
        scores = _baseline("linzen_small", guess, "sva/test")
        cells = [scores["micro_accuracy"], scores["a_accuracy"],
                 *[scores[f"accuracy_attractors_{k}"] for k in range(5)]]
        _assert_quoted(f"| {label} | " + " | ".join(f"{c:.3f}" for c in cells) + " |", sva,
                       "docs/SVA.md")
    plural = _baseline("linzen_small", "always_plural", "sva/test")
    assert _baseline("linzen_small", "train_majority", "sva/test") == plural
    _assert_quoted(f"split has {plural['count']} sentences ("
                   + " / ".join(str(plural[f"count_attractors_{k}"]) for k in range(5))
                   + " with 0-4 attractors)", sva, "docs/SVA.md")
    _assert_quoted(f"climbs from {plural['accuracy_attractors_0']:.2f} with no attractor to "
                   f"{plural['accuracy_attractors_4']:.2f} with four", sva, "docs/SVA.md")
    _assert_quoted(f"scores micro {plural['micro_accuracy']:.3f} and A-accuracy "
                   f"{plural['a_accuracy']:.3f}, and "
                   + " / ".join(f"{plural[f'accuracy_attractors_{k}']:.3f}" for k in (2, 3, 4))
                   + " with 2 / 3 / 4 attractors", sva, "docs/SVA.md")


def test_sva_linzen_simple_guesses_match_the_baselines():
    sva = _flat(_doc("docs/SVA.md"))
    source = _load(SVA_BASELINES)["results"]["gin_configs/sva/source_linzen_simple.gin"]
    splits = source["splits"]
    _assert_quoted(f"the training split is {splits['train']} examples, "
                   f"{splits['train_plural_share']:.3f} plural", sva, "docs/SVA.md")
    for guess in ("always_singular", "train_majority"):
        assert source["baselines"][guess] == source["baselines"]["always_singular"]
    plural, singular = source["baselines"]["always_plural"], source["baselines"]["always_singular"]
    natural = "`sva/test` (held-out 10% of `numpred.val`, natural)"
    _assert_quoted(f"| {natural} | {plural['sva/test']['count']} | "
                   f"{plural['sva/test']['micro_accuracy']:.3f} | "
                   f"{singular['sva/test']['micro_accuracy']:.3f} |", sva, "docs/SVA.md")
    for k in range(1, 6):
        name = f"linzen_simple/test_{k}"
        _assert_quoted(f"| `{name}` | {plural[name]['count']} | "
                       f"{plural[name]['micro_accuracy']:.3f} | "
                       f"{singular[name]['micro_accuracy']:.3f} |", sva, "docs/SVA.md")
    test_p, test_s = plural["linzen_simple/test"], singular["linzen_simple/test"]
    _assert_quoted(f"| `linzen_simple/test`, micro | {test_p['count']} | "
                   f"{test_p['micro_accuracy']:.3f} | {test_s['micro_accuracy']:.3f} |", sva,
                   "docs/SVA.md")
    _assert_quoted(f"| `linzen_simple/test`, A-accuracy (groups 1-5) | {test_p['count']} | "
                   f"**{test_p['a_accuracy']:.3f}** | {test_s['a_accuracy']:.3f} |", sva,
                   "docs/SVA.md")
    sizes = [test_p[f"count_attractors_{k}"] for k in range(1, 6)]
    _assert_quoted(f"attractor sets of {max(sizes)} to {min(sizes)} examples", sva, "docs/SVA.md")
    _assert_quoted(f"attractor sets of {max(sizes):,} to {min(sizes)} sentences",
                   _flat(_doc("README.md")), "README.md")


def test_sva_linzen_simple_prose_ranges_match_the_summary():
    """"0.89–0.91 on natural text" (SVA.md) and "A-accuracy 0.31–0.43" (README)."""
    results = _load(SVA_SIMPLE)
    models = {r["student"] + (f"/{r['teacher']}" if r["teacher"] else "") for r in results["rows"]
              if r["student"] not in ("always_plural", "always_singular", "train_majority")}
    assert len(models) == 8

    def span(eval_set, metric):
        values = [r["mean"] for r in results["rows"] if r["eval_set"] == eval_set
                  and r["metric"] == metric and r["student"] + (
                      f"/{r['teacher']}" if r["teacher"] else "") in models]
        assert len(values) == 8
        return f"{min(values):.2f}–{max(values):.2f}"

    _assert_quoted(f"while scoring {span('sva/test', 'micro_accuracy')} on natural text",
                   _flat(_doc("docs/SVA.md")), "docs/SVA.md")
    _assert_quoted(f"A-accuracy {span('linzen_simple/test', 'a_accuracy')} against",
                   _flat(_doc("README.md")), "README.md")


SVA_GPU = "docs/results/sva_gpu"


def _reproduce_md_rows(path):
    """The per-metric rows of a results.md reproduce.py wrote: {(student, teacher, eval set,
    metric): mean}; only .md files were kept for docs/results/sva_gpu/."""
    rows = {}
    for line in _doc(path).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and " ± " in cells[4] and cells[0] != "student":
            teacher = None if cells[1] == "—" else cells[1]
            rows[(cells[0], teacher, cells[2], cells[3])] = float(cells[4].split(" ± ")[0])
    return rows


def _gpu_a_accuracy(table):
    rows = _reproduce_md_rows(f"{SVA_GPU}/results_{table}.md")
    return {model: rows[(model, None, "sva/test", "a_accuracy")]
            for model in ("lstm", "transformer", "transformer_seq", "utransformer_seq")}


GPU_TABLES = {"2000 (60)": "fronted_2k", "6000 (20)": "fronted_6k", "15000 (8)": "fronted_15k",
              "40000 (6)": "fronted_40k", "plain grammar, 40000 (6)": "plain_40k"}


@pytest.mark.parametrize("doc", ["docs/SVA.md", f"{SVA_GPU}/README.md"])
def test_sva_gpu_table_matches_the_results_files(doc):
    """The files hold 4 decimals, the docs 3: a cell may round either way at a tie."""
    lines = _doc(doc).splitlines()
    for label, table in GPU_TABLES.items():
        scores = _gpu_a_accuracy(table)
        assert max(scores.values()) == scores["lstm"], table          # the bold LSTM cell
        row = [line for line in lines if line.startswith(f"| {label} |")]
        assert len(row) == 1, (doc, label)
        cells = [c.strip().strip("*") for c in row[0].strip("|").split("|")[1:]]
        assert len(cells) == len(scores), (doc, label)
        for cell, value in zip(cells, scores.values()):
            assert abs(float(cell) - value) <= 0.00055, (doc, label, cell, value)


def test_sva_gpu_prose_matches_the_results_files():
    sva, readme = _flat(_doc("docs/SVA.md")), _flat(_doc("README.md"))
    small = _gpu_a_accuracy("fronted_2k")
    transformers = [v for k, v in small.items() if k != "lstm"]
    leads = [small["lstm"] - v for v in transformers]
    _assert_quoted(f"by {min(leads):.2f}-{max(leads):.2f} with 2000 training sentences "
                   f"({small['lstm']:.3f} against {min(transformers):.3f}-"
                   f"{max(transformers):.3f})", sva, "docs/SVA.md")
    _assert_quoted(f"A-accuracy LSTM {small['lstm']:.3f} vs Transformers "
                   f"{min(transformers):.3f}–{max(transformers):.3f}", readme, "README.md")
    assert min(small, key=small.get) == "transformer_seq"          # "with 2000 ... Transformer-seq is"
    gaps = []
    for table in ("fronted_6k", "fronted_15k", "fronted_40k"):
        scores = _gpu_a_accuracy(table)
        assert min(scores, key=scores.get) == "transformer", table  # "the CLS Transformer is the weakest"
        gaps += [scores["lstm"] - v for k, v in scores.items() if k != "lstm"]
    assert min(gaps) >= 0                                           # "never behind"
    _assert_quoted(f"where the gap closes (0-{max(gaps):.2f};", sva, "docs/SVA.md")
    plain = _gpu_a_accuracy("plain_40k").values()
    _assert_quoted(f"stays at {min(plain):.3f}-{max(plain):.3f} for everyone", sva, "docs/SVA.md")
    _assert_quoted(f"every model scores A-accuracy {min(plain):.3f}–{max(plain):.3f}", readme,
                   "README.md")
    linzen = _reproduce_md_rows(f"{SVA_GPU}/results_linzen_small.md")
    quoted = ", ".join(f"{name} {linzen[(model, None, 'sva/test', 'a_accuracy')]:.3f}"
                       for name, model in (("LSTM", "lstm"), ("Transformer", "transformer"),
                                           ("Transformer-seq", "transformer_seq"),
                                           ("UTransformer-seq", "utransformer_seq")))
    plural = _baseline("linzen_small", "always_plural", "sva/test")
    _assert_quoted(f"A-accuracy {quoted}, against {plural['a_accuracy']:.3f} for the constant "
                   f"guess", sva, "docs/SVA.md")
    # Training and validation accuracies are not in the tables; the folder's README states them.
    gpu_readme = _flat(_doc(f"{SVA_GPU}/README.md"))
    _assert_quoted("(training accuracy 0.993-1.000)", gpu_readme, SVA_GPU)
    _assert_quoted("(validation 0.84-0.87 vs the LSTM's 0.97)", gpu_readme, SVA_GPU)
    _assert_quoted("(training accuracy ≥ 0.993)", sva, "docs/SVA.md")
    _assert_quoted("(validation 0.84-0.87 vs 0.97;", sva, "docs/SVA.md")


RECURRENT_DROPOUT = "docs/results/sva_recurrent_dropout/results.json"


def test_sva_recurrent_dropout_table_matches_its_results_file():
    report, sva = _load(RECURRENT_DROPOUT), _doc("docs/SVA.md")
    labels = {64: "64 (quick)", 256: "256 (paper)"}
    for row in report["rows"]:
        without, with_ = (", ".join(f"{1000 * t:.1f}" for t in row["per_round"][rate])
                          for rate in ("0.0", "0.8"))
        assert f"| {labels[row['width']]} | {without} | {with_} | {row['ratio']:.1f}x |" in sva
    ratios = sorted(r["ratio"] for r in report["rows"])
    _assert_quoted(f"a CPU step {ratios[0]:.1f}-{ratios[-1]:.0f}x slower", _flat(sva),
                   "docs/SVA.md")
    load = report["machine"]["load_average_at_end"]
    _assert_quoted(f"(load average ~{min(load):.0f}-{max(load):.0f} from other jobs)",
                   _flat(sva), "docs/SVA.md")
    assert report["command"] in _flat(sva).replace("\\ ", "")


MNIST_GPU = "docs/results/mnist_paper_gpu/epochs60/results.json"


def test_readme_gpu_table_matches_its_results_file():
    from tf_kdbias.reproduce import results as reproduce_results

    results, readme = _load(MNIST_GPU), _doc("README.md")
    paper = {(r["student"], r["teacher"], r["eval_set"]): r["mean"]
             for r in reproduce_results.paper_rows("mnist") if r["metric"] == "accuracy"}
    section = readme[readme.index("Measured on one H200"):readme.index("### Fidelity")]
    for label, student, teacher in (("CNN", "cnn", None), ("MLP", "mlp", None),
                                    ("CNN→MLP", "mlp", "cnn"), ("MLP→MLP", "mlp", "mlp"),
                                    ("CNN→CNN", "cnn", "cnn"), ("MLP→CNN", "cnn", "mlp")):
        cells = [f"{mean(_row(results, student=student, teacher=teacher, eval_set=e, metric='accuracy'))}"
                 f" ({paper[(student, teacher, e)]:.3f})"
                 for e in ("mnist", "mnist_c/scale", "mnist_c/translate")]
        assert f"| {label} | " + " | ".join(cells) + " |" in section, label
    student, alone = (_row(results, student="mlp", teacher=t, eval_set="mnist_c/translate",
                           metric=m) for t, m in (("cnn", "accuracy"), (None, "accuracy")))
    _assert_quoted(f"({mean(student)} vs {mean(alone)} on `translate`)", _flat(section), "README.md")
    ece = [_row(results, student="mlp", teacher=t, eval_set="mnist_c/translate", metric="ece")
           for t in ("cnn", None)]
    _assert_quoted(f"(15-bin ECE {ece[0]['mean']:.2f} vs {ece[1]['mean']:.2f})", _flat(section),
                   "README.md")
    for doc in ("README.md", "docs/SCALING.md"):
        assert f"{results['wall_time_s']:.0f} s" in _doc(doc), doc


def test_benchmarks_doc_quotes_the_benchmark_report():
    report, doc = _load(BENCHMARK), _flat(_doc("docs/BENCHMARKS.md"))
    section = doc[doc.index("Idle machine, re-measured"):doc.index("Earlier measurements")]
    ratios, machine = report["ratios"], report["machine"]
    gap = next(t["value"] for t in report["targets"]
               if t["name"] == "accuracy_gap_ours_cached_vs_keras_distiller")
    for quoted in (f"(load average {machine['load_average_1m_at_start']:.2f} at the start, "
                   f"{machine['load_average_1m_at_end']:.2f} at the end): "
                   f"{report['wall_time_s']:.0f} s in all",
                   f"cached distillation {ratios['cached_over_student_only']:.2f}× the "
                   f"student-only epoch",
                   f"{ratios['ours_cached_over_keras_distiller_paper_cnn']:.2f}× Keras' Distiller",
                   f"accuracy gap {gap:.4f}",
                   f"pipeline overhead {100 * ratios['pipeline_overhead']:.1f}%".replace("-", "−")):
        _assert_quoted(quoted, section, "docs/BENCHMARKS.md")
    assert all(t["met"] for t in report["targets"])              # "Every target is met."


def test_relative_links_into_results_exist():
    """Links from docs/*.md into results/ (relative to docs/) point at committed files."""
    import re

    docs = os.path.join(REPO_ROOT, "docs")
    for name in (f for f in os.listdir(docs) if f.endswith(".md")):
        for link in re.findall(r"\((results/[^)#\s]+)\)", _doc(os.path.join("docs", name))):
            assert os.path.exists(os.path.join(docs, link)), f"docs/{name} cites missing {link}"


def test_benchmarks_doc_quotes_the_stall_probe():
    """The exit-stall section's teardown times are the committed probe's maxima."""
    stall, doc = _load(BENCHMARK)["stall"], _flat(_doc("docs/BENCHMARKS.md"))
    legacy, ours = stall["legacy_pipeline"], stall["make_dataset"]
    _assert_quoted(f"the legacy pipeline's teardown at most {legacy['max_s']:.4f} s and "
                   f"`make_dataset`'s at most {ours['max_s']:.4f} s over "
                   f"{len(ours['teardown_s'])} trials", doc, "docs/BENCHMARKS.md")


def _crosscheck_tables():
    """{model section: {corruption: (ours, reference, |diff|)}} of mnist_c_crosscheck.md."""
    tables, section = {}, None
    for line in _doc("docs/results/mnist_c_crosscheck.md").splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            tables[section] = {}
        elif section and line.startswith("| ") and not line.startswith("| corruption"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0] and not cells[0].startswith("---"):
                tables[section][cells[0]] = tuple(float(c) for c in cells[1:4])
    return tables


def test_readme_crosscheck_claims_match_the_crosscheck_file():
    """"within 0.01 ... on all 15 corruptions", fog at chance for both models, and the
    student's brightness at chance (chance: the 0.1135 of always answering '1')."""
    readme = _flat(_doc("README.md"))
    _assert_quoted("two exported quick models score within 0.01 accuracy of each other on our "
                   "corruptions and on a second implementation, on all 15 corruptions", readme,
                   "README.md")
    tables = _crosscheck_tables()
    assert len(tables) == 2
    for rows in tables.values():
        corruptions = set(rows) - {"identity"}
        assert len(corruptions) == 15
        assert all(rows[c][2] <= 0.01 for c in corruptions)
        assert max(rows["fog"][:2]) < 0.15
    student = next(rows for name, rows in tables.items() if "MLP" in name)
    assert max(student["brightness"][:2]) < 0.15


TRANSFER = "docs/results/transfer"


def _transfer_summary_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "transfer_summarize", os.path.join(REPO_ROOT, TRANSFER, "summarize.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_transfer_summary_is_what_its_script_writes():
    assert _transfer_summary_module().summary_text() == _doc(f"{TRANSFER}/summary.md")


def _transfer_accuracy(student, teacher, eval_set):
    return _row(_load(f"{TRANSFER}/results.json"), student=student, teacher=teacher,
                eval_set=eval_set, metric="accuracy")


def test_readme_and_function_matching_doc_quote_the_transfer_results():
    readme, fm_doc = _flat(_doc("README.md")), _flat(_doc("docs/FUNCTION_MATCHING.md"))
    acc = lambda s, t, e: mean_std(_transfer_accuracy(s, t, f"mnist_c/{e}"))
    agreement = _load(f"{TRANSFER}/analysis.json")["transfer"]["agreement"]["cnn"]
    agree = lambda setup: (
        f"{agreement[setup]['eval_sets']['mnist_c/translate']['agreement']['mean']:.3f} ± "
        f"{agreement[setup]['eval_sets']['mnist_c/translate']['agreement']['std']:.3f}")
    scores = _load(f"{TRANSFER}/analysis.json")["transfer"]["scores"]
    score = lambda e, s, c: (f"{scores[e][s][c]['score']:.3f} [{scores[e][s][c]['low']:.3f}, "
                             f"{scores[e][s][c]['high']:.3f}]")
    for quoted in (
            f"Plain KD reaches {acc('mlp', 'cnn', 'translate')}, function matching "
            f"{acc('mlp_fm', 'cnn', 'translate')} (live teacher) and "
            f"{acc('mlp_fmcache', 'cnn', 'translate')} (view cache), against "
            f"{acc('mlp', None, 'translate')} for the MLP alone and "
            f"{acc('mlp_fm', None, 'translate')} for the MLP on the same mixup views",
            f"is {agree('cnn_to_mlp')} with plain KD and {agree('cnn_to_mlp_fm')} with function "
            "matching",
            f"({score('mnist_c/translate', 'cnn_to_mlp', 'mlp')} and "
            f"{score('mnist_c/translate', 'cnn_to_mlp_fm', 'mlp')} against the MLP alone)",
            f"({acc('mlp_fm', 'cnn', 'scale')} live, {acc('mlp_fmcache', 'cnn', 'scale')} cached; "
            f"CNN {acc('cnn', None, 'scale')})",
            f"({acc('mlp', 'cnn', 'scale')}; alone {acc('mlp', None, 'scale')}), and mixup alone "
            f"hurts ({acc('mlp_fm', None, 'scale')})",
            f"transfer score {score('mnist_c/scale', 'cnn_to_mlp_fm', 'mlp_fm')} against the "
            "mixup control"):
        _assert_quoted(quoted, readme, "README.md")
    lead = (_transfer_accuracy("cnn", None, "mnist_c/scale")["mean"]
            - _transfer_accuracy("mlp", None, "mnist_c/scale")["mean"])
    _assert_quoted(f"the CNN leads it by only {lead:.3f} there", readme, "README.md")
    glass = lambda s, t: f"{_transfer_accuracy(s, t, 'mnist_c/glass_blur')['mean']:.3f}"
    _assert_quoted(f"the CNN is poor on `glass_blur` ({glass('cnn', None)})", readme, "README.md")
    _assert_quoted(f"to {glass('mlp_fm', 'cnn')} and {glass('mlp_fmcache', 'cnn')}, from the "
                   f"MLP's {glass('mlp', None)}", readme, "README.md")
    plain = lambda s, t, e: f"{_transfer_accuracy(s, t, f'mnist_c/{e}')['mean']:.3f}"
    for quoted in (f"({plain('mlp_fm', 'cnn', 'translate')} live, "
                   f"{plain('mlp_fmcache', 'cnn', 'translate')} cached, against "
                   f"{plain('mlp', 'cnn', 'translate')}; the MLP alone "
                   f"{plain('mlp', None, 'translate')}, mixup alone "
                   f"{plain('mlp_fm', None, 'translate')})",
                   f"({plain('mlp_fm', 'cnn', 'scale')} live, {plain('mlp_fmcache', 'cnn', 'scale')}"
                   f" cached, CNN {plain('cnn', None, 'scale')}) where plain KD does not "
                   f"({plain('mlp', 'cnn', 'scale')}), while mixup without a teacher hurts "
                   f"({plain('mlp_fm', None, 'scale')})"):
        _assert_quoted(quoted, fm_doc, "docs/FUNCTION_MATCHING.md")


def test_readme_quotes_the_main_job_timing():
    timing = _load("docs/results/main_job_timing/timing.json")
    assert sorted(timing["main_job_s"])[1] == timing["main_job_median_s"]
    assert len(timing["main_job_s"]) == 3
    _assert_quoted(f"the install takes {timing['install_s']} s and the main job "
                   f"{timing['main_job_median_s']} s (median of 3 runs", _flat(_doc("README.md")),
                   "README.md")


def test_readme_quotes_the_test_suite_timing():
    durations = _doc("docs/results/test_suite_timing/durations_n2.txt")
    wall = re.search(r"(\d+) passed in (\d+\.\d+)s", durations)
    assert wall, durations[-300:]
    _assert_quoted(f"{float(wall.group(2)):.0f} s on this project's 2 cores", _flat(_doc("README.md")),
                   "README.md")
