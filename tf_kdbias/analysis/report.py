"""Runs every analysis of a workdir and writes `W/analysis/`.

  W/analysis/analysis.json   matrices, MDS coordinates, trajectories,
                             reliability bins, interpolation curves and
                             barriers, each with the run names they refer to
  W/analysis/*.png           the figures
  W/analysis/tensorboard/    the same figures as TensorBoard images

Runs are only read: models are loaded into memory and nothing is saved back.
"""

import dataclasses
import math
import os
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from tf_kdbias import io_utils, rundir
from tf_kdbias.analysis import (behaviour, calibration_plots, interpolation, mds,
                                representations, robustness, similarity, trajectories, transfer)
from tf_kdbias.analysis.workdir import RunInfo, list_runs, run_task, setup_label, teacher_run
from tf_kdbias.data.eval_sets import MNIST_EVAL_SETS, expand_eval_sets, load_eval_set
from tf_kdbias.data.mnist import ImageSplit, load_mnist
from tf_kdbias.errors import UserError

ANALYSIS_DIR = "analysis"
ANALYSIS_FILE = "analysis.json"
MEASURES = ("rsa", "linear_cka", "debiased_cka")
MEASURE_LABELS = {"rsa": "RSA", "linear_cka": "linear CKA", "debiased_cka": "debiased CKA"}
TRAIN = "train"


@dataclasses.dataclass
class AnalysisSettings:
    """What to analyse.

    Args:
      eval_set: set for per-sample behaviour, representations and the
        interpolation's held-out loss.
      num_examples: size of the fixed subset of `eval_set` used for
        representations (and of the training subset used for path losses).
      seed: seeds the subsets, MDS and the Dropout masks of BN re-estimation.
      calibration_sets: eval sets with reliability diagrams (whole sets).
      trajectory_runs: run names ('cnn_to_mlp/seed_0') whose checkpoints are
        embedded; None takes the lowest seed of every setup; empty skips.
      pair_mode: 'same_setup', 'same_architecture' or 'none' (no basins).
      num_points: points on each interpolation path, endpoints included.
      bn_examples: training examples for BatchNorm re-estimation per point.
      tensorboard: also write the figures as TensorBoard images.
      transfer_sets: eval sets with agreement, KL and transfer scores (empty: none).
      robustness: the accuracy profile over the 15 MNIST-C corruptions.
      bootstrap_samples: resamples of the transfer scores' intervals.
      confidence_level: coverage of those intervals.
    """

    eval_set: str = "mnist_c/translate"
    num_examples: int = 1000
    seed: int = 0
    calibration_sets: Sequence[str] = MNIST_EVAL_SETS
    trajectory_runs: Optional[Sequence[str]] = None
    pair_mode: str = "same_architecture"
    num_points: int = interpolation.DEFAULT_POINTS
    bn_examples: int = 2048
    tensorboard: bool = True
    transfer_sets: Sequence[str] = ("mnist", "mnist_c/all")
    robustness: bool = True
    bootstrap_samples: int = transfer.DEFAULT_SAMPLES
    confidence_level: float = transfer.DEFAULT_LEVEL


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _jsonable(value):
    """numpy -> Python, and NaN/Inf -> None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _check_settings(settings: AnalysisSettings) -> None:
    expand_eval_sets([settings.eval_set, *settings.calibration_sets,  # UserError if unknown.
                      *settings.transfer_sets])
    if settings.bootstrap_samples < 1 or not 0 < settings.confidence_level < 1:
        raise UserError(f"--bootstrap_samples={settings.bootstrap_samples} and "
                        f"--confidence_level={settings.confidence_level}: use at least one "
                        "resample (1000 is the default) and a level strictly between 0 and 1.")
    if settings.num_examples < 4:
        raise UserError(f"--num_examples={settings.num_examples} is too small; debiased CKA "
                        "needs at least 4 examples (1000 is the default).")
    if settings.num_points < 2:
        raise UserError(f"--num_points={settings.num_points}: a path needs at least its "
                        "two endpoints.")
    if settings.pair_mode not in ("same_setup", "same_architecture", "none"):
        raise UserError(f"Unknown --pairs={settings.pair_mode!r}; use same_setup, "
                        "same_architecture or none.")


def _check_image_runs(runs: Sequence[RunInfo]) -> None:
    """These analyses feed MNIST images; other tasks' runs cannot be read."""
    others = sorted({f"{run.name} ({run_task(run)})" for run in runs if run_task(run) != "mnist"})
    if others:
        raise UserError(f"scripts/analyze.py analyses MNIST runs only; these runs are of "
                        f"another task: {', '.join(others)}.")


def _model_outputs(runs: Sequence[RunInfo], eval_data: Dict[str, ImageSplit],
                   subset: np.ndarray, eval_set: str) -> Dict[str, List]:
    """Full-set logits per eval set and subset features, one model at a time."""
    outputs = {"logits": {name: [] for name in eval_data}, "features": []}
    for run in runs:
        _log(f"  reading {run.name}")
        model = representations.load_run_model(run)
        for name, split in eval_data.items():
            outputs["logits"][name].append(representations.predict_logits(model, split.images))
        _, features = representations.logits_and_penultimate(
            model, eval_data[eval_set].images[subset])
        outputs["features"].append(features)
    return outputs


def similarity_summary(runs: Sequence[RunInfo], matrices: Dict[str, np.ndarray]) -> Dict:
    """Similarity of each run to its own teacher, to the same-seed run of every
    setup trained alone (e.g. 'cnn'), and the mean similarity of each setup's
    runs to all runs of such a setup.

    Args:
      runs: the runs, in matrix order.
      matrices: measure name -> [len(runs), len(runs)] similarity matrix.
    """
    index = {run.name: i for i, run in enumerate(runs)}
    own_teacher = {}
    for i, run in enumerate(runs):
        teacher = teacher_run(run, list(runs))
        if teacher is not None:
            j = index[teacher.name]
            own_teacher[run.name] = {"teacher": teacher.name,
                                     **{m: float(matrices[m][i, j]) for m in matrices}}
    references = [s for s in dict.fromkeys(r.setup for r in runs)
                  if rundir.parse_setup(s)[1] is None]  # Setups trained alone.
    # Run k of every setup against run k of a reference setup: for 'cnn' this
    # is exactly the teacher of cnn_to_*/seed_k, so all setups share a yardstick.
    same_seed = {}
    for reference in references:
        same_seed[reference] = {}
        for i, run in enumerate(runs):
            for j, other in enumerate(runs):
                if other.setup == reference and other.seed_index == run.seed_index and i != j:
                    same_seed[reference][run.name] = {
                        "reference": other.name, **{m: float(matrices[m][i, j]) for m in matrices}}
    to_setup = {}
    for reference in references:
        to_setup[reference] = {}
        for setup in dict.fromkeys(r.setup for r in runs):
            pairs = [(i, j) for i, a in enumerate(runs) for j, b in enumerate(runs)
                     if a.setup == setup and b.setup == reference and i != j]
            to_setup[reference][setup] = {
                m: (float(np.mean([matrices[m][i, j] for i, j in pairs])) if pairs else None)
                for m in matrices}
    return {"to_own_teacher": own_teacher, "to_same_seed_reference": same_seed,
            "mean_to_setup": to_setup}


def _trajectory_choice(runs: Sequence[RunInfo], names: Optional[Sequence[str]]) -> List[RunInfo]:
    """The named runs, or by default the lowest-seed run of every setup."""
    if names is None:
        first_seed = {}
        for run in runs:
            first_seed.setdefault(run.setup, run)
        return list(first_seed.values())
    by_name = {run.name: run for run in runs}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UserError(f"--trajectory_runs names unknown runs {unknown}; choose among "
                        f"{sorted(by_name)}.")
    return [by_name[n] for n in names]


def _analyse_trajectories(runs, images, settings, out_dir, figures) -> Dict:
    """Checkpoint MDS of the chosen runs; adds 'trajectories' to `figures`."""
    chosen = _trajectory_choice(runs, settings.trajectory_runs)
    if not chosen:
        return {}
    _log(f"Trajectories of {len(chosen)} runs")
    points = trajectories.checkpoint_representations(chosen, images)
    if len(points) < 2:
        return {}
    embedded = trajectories.embed_trajectories(points, ("rsa", "linear_cka"), seed=settings.seed)
    figures["trajectories"] = trajectories.plot_trajectories(
        points, {MEASURE_LABELS[m]: np.asarray(e["coordinates"]) for m, e in embedded.items()},
        {r.name: r.short_label for r in chosen}, os.path.join(out_dir, "trajectories.png"))
    return {"checkpoints": [{"run": p["run"], "epoch": p["epoch"]} for p in points],
            **embedded}


def _analyse_calibration(runs, labels_by_set, logits_by_set, out_dir, figures) -> Dict:
    """Reliability bins per eval set and setup; one figure per eval set."""
    _log("Reliability diagrams")
    result = {}
    for eval_set, logits in logits_by_set.items():
        diagrams = {}
        for setup in dict.fromkeys(r.setup for r in runs):
            members = [logits[i] for i, r in enumerate(runs) if r.setup == setup]
            diagrams[setup] = calibration_plots.reliability(members, labels_by_set[eval_set])
        slug = eval_set.replace("/", "_")
        figures[f"reliability_{slug}"] = calibration_plots.plot_reliability(
            diagrams, eval_set, os.path.join(out_dir, f"reliability_{slug}.png"))
        result[eval_set] = diagrams
    return result


def _training_subsets(data_dir, settings) -> Dict[str, np.ndarray]:
    """Disjoint seeded training subsets: BN re-estimation and path losses."""
    train = load_mnist(data_dir, validation_size=0).train
    order = np.random.default_rng(settings.seed).permutation(len(train))
    bn = order[:settings.bn_examples]
    loss = np.sort(order[settings.bn_examples:settings.bn_examples + settings.num_examples])
    return {"bn_images": train.images[bn], "loss_split": train.take(loss)}


def _analyse_basins(runs, eval_subset: ImageSplit, settings, data_dir, out_dir, figures) -> Dict:
    """Interpolation paths and barriers of the chosen pairs, on a training
    subset and on the eval subset; adds 'interpolation' to `figures`."""
    _log("Basins")
    if settings.pair_mode == "none":
        return {}
    pairs = interpolation.choose_pairs(runs, settings.pair_mode)
    if not pairs:
        _log("Basins: no two runs share an architecture; skipped")
        return {"pairs": []}
    subsets = _training_subsets(data_dir, settings)
    datasets = {TRAIN: subsets["loss_split"], settings.eval_set: eval_subset}
    results = []
    for k, (run_a, run_b) in enumerate(pairs, 1):
        _log(f"  path {k}/{len(pairs)}: {run_a.name} -- {run_b.name}")
        path = interpolation.interpolation_path(
            representations.load_run_model(run_a), representations.load_run_model(run_b),
            datasets, subsets["bn_images"], settings.num_points, seed=settings.seed)
        results.append({"runs": [run_a.name, run_b.name], "setups": [run_a.setup, run_b.setup],
                        "label": f"{run_a.short_label} – {run_b.short_label}", **path})
    figures["interpolation"] = interpolation.plot_paths(
        results, list(datasets), os.path.join(out_dir, "interpolation.png"))
    return {"pair_mode": settings.pair_mode, "datasets": list(datasets),
            "bn_examples": settings.bn_examples, "pairs": results,
            "mean_barrier": _mean_barriers(results)}


def _mean_barriers(pairs: Sequence[Dict]) -> Dict:
    """Mean loss barriers per kind of pair ('CNN→MLP vs CNN→MLP') and dataset."""
    groups = {}
    for pair in pairs:
        key = " vs ".join(setup_label(s) for s in sorted(pair["setups"]))
        for name, value in pair["barrier"].items():
            groups.setdefault(key, {}).setdefault(name, []).append(value)
    return {key: {name: {"loss_barrier": float(np.mean([v["loss"] for v in values])),
                         "loss_above_line": float(np.mean([v["loss_above_line"]
                                                           for v in values])),
                         "n": len(values)}
                  for name, values in by_set.items()}
            for key, by_set in groups.items()}


def write_tensorboard_images(figures: Dict[str, str], logdir: str) -> None:
    """Each PNG as a TensorBoard image summary named after the figure."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(logdir)
    with writer.as_default():
        for name, path in figures.items():
            image = tf.io.decode_png(tf.io.read_file(path), channels=4)
            tf.summary.image(name, image[None], step=0)
    writer.close()


def _analyse_similarity(runs, features, settings: AnalysisSettings, num_examples: int,
                        out_dir: str, figures: Dict[str, str]):
    """(similarity matrix per measure, MDS embedding per measure); draws the MDS figure."""
    _log("Similarity matrices")
    matrices = {m: similarity.pairwise_similarity(features, similarity.SIMILARITIES[m])
                for m in MEASURES}
    embeddings = {m: mds.embed(mds.dissimilarity_from_similarity(matrices[m]), seed=settings.seed)
                  for m in MEASURES}
    figures["mds_runs"] = mds.plot_runs(
        {MEASURE_LABELS[m]: embeddings[m]["coordinates"] for m in ("rsa", "linear_cka")},
        runs, os.path.join(out_dir, "mds_runs.png"),
        title=f"Penultimate layer on {num_examples} examples of {settings.eval_set}")
    return matrices, embeddings


def _analyse_transfer(runs, logits, eval_data, settings: AnalysisSettings, transfer_sets,
                      out_dir: str, figures: Dict[str, str]):
    """(agreement and transfer scores or None, the 15-corruption profile or None)."""
    transfer_result = profile = None
    if transfer_sets:
        _log(f"Agreement and transfer scores on {len(transfer_sets)} eval sets")
        transfer_result = transfer.transfer_analysis(
            runs, {n: logits[n] for n in transfer_sets},
            {n: eval_data[n].labels for n in transfer_sets},
            samples=settings.bootstrap_samples, level=settings.confidence_level,
            seed=settings.seed)
    if settings.robustness:
        _log("Robustness profile over the 15 MNIST-C corruptions")
        profile = robustness.robustness_profile(runs, logits,
                                                {n: d.labels for n, d in eval_data.items()})
        figures["robustness"] = robustness.plot_profile(
            profile, os.path.join(out_dir, "robustness.png"))
    return transfer_result, profile


def _load_eval_data(settings: AnalysisSettings, transfer_sets, data_dir) -> Dict:
    """Every eval set some analysis reads, loaded once: {name: EvalSplit}."""
    set_names = list(dict.fromkeys([settings.eval_set,
                                    *expand_eval_sets(settings.calibration_sets), *transfer_sets,
                                    *(robustness.EVAL_SETS if settings.robustness else ())]))
    return {name: load_eval_set(name, data_dir) for name in set_names}


def analyze_workdir(workdir: str, data_dir: Optional[str] = None,
                    settings: Optional[AnalysisSettings] = None,
                    runs: Optional[Sequence[RunInfo]] = None) -> Dict:
    """Runs all analyses on the finished runs of `workdir`; returns analysis.json.

    Args:
      workdir: a reproduce workdir (runs/<setup>/seed_<k>/).
      data_dir: data folder (None: $TF_KDBIAS_DATA_DIR or TFDS).
      settings: what to analyse (defaults: AnalysisSettings()).
      runs: the runs to analyse (default: `list_runs(workdir)`).
    """
    start = time.time()
    settings = settings or AnalysisSettings()
    _check_settings(settings)
    runs = list(runs) if runs is not None else list_runs(workdir)
    _check_image_runs(runs)
    out_dir, figures = os.path.join(os.path.abspath(workdir), ANALYSIS_DIR), {}
    transfer_sets = expand_eval_sets(settings.transfer_sets)
    eval_data = _load_eval_data(settings, transfer_sets, data_dir)
    subset = representations.seeded_subset(len(eval_data[settings.eval_set]),
                                            settings.num_examples, settings.seed)
    eval_subset = eval_data[settings.eval_set].take(subset)

    _log(f"Reading {len(runs)} runs")
    outputs = _model_outputs(runs, eval_data, subset, settings.eval_set)
    matrices, embeddings = _analyse_similarity(runs, outputs["features"], settings,
                                               len(subset), out_dir, figures)
    trajectory = _analyse_trajectories(runs, eval_subset.images, settings, out_dir, figures)
    calibration_sets = expand_eval_sets(settings.calibration_sets)
    calibration = _analyse_calibration(
        runs, {n: eval_data[n].labels for n in calibration_sets},
        {n: outputs["logits"][n] for n in calibration_sets}, out_dir, figures)
    basins = _analyse_basins(runs, eval_subset, settings, data_dir, out_dir, figures)
    transfer_result, profile = _analyse_transfer(runs, outputs["logits"], eval_data, settings,
                                                 transfer_sets, out_dir, figures)
    analysis = {
        "workdir": os.path.abspath(workdir),
        "settings": dataclasses.asdict(settings),
        "runs": [{"name": r.name, "setup": r.setup, "label": r.label, "student": r.student,
                  "teacher": r.teacher, "seed_index": r.seed_index} for r in runs],
        "representation_examples": {"eval_set": settings.eval_set, "indices": subset},
        "behaviour": {"eval_set": settings.eval_set,
                      **behaviour.behaviour_matrices(outputs["logits"][settings.eval_set],
                                                     eval_data[settings.eval_set].labels)},
        "similarity": {m: matrices[m] for m in MEASURES},
        "similarity_summary": similarity_summary(runs, matrices),
        "mds": {m: {"coordinates": embeddings[m]["coordinates"],
                    "stress": embeddings[m]["stress"]} for m in MEASURES},
        "trajectories": trajectory,
        "calibration": calibration,
        "interpolation": basins,
        "transfer": transfer_result,
        "robustness": profile,
        "figures": {name: os.path.basename(path) for name, path in figures.items()},
        "wall_time_s": round(time.time() - start, 1),
    }
    if settings.tensorboard:
        write_tensorboard_images(figures, os.path.join(out_dir, "tensorboard"))
    io_utils.write_json_atomic(os.path.join(out_dir, ANALYSIS_FILE), _jsonable(analysis))
    return analysis


def _cell(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def format_summary(analysis: Dict) -> str:
    """Markdown tables of the headline numbers of an analysis."""
    lines = [f"# Analysis of {analysis['workdir']}", ""]
    for reference, by_setup in analysis["similarity_summary"]["mean_to_setup"].items():
        lines += [f"Mean similarity to the {setup_label(reference)} runs "
                  f"(penultimate layer, {analysis['settings']['eval_set']}):", "",
                  "| setup | RSA | linear CKA | debiased CKA |", "|---|---|---|---|"]
        lines += [f"| {setup_label(setup)} | {_cell(v['rsa'])} | {_cell(v['linear_cka'])} | "
                  f"{_cell(v['debiased_cka'])} |" for setup, v in by_setup.items()]
        lines.append("")
    own = analysis["similarity_summary"]["to_own_teacher"]
    if own:
        lines += ["Similarity of each distilled run to its own teacher:", "",
                  "| run | teacher | RSA | linear CKA | debiased CKA |", "|---|---|---|---|---|"]
        lines += [f"| {run} | {v['teacher']} | {_cell(v['rsa'])} | {_cell(v['linear_cka'])} | "
                  f"{_cell(v['debiased_cka'])} |" for run, v in own.items()]
        lines.append("")
    for reference, by_run in analysis["similarity_summary"]["to_same_seed_reference"].items():
        lines += [f"Similarity of each run to the {setup_label(reference)} run of the same seed:",
                  "", "| run | reference | RSA | linear CKA | debiased CKA |",
                  "|---|---|---|---|---|"]
        lines += [f"| {run} | {v['reference']} | {_cell(v['rsa'])} | {_cell(v['linear_cka'])} | "
                  f"{_cell(v['debiased_cka'])} |" for run, v in by_run.items()]
        lines.append("")
    barriers = analysis["interpolation"].get("mean_barrier", {})
    if barriers:
        names = analysis["interpolation"]["datasets"]
        lines += ["Mean loss barrier on the straight line between weights (max loss minus "
                  "the endpoints' mean, Frankle et al. 2020; in brackets: max excess over "
                  "the line joining the endpoints, Entezari et al. 2022):", "",
                  "| pair | " + " | ".join(names) + " | pairs |",
                  "|---|" + "---|" * (len(names) + 1)]
        for key, by_set in barriers.items():
            cells = " | ".join(f"{_cell(by_set[n]['loss_barrier'])} "
                               f"({_cell(by_set[n]['loss_above_line'])})" for n in names)
            lines.append(f"| {key} | {cells} | {by_set[names[0]]['n']} |")
        lines.append("")
    if analysis.get("transfer"):
        lines.append(transfer.format_summary(analysis["transfer"], setup_label))
    if analysis.get("robustness"):
        lines.append(robustness.format_summary(analysis["robustness"]))
    lines.append(f"Written to {os.path.join(analysis['workdir'], ANALYSIS_DIR)} "
                 f"in {analysis['wall_time_s']:.0f} s.")
    return "\n".join(lines)
