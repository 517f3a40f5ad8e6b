"""What `scripts/reproduce.py` shows while a table runs: one progress bar over
the runs (on a terminal) and one summary line per finished run."""

import sys
import time
from typing import Dict, Optional, Sequence, TextIO

from tqdm import tqdm

from tf_kdbias import io_utils, rundir

# The headline metric of an eval set, the first of these its metrics have.
HEADLINE_METRICS = ("accuracy", "micro_accuracy", "a_accuracy", "perplexity")


def format_duration(seconds: float) -> str:
    """'45 s', '12 min 5 s', '3 h 02 min'."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def eval_summary(run_dir: str) -> str:
    """'mnist accuracy 0.9812, mnist_c/translate accuracy 0.4301' from metrics.json."""
    path = rundir.metrics_path(run_dir)
    try:
        evals: Dict[str, Dict] = io_utils.read_json(path).get("eval") or {}
    except (OSError, ValueError, AttributeError):
        return "no readable metrics.json"
    cells = []
    for eval_set, metrics in evals.items():
        name = next((m for m in HEADLINE_METRICS if metrics.get(m) is not None), None)
        if name is not None:
            cells.append(f"{eval_set} {name} {metrics[name]:.4f}")
    return ", ".join(cells) or "no eval metrics"


class RunProgress:
    """A bar over the runs to do, with elapsed time and an estimate of what is left.

    The estimate assumes the remaining runs take as long, on average, as the
    finished ones of this invocation did (wall time, so parallel runs count
    once). On a terminal a tqdm bar stays at the bottom; elsewhere (logs,
    CI) only the lines are written.

    Args:
      total: runs this invocation will execute (finished ones are skipped).
      stream: where lines and the bar go (default: stdout).
      show_bar: draw the bar; default: when `stream` is a terminal.
    """

    def __init__(self, total: int, stream: Optional[TextIO] = None,
                 show_bar: Optional[bool] = None):
        self.total = total
        self.stream = stream or sys.stdout
        if show_bar is None:
            show_bar = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.time()
        self.done = 0
        self.bar = tqdm(total=total, unit="run", file=self.stream, dynamic_ncols=True,
                        disable=not show_bar or total == 0,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} runs "
                                   "[{elapsed} elapsed, ~{remaining} left]")

    def say(self, message: str) -> None:
        """A line above the bar (or a plain line without one)."""
        if self.bar.disable:
            print(message, file=self.stream, flush=True)
        else:
            self.bar.write(message, file=self.stream)

    def remaining_s(self) -> Optional[float]:
        """Estimated seconds until the last run finishes; None before the first."""
        if self.done == 0:
            return None
        return (time.time() - self.start) / self.done * (self.total - self.done)

    def finished(self, label: str, run_dirs: Sequence[str], seconds: float,
                 extra: str = "") -> None:
        """One line: the job, its time and its runs' headline metrics, then where the
        table stands."""
        self.done += 1
        self.bar.update(1)
        left = self.remaining_s()
        where = (f"{self.done}/{self.total} done, {format_duration(time.time() - self.start)} "
                 f"elapsed" + ("" if self.done == self.total else
                               f", ~{format_duration(left)} left"))
        summaries = " · ".join(eval_summary(run_dir) for run_dir in run_dirs)
        self.say(f"{label}: done in {seconds:.0f} s · {summaries} · {where}"
                 + (f" {extra}" if extra else ""))

    def close(self) -> None:
        self.bar.close()
