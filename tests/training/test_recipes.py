"""paper.gin (the authors' recipe) and modern.gin parse, plan and run end to end."""

import ast
import json
import os

import gin
import numpy as np
import pytest

from tests.script_runner import run_script_in_process
from tf_kdbias import gin_utils
from tf_kdbias.reproduce import plan

# One short epoch of the MLP table's two cheapest setups on a slice of MNIST.
TINY_TABLE = (
    "Experiment.setups = [('mlp', None), ('mlp', 'mlp')]",
    "Experiment.num_seeds = 1",
    "EPOCHS = 1",
    "MnistTask.train_size = 1024",
    "build_mlp.hidden_units = (32, 16)",
)


@pytest.fixture(autouse=True)
def clean_gin():
    yield
    gin.clear_config()


def test_paper_gin_plans_the_authors_recipe(tmp_path):
    gin_utils.parse_gin(["gin_configs/mnist_c/paper.gin"], [])
    experiment = plan.Experiment()
    runs = plan.plan_runs(experiment, str(tmp_path), None)
    assert experiment.num_seeds == 4 and len(runs) == 6 * 4
    for run in runs:
        files = [a.split("=", 1)[1] for a in run.command if a.startswith("--gin_file=")]
        recipe = "authors_alone.gin" if run.teacher is None else "authors_student.gin"
        assert files[-1].endswith(recipe), files


def _read_operative(run_dir):
    return open(os.path.join(run_dir, "operative_config.gin")).read()


def _binding(config_text, name):
    line = next(l for l in config_text.splitlines() if l.startswith(f"{name} = "))
    return ast.literal_eval(line.split(" = ", 1)[1])


@pytest.fixture(scope="module")
def tables(tmp_path_factory, data_dir):
    """The tiny table under each recipe, made by scripts/reproduce.py's main() (its
    runs are processes of their own, as a user's are)."""
    root = tmp_path_factory.mktemp("recipes")
    for recipe in ("paper", "modern"):
        done = run_script_in_process("reproduce.py", f"--gin_file=gin_configs/mnist_c/{recipe}.gin",
                          *[f"--gin_bindings={b}" for b in TINY_TABLE],
                          f"--workdir={root / recipe}", f"--data_dir={data_dir}")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return root


def test_paper_recipe_runs_as_the_authors_trained(tables):
    alone = str(tables / "paper" / "runs" / "mlp" / "seed_0")
    student = str(tables / "paper" / "runs" / "mlp_to_mlp" / "seed_0")
    alone_config, student_config = _read_operative(alone), _read_operative(student)
    assert _binding(alone_config, "make_optimizer.name") == "radam"
    assert _binding(alone_config, "make_optimizer.schedule") == "exponential"
    assert _binding(student_config, "make_optimizer.name") == "adam"
    assert _binding(student_config, "make_optimizer.first_decay_steps") == 200000
    for config in (alone_config, student_config):
        assert _binding(config, "make_optimizer.epsilon") == 1e-8
        assert _binding(config, "MnistTask.validation_size") == 0
    assert _binding(student_config, "Distiller.kd_loss") == "soft_cross_entropy"
    assert _binding(student_config, "Distiller.teacher_training") is True
    for run_dir in (alone, student):
        history = json.load(open(os.path.join(run_dir, "metrics.json")))["history"]
        assert history and not any(key.startswith("val_") for key in history)
    # A teacher in training mode changes every step: nothing was cached.
    assert not os.path.exists(os.path.join(alone, "logit_cache"))


def test_modern_recipe_caches_the_teacher_and_validates(tables):
    teacher = str(tables / "modern" / "runs" / "mlp" / "seed_0")
    student = str(tables / "modern" / "runs" / "mlp_to_mlp" / "seed_0")
    assert os.listdir(os.path.join(teacher, "logit_cache"))
    history = json.load(open(os.path.join(student, "metrics.json")))["history"]
    assert "val_distillation_loss" in history or "val_loss" in history
    assert _binding(_read_operative(student), "Distiller.kd_loss") == "kl"


@pytest.mark.parametrize("recipe", ["paper", "modern"])
def test_results_carry_both_ece_estimators(tables, recipe):
    results = json.load(open(tables / recipe / "results.json"))
    metrics = {(r["student"], r["teacher"], r["eval_set"], r["metric"]) for r in results["rows"]}
    for setup in (("mlp", None), ("mlp", "mlp")):
        for eval_set in ("mnist", "mnist_c/scale", "mnist_c/translate"):
            assert {(*setup, eval_set, "ece"), (*setup, eval_set, "ece_paper")} <= metrics


@pytest.mark.parametrize("recipe, words", [("paper", "Recipe: the authors'"),
                                           ("modern", "Recipe: modern")])
def test_results_md_says_which_recipe_made_the_table(tables, recipe, words):
    assert words in open(tables / recipe / "results.md").read()


def test_tables_carry_the_constant_guess(tables, data_dir, mnist_test):
    """Always answering the training set's most frequent class, by hand."""
    from tf_kdbias.data.mnist import load_mnist_idx

    majority = np.bincount(load_mnist_idx(data_dir, "train").labels).argmax()
    results = json.load(open(tables / "paper" / "results.json"))
    row = next(r for r in results["rows"] if (r["student"], r["eval_set"], r["metric"])
               == ("train_majority", "mnist", "accuracy"))
    assert row["mean"] == pytest.approx(np.mean(mnist_test.labels == majority))
    assert "| train_majority |" in open(tables / "paper" / "results.md").read()
