"""The main job's config is the authors' recipe, shortened, with schedules rescaled to its epochs."""

import re

import gin
import pytest

from tf_kdbias import gin_utils
from tf_kdbias.reproduce import plan

STEPS_PER_EPOCH = 469  # 60k images, batch 128.


@pytest.fixture
def quick_runs(tmp_path):
    gin_utils.parse_gin(["gin_configs/mnist_c/quick.gin"], [])
    try:
        experiment = plan.Experiment()
        yield experiment, plan.plan_runs(experiment, str(tmp_path), None)
    finally:
        gin.clear_config()


def _binding(run, name):
    values = [b.split("=", 1)[1].strip() for b in run.bindings if b.split("=")[0].strip() == name]
    assert len(values) == 1, (run.label, name, values)
    return values[0]


def test_the_main_job_is_the_authors_recipe_shortened(quick_runs):
    experiment, runs = quick_runs
    assert experiment.recipe.startswith("authors' recipe, shortened")
    assert len({r.setup for r in runs}) == 6
    for run in runs:
        recipe = "authors_alone.gin" if run.teacher is None else "authors_student.gin"
        assert run.gin_files[-1] == f"gin_configs/mnist_c/recipes/{recipe}", run.label


def test_schedules_cover_each_run_as_the_authors_covered_400_epochs(quick_runs):
    """decay_steps = 10000 * E / 400 alone; first_decay_steps = 200000 * E / 400 as students."""
    _, runs = quick_runs
    for run in runs:
        epochs = int(_binding(run, "EPOCHS"))
        if run.teacher is None:
            assert int(_binding(run, "make_optimizer.decay_steps")) == 10000 * epochs // 400
        else:
            assert int(_binding(run, "make_optimizer.first_decay_steps")) == 200000 * epochs // 400
            assert _binding(run, "Distiller.teacher_training") == "False"


def test_budget_candidates_differ_from_quick_only_in_their_budget():
    """Each candidate of the budget study rebinds epochs and the schedules that follow them."""
    import glob

    for path in sorted(glob.glob("gin_configs/mnist_c/quick_budget/*.gin")):
        gin_utils.parse_gin(["gin_configs/mnist_c/quick.gin", path], [])
        try:
            experiment = plan.Experiment()
            cnn, mlp = re.search(r"cnn(\d+)_mlp(\d+)", path).groups()
            assert experiment.model_bindings["cnn"][0] == f"EPOCHS = {cnn}"
            assert experiment.model_bindings["mlp"][0] == f"EPOCHS = {mlp}"
            assert experiment.recipe.startswith("authors' recipe, shortened")
        finally:
            gin.clear_config()
