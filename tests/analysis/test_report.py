"""The whole analysis on a tiny workdir: outputs, consistency, read-only runs."""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.analysis import tiny_workdir
from tf_kdbias.analysis import report
from tf_kdbias.errors import UserError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def digests(folder) -> dict:
    """sha256 of every file under `folder` (model.keras, trajectory/, ...)."""
    result = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                result[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return result


@pytest.fixture(scope="module")
def analysed(tiny_workdir_path, data_dir):
    runs = tiny_workdir_path / "runs"
    before = digests(runs)
    settings = report.AnalysisSettings(eval_set="mnist", calibration_sets=["mnist"],
                                       num_examples=200, bn_examples=256, num_points=3,
                                       bootstrap_samples=200)
    report.analyze_workdir(str(tiny_workdir_path), data_dir, settings)
    after = digests(runs)
    with open(tiny_workdir_path / "analysis" / "analysis.json") as f:
        return {"json": json.load(f), "before": before, "after": after,
                "out_dir": tiny_workdir_path / "analysis"}


def test_analysis_never_changes_run_files(analysed):
    assert any(path.endswith("model.keras") for path in analysed["before"])
    assert sum("trajectory" in path for path in analysed["before"]) == 4 * 3
    assert analysed["after"] == analysed["before"]


def test_matrices_cover_every_finished_run(analysed):
    result = analysed["json"]
    names = [r["name"] for r in result["runs"]]
    # Setup order, then seed; the unfinished mlp_to_mlp run is left out.
    assert names == ["cnn/seed_0", "mlp/seed_0", "mlp/seed_1", "cnn_to_mlp/seed_0"]
    for measure in report.MEASURES:
        matrix = np.array(result["similarity"][measure])
        assert matrix.shape == (4, 4)
        np.testing.assert_allclose(matrix, matrix.T)
        np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-9)
        assert np.array(result["mds"][measure]["coordinates"]).shape == (4, 2)
    for key in ("agreement", "error_jaccard", "kl"):
        assert np.array(result["behaviour"][key]).shape == (4, 4)
    assert len(result["representation_examples"]["indices"]) == 200


def test_similarity_summary_points_at_the_teacher(analysed):
    result = analysed["json"]
    own = result["similarity_summary"]["to_own_teacher"]
    assert list(own) == ["cnn_to_mlp/seed_0"]
    assert own["cnn_to_mlp/seed_0"]["teacher"] == "cnn/seed_0"
    assert own["cnn_to_mlp/seed_0"]["rsa"] == pytest.approx(result["similarity"]["rsa"][3][0])
    to_cnn = result["similarity_summary"]["mean_to_setup"]["cnn"]
    linear = result["similarity"]["linear_cka"]
    assert to_cnn["mlp"]["linear_cka"] == pytest.approx((linear[1][0] + linear[2][0]) / 2)
    assert to_cnn["cnn"]["linear_cka"] is None  # One CNN run: nothing to compare with.
    same_seed = result["similarity_summary"]["to_same_seed_reference"]["cnn"]
    assert {run: v["reference"] for run, v in same_seed.items()} == {
        "mlp/seed_0": "cnn/seed_0", "cnn_to_mlp/seed_0": "cnn/seed_0"}  # No cnn/seed_1.
    assert same_seed["mlp/seed_0"]["debiased_cka"] == pytest.approx(
        result["similarity"]["debiased_cka"][1][0])


def test_trajectories_cover_every_checkpoint_of_the_chosen_runs(analysed):
    trajectories = analysed["json"]["trajectories"]
    points = [(c["run"], c["epoch"]) for c in trajectories["checkpoints"]]
    assert points == [(run, epoch) for run in ("cnn/seed_0", "mlp/seed_0", "cnn_to_mlp/seed_0")
                      for epoch in (0, 1, 2)]
    assert np.array(trajectories["rsa"]["coordinates"]).shape == (9, 2)


def test_interpolation_pairs_and_barriers(analysed):
    basins = analysed["json"]["interpolation"]
    assert [p["runs"] for p in basins["pairs"]] == [
        ["mlp/seed_0", "mlp/seed_1"], ["mlp/seed_0", "cnn_to_mlp/seed_0"],
        ["mlp/seed_1", "cnn_to_mlp/seed_0"]]
    for pair in basins["pairs"]:
        assert pair["alphas"] == [0.0, 0.5, 1.0]
        for name in ("train", "mnist"):
            loss = pair["curves"][name]["loss"]
            assert pair["barrier"][name]["loss"] == pytest.approx(
                max(loss) - (loss[0] + loss[-1]) / 2)
            assert pair["barrier"][name]["loss_above_line"] == pytest.approx(
                max(0.0, loss[1] - (loss[0] + loss[-1]) / 2))
    assert basins["mean_barrier"]["MLP vs MLP"]["train"]["n"] == 1
    assert basins["mean_barrier"]["CNN→MLP vs MLP"]["train"]["n"] == 2


def test_reliability_pools_the_runs_of_a_setup(analysed):
    diagrams = analysed["json"]["calibration"]["mnist"]
    assert list(diagrams) == ["cnn", "mlp", "cnn_to_mlp"]
    assert sum(diagrams["mlp"]["count"]) == 2 * 10000
    assert sum(diagrams["cnn"]["count"]) == 10000
    assert len(diagrams["mlp"]["ece_per_run"]) == 2


def test_figures_are_pngs_and_tensorboard_images(analysed):
    import tensorflow as tf

    figures = analysed["json"]["figures"]
    assert set(figures) == {"mds_runs", "trajectories", "reliability_mnist", "interpolation",
                            "robustness"}
    for filename in figures.values():
        with open(analysed["out_dir"] / filename, "rb") as f:
            assert f.read(8) == PNG_SIGNATURE
    event_files = list((analysed["out_dir"] / "tensorboard").glob("events.out.tfevents.*"))
    tags = {value.tag for path in event_files
            for event in tf.compat.v1.train.summary_iterator(str(path))
            for value in event.summary.value}
    assert tags == set(figures)


def test_transfer_scores_and_agreement_agree_with_the_behaviour_matrices(analysed):
    result = analysed["json"]
    accuracy = dict(zip([r["name"] for r in result["runs"]], result["behaviour"]["accuracy"]))
    assert set(result["transfer"]["scores"]) == {"mnist", *[f"mnist_c/{c}" for c in (
        "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate",
        "brightness", "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag",
        "canny_edges", "identity")]}
    (entry,) = result["transfer"]["scores"]["mnist"]["cnn_to_mlp"].values()  # Control: mlp.
    teacher, student = accuracy["cnn/seed_0"], accuracy["cnn_to_mlp/seed_0"]
    control = (accuracy["mlp/seed_0"] + accuracy["mlp/seed_1"]) / 2
    assert (entry["kind"], entry["runs"]["control"]) == ("alone", 2)
    if teacher > control:
        assert entry["score"] == pytest.approx((student - control) / (teacher - control))
    else:  # Tiny models: the CNN may well be the worse one.
        assert entry["score"] is None and "no gap to close" in entry["reason"]
    agreement = result["transfer"]["agreement"]["cnn"]["cnn_to_mlp"]["eval_sets"]["mnist"]
    behaviour = result["behaviour"]
    assert agreement["agreement"]["values"] == pytest.approx([behaviour["agreement"][3][0]])
    assert agreement["kl"]["values"] == pytest.approx([behaviour["kl"][0][3]])


def test_robustness_profile_of_every_setup(analysed):
    profile = analysed["json"]["robustness"]
    assert profile["setups"] == ["cnn", "mlp", "cnn_to_mlp"]
    assert len(profile["corruptions"]) == 15
    assert profile["accuracy"]["mlp"]["mean"]["n"] == 2
    assert profile["marked"] == {"cnn": [], "mlp": [], "cnn_to_mlp": []}  # Plain training.
    clean_cnn = analysed["json"]["behaviour"]["accuracy"][0]  # Behaviour is on mnist here.
    assert profile["clean"]["cnn"]["mean"] == pytest.approx(clean_cnn)


def test_a_workdir_without_runs_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="No finished runs"):
        report.analyze_workdir(str(tmp_path))


def test_script_reports_user_errors_without_a_traceback(tmp_path):
    script = tiny_workdir.REPO_ROOT / "scripts" / "analyze.py"
    done = subprocess.run([sys.executable, str(script), f"--workdir={tmp_path}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "error: No finished runs" in done.stderr
    assert "Traceback" not in done.stderr


def test_runs_of_another_task_are_a_user_error(tmp_path):
    run_dir = tmp_path / "runs" / "lstm" / "seed_0"
    run_dir.mkdir(parents=True)
    (run_dir / "model.keras").write_bytes(b"x")
    (run_dir / "metrics.json").write_text(json.dumps({"task": "sva"}))
    with pytest.raises(UserError, match="MNIST runs only"):
        report.analyze_workdir(str(tmp_path))
