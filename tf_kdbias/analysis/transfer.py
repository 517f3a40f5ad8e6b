"""How much of a teacher moved into its student: agreement, KL and transfer scores.

Agreement (Stanton et al. 2021's "fidelity"): per eval set, the fraction of
examples on which a run and a reference run (its own teacher, or the
reference setup's run of the same seed index for runs that it did not
teach) predict the same class, and the mean KL(reference ‖ run) of their
predictive distributions. Computed for every setup, so the distilled students
stand beside their controls (the student architecture trained alone, and
self-distilled).

Transfer score of a distilled setup D (teacher setup T, student architecture
S) against a control setup C of architecture S, per eval set:

    (acc(D) - acc(C)) / (acc(T) - acc(C))

the fraction of the teacher's accuracy advantage over the control that the
student gained: 0 = no better than the control, 1 = as good as the teacher.
It is undefined (None, with the reason) where the teacher is not more
accurate than the control: there is no gap to close. acc(X) is the mean
accuracy of setup X's runs (all runs see the same examples).

Interval: a percentile bootstrap over seeds and examples. Each resample
draws the examples with replacement (the same draw for every setup, since
all setups are scored on the same examples) and, independently per setup,
that setup's runs with replacement. Where the teacher's advantage is not
positive in more than (1 - level)/2 of the resamples, its advantage is not
significant at that level and the ratio's interval is unbounded: the
interval is then None, with the reason.
"""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from tf_kdbias.analysis import behaviour
from tf_kdbias.analysis.workdir import RunInfo, read_metrics, teacher_run
from tf_kdbias.rundir import parse_setup

DEFAULT_SAMPLES = 1000
DEFAULT_LEVEL = 0.95
# Resamples per chunk: bounds memory at chunk x examples counts.
_CHUNK = 100


def transfer_score(acc_student: float, acc_control: float,
                   acc_teacher: float) -> Tuple[Optional[float], Optional[str]]:
    """(score, None), or (None, why) where the teacher is not better than the control."""
    gap = acc_teacher - acc_control
    if not gap > 0:
        return None, (f"the teacher ({acc_teacher:.4f}) is not more accurate than the "
                      f"control ({acc_control:.4f}): no gap to close")
    return (acc_student - acc_control) / gap, None


def _resampled_accuracy(correct: np.ndarray, seed_counts: np.ndarray,
                        example_counts: np.ndarray) -> np.ndarray:
    """Accuracy of one setup in each resample.

    Args:
      correct: [runs, n] 0/1, the setup's runs on the examples.
      seed_counts: [B, runs] how often each run was drawn (each row sums to runs).
      example_counts: [B, n] how often each example was drawn (rows sum to n).
    """
    # [B, runs]: correct draws of each run. (This operand order is ~10x faster
    # than correct @ example_counts.T, whose transposed operand BLAS copies.)
    per_run = example_counts @ correct.T
    runs, n = correct.shape
    return np.sum(seed_counts * per_run, axis=1) / (runs * n)


def bootstrap_transfer(correct_student: np.ndarray, correct_control: np.ndarray,
                       correct_teacher: np.ndarray, samples: int = DEFAULT_SAMPLES,
                       level: float = DEFAULT_LEVEL, seed: int = 0) -> Dict:
    """The transfer score with a bootstrap interval over seeds and examples.

    Args:
      correct_student, correct_control, correct_teacher: [runs, n] booleans,
        each setup's runs on the same n examples (runs may differ per setup).
      samples: bootstrap resamples.
      level: coverage of the percentile interval.
      seed: seeds the resampling.

    Returns:
      score, low, high, reason (None when defined), the three accuracies,
      undefined_fraction (resamples where the teacher was not better), runs.
    """
    groups = [np.asarray(c, np.float64) for c in (correct_student, correct_control,
                                                   correct_teacher)]
    n = groups[0].shape[1]
    if any(g.ndim != 2 or g.shape[1] != n or g.shape[0] < 1 for g in groups):
        raise ValueError("Each setup needs [runs >= 1, n] correctness on the same n examples.")
    accuracies = [float(g.mean()) for g in groups]
    score, reason = transfer_score(*accuracies)
    rng = np.random.default_rng(seed)
    ratios, undefined = [], 0
    for start in range(0, samples, _CHUNK):
        size = min(_CHUNK, samples - start)
        draws = rng.integers(0, n, (size, n)) + n * np.arange(size)[:, None]
        examples = np.bincount(draws.ravel(), minlength=size * n).reshape(size, n).astype(
            np.float64)  # Row b: how often resample b drew each example.
        resampled = []
        for g in groups:
            runs = g.shape[0]
            seeds = np.stack([np.bincount(rng.integers(0, runs, runs), minlength=runs)
                              for _ in range(size)]).astype(np.float64)
            resampled.append(_resampled_accuracy(g, seeds, examples))
        student, control, teacher = resampled
        gap = teacher - control
        defined = gap > 0
        undefined += int(np.sum(~defined))
        ratios.append((student[defined] - control[defined]) / gap[defined])
    ratios = np.concatenate(ratios)
    undefined_fraction = undefined / samples
    tail = (1.0 - level) / 2.0
    low = high = None
    if score is not None and undefined_fraction <= tail and len(ratios):
        low, high = (float(q) for q in np.quantile(ratios, [tail, 1.0 - tail]))
    elif score is not None:
        reason = (f"the teacher's advantage over the control is not significant: it "
                  f"vanishes in {100 * undefined_fraction:.1f}% of the bootstrap resamples "
                  f"(more than {100 * tail:g}%), so the ratio's interval is unbounded")
    return {"score": score, "low": low, "high": high, "reason": reason,
            "level": level, "samples": samples,
            "accuracy": dict(zip(("student", "control", "teacher"), accuracies)),
            "runs": dict(zip(("student", "control", "teacher"), (g.shape[0] for g in groups))),
            "undefined_fraction": undefined_fraction}


def run_architecture(run: RunInfo) -> str:
    """The trained architecture: metrics.json's model name ('mlp' for an
    'mlp_fm' setup built by build_mlp), else the setup's student part."""
    return read_metrics(run).get("model") or run.student


class SetupRoles:
    """Which setups are teachers, distilled students and their controls.

    Args:
      runs: the workdir's runs.
    """

    def __init__(self, runs: Sequence[RunInfo]):
        self.runs = list(runs)
        self.setups = list(dict.fromkeys(r.setup for r in self.runs))
        self.members = {s: [i for i, r in enumerate(self.runs) if r.setup == s]
                        for s in self.setups}
        self.architecture = {s: run_architecture(self.runs[self.members[s][0]])
                             for s in self.setups}
        self.teacher = {s: self.runs[self.members[s][0]].teacher for s in self.setups}

    def teacher_architecture(self, setup: str) -> Optional[str]:
        teacher = self.teacher[setup]
        if teacher is None:
            return None
        return self.architecture.get(teacher, teacher)

    def cross_distilled(self) -> List[str]:
        """Setups distilled from a teacher of another architecture that was trained
        alone in this workdir (CNN→MLP, not MLP→MLP)."""
        return [s for s in self.setups
                if self.teacher[s] in self.members and self.teacher[self.teacher[s]] is None
                and self.teacher_architecture(s) != self.architecture[s]]

    def controls(self, setup: str) -> List[Tuple[str, str]]:
        """(control setup, 'alone' or 'self-distilled') of a distilled setup.

        Alone: every setup of the student's architecture trained alone (e.g.
        'mlp', and 'mlp_fm', the MLP on mixup views). Self-distilled: the
        setup distilled the same way from the student's own architecture
        (for 'cnn_to_mlp_fm' that is 'mlp_to_mlp_fm'), else, if there is none,
        every self-distilled setup of that architecture.
        """
        alone, self_distilled = [], []
        for other in self.setups:
            if other == setup or self.architecture[other] != self.architecture[setup]:
                continue
            if self.teacher[other] is None:
                alone.append((other, "alone"))
            elif self.teacher_architecture(other) == self.architecture[other]:
                self_distilled.append((other, "self-distilled"))
        matched = [c for c in self_distilled if parse_setup(c[0])[0] == parse_setup(setup)[0]]
        chosen = matched or self_distilled
        return [c for c in alone + self_distilled if c in chosen or c[1] == "alone"]

    def references(self) -> List[str]:
        """Setups trained alone that teach some setup here (agreement references)."""
        return [s for s in self.setups if self.teacher[s] is None
                and any(self.teacher[o] == s for o in self.setups)]


def _correct(logits: Sequence[np.ndarray], labels: np.ndarray, members: List[int]) -> np.ndarray:
    return np.stack([np.argmax(logits[i], axis=-1) == labels for i in members])


def transfer_scores(roles: SetupRoles, logits_by_set: Dict[str, Sequence[np.ndarray]],
                    labels_by_set: Dict[str, np.ndarray], samples: int = DEFAULT_SAMPLES,
                    level: float = DEFAULT_LEVEL, seed: int = 0) -> Dict:
    """eval set -> distilled setup -> control setup -> `bootstrap_transfer` + kind, teacher."""
    result = {}
    for eval_set, logits in logits_by_set.items():
        labels = labels_by_set[eval_set]
        by_setup = {}
        for setup in roles.cross_distilled():
            teacher = roles.teacher[setup]
            by_setup[setup] = {}
            for control, kind in roles.controls(setup):
                entry = bootstrap_transfer(
                    _correct(logits, labels, roles.members[setup]),
                    _correct(logits, labels, roles.members[control]),
                    _correct(logits, labels, roles.members[teacher]),
                    samples=samples, level=level, seed=seed)
                by_setup[setup][control] = {"kind": kind, "teacher": teacher, **entry}
        result[eval_set] = by_setup
    return result


def _partner(run: RunInfo, reference: str, runs: Sequence[RunInfo]) -> Optional[RunInfo]:
    """The run `run` is compared with: its own teacher if `reference` taught it,
    else the reference setup's run of the same seed index."""
    if run.teacher == reference:
        own = teacher_run(run, list(runs))
        if own is not None:
            return own
    for other in runs:
        if other.setup == reference and other.seed_index == run.seed_index and other is not run:
            return other
    return None


def _summary(values: Sequence[float]) -> Dict:
    values = [float(v) for v in values]
    return {"mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "n": len(values), "values": values}


def agreement_with_references(roles: SetupRoles,
                              logits_by_set: Dict[str, Sequence[np.ndarray]]) -> Dict:
    """reference setup -> setup -> eval set -> {agreement, kl: mean/std/n/values}, pairs.

    `kl` is KL(reference ‖ run): how much of the reference's predictive
    distribution the run fails to reproduce.
    """
    runs = roles.runs
    index = {r.name: i for i, r in enumerate(runs)}
    result = {}
    for reference in roles.references():
        result[reference] = {}
        for setup in roles.setups:
            pairs = [(i, index[p.name]) for i in roles.members[setup]
                     for p in [_partner(runs[i], reference, runs)] if p is not None]
            if not pairs:
                continue
            by_set = {}
            for eval_set, logits in logits_by_set.items():
                by_set[eval_set] = {
                    "agreement": _summary([behaviour.prediction_agreement(logits[j], logits[i])
                                           for i, j in pairs]),
                    "kl": _summary([behaviour.mean_kl(logits[j], logits[i]) for i, j in pairs])}
            result[reference][setup] = {"pairs": [[runs[i].name, runs[j].name] for i, j in pairs],
                                        "eval_sets": by_set}
    return result


def transfer_analysis(runs: Sequence[RunInfo], logits_by_set: Dict[str, Sequence[np.ndarray]],
                      labels_by_set: Dict[str, np.ndarray], samples: int = DEFAULT_SAMPLES,
                      level: float = DEFAULT_LEVEL, seed: int = 0) -> Dict:
    """Agreement/KL with every reference and transfer scores, per eval set.

    Args:
      runs: the runs, in the order of each `logits_by_set` list.
      logits_by_set: eval set -> per-run logits [n, classes].
      labels_by_set: eval set -> [n] labels.
      samples, level, seed: the bootstrap.
    """
    roles = SetupRoles(runs)
    return {"architectures": roles.architecture,
            "agreement": agreement_with_references(roles, logits_by_set),
            "scores": transfer_scores(roles, logits_by_set, labels_by_set, samples, level, seed),
            "bootstrap": {"samples": samples, "level": level, "seed": seed,
                          "resampled": "examples (shared by all setups) and each setup's runs"}}


SUMMARY_SETS = ("mnist", "mnist_c/scale", "mnist_c/translate")


def _interval(entry: Dict) -> str:
    if entry["score"] is None:
        return "undefined"
    if entry["low"] is None:
        return f"{entry['score']:.3f} [interval undefined]"
    return f"{entry['score']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]"


def format_summary(result: Dict, labels) -> str:
    """Markdown: transfer scores and agreement with each reference on the
    paper's three eval sets (those analysed).

    Args:
      result: `transfer_analysis` output.
      labels: setup -> display label.
    """
    scores, lines = result["scores"], []
    sets = [s for s in SUMMARY_SETS if s in scores] or list(scores)[:3]
    level = result["bootstrap"]["level"]
    rows = [(setup, control, {e: scores[e][setup][control] for e in sets})
            for setup in (scores[sets[0]] if sets else {})
            for control in scores[sets[0]][setup]]
    if rows:
        lines += ["Transfer score (acc(student) − acc(control)) / "
                  f"(acc(teacher) − acc(control)), {100 * level:g}% bootstrap interval over seeds and examples:", "",
                  "| student | control | " + " | ".join(sets) + " |",
                  "|---|---|" + "---|" * len(sets)]
        lines += [f"| {labels(setup)} | {labels(control)} ({by_set[sets[0]]['kind']}) | "
                  + " | ".join(_interval(by_set[e]) for e in sets) + " |"
                  for setup, control, by_set in rows]
        reasons = {by_set[e]["reason"] for _, _, by_set in rows for e in sets
                   if by_set[e]["reason"]}
        lines += ["", *[f"- {r}" for r in sorted(reasons)], ""]
    for reference, by_setup in result["agreement"].items():
        lines += [f"Top-1 agreement with the {labels(reference)} run (own teacher, else same "
                  f"seed index), and KL({labels(reference)} ‖ run), mean ± std over runs:", "",
                  "| setup | " + " | ".join(f"{e} agreement | {e} KL" for e in sets) + " |",
                  "|---|" + "---|---|" * len(sets)]
        for setup, entry in by_setup.items():
            cells = []
            for e in sets:
                a, k = entry["eval_sets"][e]["agreement"], entry["eval_sets"][e]["kl"]
                cells += [f"{a['mean']:.3f} ± {a['std']:.3f}",
                          f"{k['mean']:.3f} ± {k['std']:.3f}"]
            lines.append(f"| {labels(setup)} (n={len(entry['pairs'])}) | "
                         + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
