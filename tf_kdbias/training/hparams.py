"""TensorBoard views of finished runs: final eval metrics as scalars, and an
HParams table of a reproduce workdir.

Layout (`tensorboard --logdir W`):

  W/runs/<setup>/seed_<k>/tensorboard/        the run's session: its hparams
  W/runs/<setup>/seed_<k>/tensorboard/eval/   final eval-set metrics, one
                                              scalar per eval set and metric
                                              (tag '<eval set>/<metric>')
  W/hparams/                                  the table's columns

so the HParams dashboard shows one row per run (student, teacher, seed, T,
r, recipe) with the final accuracy / ECE of every eval set as columns.
Everything here needs TensorFlow (tf.summary); without it the caller is told
and nothing is written.
"""

import glob
import os
from typing import Dict, List, Optional, Sequence

from tf_kdbias import rundir, tf_support

EVAL_GROUP = "eval"  # Subfolder of a run's tensorboard/ with the final metrics.
HPARAMS_DIR = "hparams"  # Under the workdir: the table's configuration.
FINAL_SUFFIX = ".final"
SESSION_SUFFIX = ".hparams"
HPARAM_NAMES = ("student", "teacher", "seed", "temperature", "distill_rate", "recipe")
# Columns of the table (when an eval set has them); every metric is a scalar.
COLUMN_METRICS = ("accuracy", "micro_accuracy", "a_accuracy", "d_accuracy", "ece",
                  "ece_paper", "perplexity")


def _fresh_writer(logdir: str, suffix: str):
    """A summary writer whose file replaces earlier ones with the same suffix
    (so rewriting a view never duplicates it)."""
    import tensorflow as tf

    for old in glob.glob(os.path.join(logdir, f"events.out.tfevents.*{suffix}")):
        os.remove(old)
    os.makedirs(logdir, exist_ok=True)
    return tf.summary.create_file_writer(logdir, filename_suffix=suffix)


def log_final_metrics(tensorboard_dir: str, results: Dict[str, Dict[str, Optional[float]]],
                      step: int) -> bool:
    """Writes each eval set's final metrics as scalars '<eval set>/<metric>'.

    Args:
      tensorboard_dir: the run's tensorboard/ folder (scalars go to eval/).
      results: eval set -> metric -> value (None: not available, skipped).
      step: the x position (the run's epochs).

    Returns:
      False (and nothing written) without TensorFlow.
    """
    if not tf_support.tensorflow_available():
        return False
    import tensorflow as tf

    writer = _fresh_writer(os.path.join(tensorboard_dir, EVAL_GROUP), FINAL_SUFFIX)
    with writer.as_default():
        for eval_set, metrics in results.items():
            for metric, value in metrics.items():
                if value is not None:
                    tf.summary.scalar(f"{eval_set}/{metric}", float(value), step=step)
    writer.close()
    return True


def run_hparams(run, recipe: str, metrics: Dict) -> Dict[str, object]:
    """The table row's hyperparameters of one reproduce run.

    T and r come from the run's own record (metrics.json 'distillation');
    runs trained alone have none, and leave those cells empty.
    """
    values = {"student": run.student, "teacher": run.teacher or "none",
              "seed": int(run.seed_index), "recipe": recipe}
    for name, value in (metrics.get("distillation") or {}).items():
        if name in HPARAM_NAMES and value is not None:
            values[name] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return values


def _columns(evals: Sequence[Dict]) -> List[str]:
    """Tags '<eval set>/<metric>' of the table's metric columns, in order."""
    tags = []
    for evaluation in evals:
        for eval_set, metrics in evaluation.items():
            tags += [f"{eval_set}/{m}" for m in COLUMN_METRICS if m in metrics]
    return list(dict.fromkeys(tags))


def write_hparams_view(workdir: str, experiment, runs: Sequence, log=print) -> Optional[str]:
    """Writes the HParams view of the finished runs of a reproduce workdir.

    A run finished before its final metrics were logged as scalars gets them
    now, from its metrics.json.

    Args:
      workdir: the experiment folder (runs under runs/).
      experiment: the reproduce Experiment (its recipe, or name, labels rows).
      runs: the plan; unfinished runs are left out.
      log: where to say that TensorFlow is missing.

    Returns:
      The folder holding the table's configuration, or None without TensorFlow.
    """
    if not tf_support.tensorflow_available():
        log("The TensorBoard HParams view needs TensorFlow, which is not installed: "
            "skipped (results.json has the same numbers).")
        return None
    from tensorboard.plugins.hparams import api as hp

    recipe = getattr(experiment, "recipe", "") or experiment.name
    finished = [run for run in runs if run.finished]
    evals = []
    for run in finished:
        metrics = rundir.read_metrics(run.run_dir)
        evals.append(metrics.get("eval") or {})
        tensorboard_dir = os.path.join(run.run_dir, rundir.TENSORBOARD_FOLDER)
        if not glob.glob(os.path.join(tensorboard_dir, EVAL_GROUP, f"*{FINAL_SUFFIX}")):
            log_final_metrics(tensorboard_dir, evals[-1], int(metrics.get("epochs") or 0))
        writer = _fresh_writer(tensorboard_dir, SESSION_SUFFIX)
        with writer.as_default():
            hp.hparams(run_hparams(run, recipe, metrics),
                       trial_id=os.path.relpath(run.run_dir, os.path.join(workdir, rundir.RUNS_FOLDER)))
        writer.close()
    config_dir = os.path.join(workdir, HPARAMS_DIR)
    writer = _fresh_writer(config_dir, SESSION_SUFFIX)
    with writer.as_default():
        hp.hparams_config(
            hparams=[hp.HParam(name) for name in HPARAM_NAMES],
            metrics=[hp.Metric(tag, group=EVAL_GROUP, display_name=tag.replace("/", " "))
                     for tag in _columns(evals)])
    writer.close()
    return config_dir
