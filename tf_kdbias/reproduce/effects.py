"""Effects, not numbers: paired differences between setups over seeds, with intervals.

A table's claim "setup A beats setup B" is the mean over seeds of the paired
difference A − B, with its 95% confidence interval. Pairs are formed by
seed index: seed k of A with seed k of B. In a reproduce table a student of
seed k learned from its teacher's seed k, so pairs share a teacher run where
both setups have the same teacher kind and share nothing else; the pairing
removes only what the seed index fixes (the data order and the held-out split
where seeds are derived alike), and the interval covers teacher variance as
well, because teachers differ across k.

Interval: the t distribution with n − 1 degrees of freedom on the n paired
differences, mean ± t(0.975, n − 1) · sd / √n. With n = 1 there is no
interval, and the verdict is "not resolved".

Verdicts: "not resolved" when the interval contains 0 (or n < 2); otherwise
"paper's sign" or "opposite sign" against the paper's difference of the same
two setups on the same eval set and metric, or "A > B" / "A < B" where the
paper has no such difference.
"""

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
PAIRING = ("pairs by seed index: seed k of one setup with seed k of the other (students of "
           "seed k learned from their teacher's seed k)")

NOT_RESOLVED = "not resolved"
PAPER_SIGN = "paper's sign"
OPPOSITE_SIGN = "opposite sign"

Setup = Tuple[str, Optional[str]]  # (student, teacher); teacher None = trained alone.


def paired_effect(a: Sequence[float], b: Sequence[float],
                  confidence: float = CONFIDENCE) -> Dict:
    """Mean of the paired differences a[k] − b[k] and its t interval.

    Args:
      a, b: one value per seed index, paired position by position (same length).
      confidence: coverage of the interval.

    Returns:
      {"mean", "low", "high", "n", "differences"}; `low`/`high` are None with n < 2.

    Example:
      >>> paired_effect([0.8, 0.7, 0.9], [0.6, 0.6, 0.7])["mean"]
      0.1666...
    """
    if len(a) != len(b):
        raise ValueError(f"paired_effect: {len(a)} values against {len(b)}; pair by seed index.")
    differences = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    n = int(differences.size)
    if n == 0:
        raise ValueError("paired_effect: no pairs.")
    mean = float(differences.mean())
    low = high = None
    if n >= 2:
        half = (float(stats.t.ppf(0.5 + confidence / 2, n - 1))
                * float(differences.std(ddof=1)) / math.sqrt(n))
        low, high = mean - half, mean + half
    return {"mean": mean, "low": low, "high": high, "n": n,
            "differences": [float(d) for d in differences]}


def verdict(effect: Dict, paper_difference: Optional[float]) -> str:
    """'not resolved' when the interval contains 0 (always with n < 2); else
    the sign against the paper's difference, or A > B / A < B without one."""
    low, high = effect["low"], effect["high"]
    if low is None or low <= 0.0 <= high:
        return NOT_RESOLVED
    if paper_difference is None or paper_difference == 0.0:
        return "A > B" if low > 0 else "A < B"
    return PAPER_SIGN if (low > 0) == (paper_difference > 0) else OPPOSITE_SIGN


def comparisons(setups: Sequence[Setup]) -> List[Tuple[str, Setup, Setup]]:
    """The comparisons the paper makes among a table's setups, as (kind, A, B):

    - every distilled student against the same architecture trained alone
      ("vs alone");
    - every student of another architecture's teacher against the same
      student self-distilled ("vs self-distilled": teacher A's student vs
      teacher B's student);
    - every pair of architectures trained alone ("alone vs alone"), in the
      table's order.
    """
    present = list(dict.fromkeys(setups))
    alone = [s for s in present if s[1] is None]
    found = []
    for student, teacher in present:
        if teacher is None:
            continue
        if (student, None) in present:
            found.append(("vs alone", (student, teacher), (student, None)))
        if teacher != student and (student, student) in present:
            found.append(("vs self-distilled", (student, teacher), (student, student)))
    for i, first in enumerate(alone):
        for second in alone[i + 1:]:
            found.append(("alone vs alone", first, second))
    return found


def setup_label(setup: Setup) -> str:
    student, teacher = setup
    return student if teacher is None else f"{teacher}→{student}"


def values_by_seed(row: Dict) -> Dict[int, float]:
    """seed index -> value of a results row (`seeds`; positions where absent),
    values that are None left out."""
    seeds = row.get("seeds") or list(range(len(row["values"])))
    return {int(k): v for k, v in zip(seeds, row["values"]) if v is not None}


def compare(by_seed_a: Optional[Dict[int, float]], by_seed_b: Optional[Dict[int, float]],
            paper_difference: Optional[float] = None,
            confidence: float = CONFIDENCE) -> Optional[Dict]:
    """The effect A − B over the seeds both have (`paired_effect` fields,
    `seeds`, `paper_difference`, `verdict`); None when they share no seed."""
    shared = sorted(set(by_seed_a or ()) & set(by_seed_b or ()))
    if not shared:
        return None
    effect = paired_effect([by_seed_a[k] for k in shared], [by_seed_b[k] for k in shared],
                           confidence)
    return {**effect, "seeds": shared, "paper_difference": paper_difference,
            "verdict": verdict(effect, paper_difference)}


def _paper_value(papers: Dict, setup: Setup, eval_set: str, metric: str) -> Optional[float]:
    """The paper's mean for a setup; its SVA rows name no eval set and stand
    for our `*/test` sets."""
    value = papers.get((*setup, eval_set, metric))
    if value is None and eval_set.endswith("/test"):
        value = papers.get((*setup, None, metric))
    return value


def effects(rows: Sequence[Dict], paper: Sequence[Dict] = (),
            confidence: float = CONFIDENCE) -> List[Dict]:
    """The effects table of results.json rows (baseline rows are left out).

    Args:
      rows: results.json rows: student, teacher, eval_set, metric, values
        (one per seed) and `seeds` (their seed indices; positions otherwise).
      paper: the paper's rows (student, teacher, eval_set, metric, mean).
      confidence: coverage of the intervals.

    Returns:
      One entry per (comparison, eval set, metric) whose two setups share at
      least one seed index: kind, a, b (labels), eval_set, metric, the
      `paired_effect` fields, `paper_difference` (None without both paper
      numbers) and `verdict`.
    """
    ours = {(r["student"], r["teacher"], r["eval_set"], r["metric"]): values_by_seed(r)
            for r in rows if not r.get("baseline")}
    papers = {(r["student"], r.get("teacher"), r.get("eval_set"), r["metric"]): r["mean"]
              for r in paper}
    keys = list(dict.fromkeys((e, m) for (_, _, e, m) in ours))
    found = []
    for kind, a, b in comparisons([(s, t) for (s, t, _, _) in ours]):
        for eval_set, metric in keys:
            pa, pb = (_paper_value(papers, setup, eval_set, metric) for setup in (a, b))
            paper_difference = None if pa is None or pb is None else float(pa - pb)
            entry = compare(ours.get((*a, eval_set, metric)), ours.get((*b, eval_set, metric)),
                            paper_difference, confidence)
            if entry is not None:
                found.append({"kind": kind, "a": setup_label(a), "b": setup_label(b),
                              "eval_set": eval_set, "metric": metric, **entry})
    return found


def _interval(entry: Dict) -> str:
    if entry["low"] is None:
        return "— (n = 1)"
    return f"[{entry['low']:+.3f}, {entry['high']:+.3f}]"


def format_effects_table(entries: Sequence[Dict], metric: str,
                         confidence: float = CONFIDENCE) -> str:
    """A markdown table of one metric's effects, with how they were computed."""
    chosen = [e for e in entries if e["metric"] == metric]
    if not chosen:
        return ""
    resolved = sum(e["verdict"] != NOT_RESOLVED for e in chosen)
    lines = [f"Effects on {metric}: A − B, mean of the paired differences over seeds with its "
             f"{100 * confidence:g}% t interval ({PAIRING}). Verdict \"not resolved\" when the "
             "interval contains 0 (always with n = 1); otherwise the sign against the paper's "
             "difference, or A > B / A < B where the paper has none. "
             f"{resolved} of {len(chosen)} resolved.", "",
             f"| A | B | eval set | A − B | {100 * confidence:g}% CI | n | paper A − B | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for e in chosen:
        paper = "—" if e["paper_difference"] is None else f"{e['paper_difference']:+.3f}"
        lines.append(f"| {e['a']} | {e['b']} | {e['eval_set']} | {e['mean']:+.3f} | "
                     f"{_interval(e)} | {e['n']} | {paper} | {e['verdict']} |")
    return "\n".join(lines) + "\n"
